package console

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// maxSelectAll bounds "all leads that match the filter": the page collects
// their ids through the API's list, 500 at a time, before acting, and a
// person waiting on one form should not wait on more than this.
const maxSelectAll = 10_000

// maxSelectAllText is maxSelectAll as the page says it.
const maxSelectAllText = "10,000"

// maxPerLead bounds the actions the API takes one lead at a time (return,
// mark invalid): each lead is a request, and the API allows one person 50
// a second after a burst of 200 (USER_RATE_LIMIT's default), so 1,000
// leads keep the form's answer within about 20 seconds.
const (
	maxPerLead     = 1_000
	maxPerLeadText = "1,000"
)

// filterNames are the leads page's filter fields: each is the API list's
// own query parameter, passed on unchanged, so its refusal is the API's.
var filterNames = []string{"status", "source", "location", "assigned_to", "owner", "q"}

// option is one choice of a <select>.
type option struct{ Value, Label string }

// leadRow is one line of the leads table.
type leadRow struct {
	ID, Name, Status, Source, Location, Owner, Assigned string
	Received                                            time.Time
	Checked                                             bool
}

// hidden is a hidden field of a form.
type hidden struct{ Name, Value string }

// linkedOrg is an org the leads may move to, and how it is linked.
type linkedOrg struct{ ID, Name, Relation string }

// bulkResult is what a bulk action did when some of it was refused.
type bulkResult struct {
	Summary  string
	Refusals []string
	More     int // refusals not listed one by one
}

// leadsData is what leads.html shows.
type leadsData struct {
	Rows           []leadRow
	PageIDs        []string
	Next, First    string
	Filter         []hidden // the filter as hidden fields of the bulk form
	Statuses       []option
	Sources        []option
	Locations      []option
	Assignees      []option
	Owners         []option
	Users          []option // active users, for "assign to"
	Subs           []linkedOrg
	HandoverTo     []linkedOrg
	CanAssign      bool
	CanTransfer    bool
	CanHandover    bool
	CanReturn      bool
	CanInvalid     bool
	Key            string // the transfer's Idempotency-Key, one per rendered page
	MaxText        string // maxSelectAll as a person reads it
	MaxPerLeadText string
	Result         *bulkResult
	ScopeFilter    bool
	AllPage        bool
	CrossSiloNote  bool
}

// Any reports whether the role may use any bulk action.
func (d leadsData) Any() bool {
	return d.CanAssign || d.CanTransfer || d.CanHandover || d.CanReturn || d.CanInvalid
}

// leadsPage lists the org's leads through GET /v1/orgs/{org}/leads with the
// filter of its query.
func (c *Console) leadsPage(w http.ResponseWriter, r *http.Request, v *visit) {
	q := r.URL.Query()
	if n, err := strconv.Atoi(q.Get("n")); err == nil && n >= 0 {
		if f, ok := countedFlashes[q.Get("done")]; ok {
			v.Flash = fmt.Sprintf(f, n, plural(n))
		}
	}
	c.showLeads(w, r, v, http.StatusOK, view{Form: q}, nil, nil)
}

// countedFlashes say how many leads a bulk action changed; the count is
// the only thing a link adds to the fixed text.
var countedFlashes = map[string]string{
	"bulk-assigned": "%d lead%s assigned.",
	"bulk-returned": "%d lead%s returned to their vendor.",
	"bulk-invalid":  "%d lead%s marked invalid.",
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// filterOf is the filter fields of a query or form, as sent.
func filterOf(form url.Values) url.Values {
	f := url.Values{}
	for _, n := range filterNames {
		if v := form.Get(n); v != "" {
			f.Set(n, v)
		}
	}
	return f
}

// leadsPath is the API's list path for a filter.
func leadsPath(v *visit, f url.Values) string {
	return "/v1/orgs/" + v.Session.User.OrgID + "/leads?" + f.Encode()
}

// showLeads renders the leads page for vw.Form's filter (and cursor) with
// status; vw carries a refusal to show, res a bulk action's outcome and
// checked the leads to keep ticked.
func (c *Console) showLeads(w http.ResponseWriter, r *http.Request, v *visit, status int, vw view, res *bulkResult, checked map[string]bool) {
	form := url.Values(vw.Form)
	filter := filterOf(form)
	q := url.Values{}
	for k, vs := range filter {
		q[k] = vs
	}
	if cur := form.Get("cursor"); cur != "" {
		q.Set("cursor", cur)
	}
	var list struct {
		Leads []store.Lead `json:"leads"`
		Next  string       `json:"next_cursor"`
	}
	vw.Title, vw.V = "Leads", v
	if _, err := c.call(r, v, "GET", leadsPath(v, q), nil, &list); err != nil {
		st, msg, fields, ok := refused(err)
		if !ok || st == http.StatusNotFound {
			c.failed(w, r, v, err)
			return
		}
		// The filter was refused: each parameter's reason goes next to
		// its field; the list stays empty.
		status = st
		if vw.Fields == nil {
			vw.Fields = map[string]string{}
		}
		for k, reason := range fields {
			vw.Fields[k] = reason
		}
		if vw.Problem == "" {
			vw.Problem = "The filter was refused (" + msg + "): see the fields marked below."
			if reason, bad := fields["cursor"]; bad {
				vw.Problem = "This page of results cannot be shown: the cursor is " + reason + ". Go back to the first page."
			}
		}
	}
	d, err := c.leadsData(r, v, form)
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	d.Result = res
	users := map[string]string{}
	for _, u := range d.Assignees {
		users[u.Value] = u.Label
	}
	for _, l := range list.Leads {
		row := leadRow{ID: l.ID, Name: leadName(l), Status: l.Status, Source: l.Source, Received: l.ReceivedAt, Checked: checked[l.ID]}
		if l.Location != nil {
			row.Location = *l.Location
		}
		if l.Owner.Type == "user" {
			row.Owner = nameOr(users, l.Owner.ID)
		} else {
			row.Owner = "the team"
		}
		if l.AssignedTo != nil {
			row.Assigned = nameOr(users, *l.AssignedTo)
		}
		d.Rows = append(d.Rows, row)
		d.PageIDs = append(d.PageIDs, l.ID)
	}
	if list.Next != "" {
		nq := url.Values{}
		for k, vs := range filter {
			nq[k] = vs
		}
		nq.Set("cursor", list.Next)
		d.Next = "/app/leads?" + nq.Encode()
	}
	if form.Get("cursor") != "" {
		d.First = "/app/leads?" + filter.Encode()
	}
	vw.Data = d
	c.render(w, r, status, "leads", vw)
}

func nameOr(names map[string]string, id string) string {
	if n, ok := names[id]; ok {
		return n
	}
	return "a former user"
}

// leadName is how a person recognises a lead in a list.
func leadName(l store.Lead) string {
	if n := strings.TrimSpace(l.FirstName + " " + l.LastName); n != "" {
		return n
	}
	if l.Email != "" {
		return l.Email
	}
	if l.Phone != "" {
		return l.Phone
	}
	return "lead " + l.ExternalID
}

// leadsData reads what the filter and the bulk actions offer: the org's
// sources and users, and the orgs its leads may move to. The buttons shown
// follow the API's rules for the role (docs/decisions.md, transfers), but
// the API decides each request.
func (c *Console) leadsData(r *http.Request, v *visit, form url.Values) (leadsData, error) {
	role := domain.Role(v.Role())
	d := leadsData{
		CanAssign:      role.AssignsLeads(),
		CanTransfer:    role.AssignsLeads(),
		CanHandover:    role.Licensed(),
		CanReturn:      role.AssignsLeads(),
		CanInvalid:     true,
		Key:            domain.NewID(),
		MaxText:        maxSelectAllText,
		MaxPerLeadText: maxPerLeadText,
		ScopeFilter:    form.Get("scope") == "filter",
		AllPage:        form.Get("all_page") == "1",
	}
	for _, n := range filterNames {
		if val := form.Get(n); val != "" {
			d.Filter = append(d.Filter, hidden{n, val})
		}
	}
	for _, s := range domain.LeadStatuses {
		d.Statuses = append(d.Statuses, option{s, s})
	}
	d.Locations = []option{{"pending", "pending (waiting to be routed to someone)"}, {"queue", "queue (waiting to be claimed)"}}

	sources, err := c.listSources(r, v)
	if err != nil {
		return d, err
	}
	for _, s := range sources {
		d.Sources = append(d.Sources, option{s.Slug, s.Name + " (" + s.Slug + ")"})
	}
	ppl, err := c.users(r, v)
	if err != nil {
		return d, err
	}
	d.Owners = []option{{"team", "the team (team-owned)"}}
	for _, u := range ppl.all {
		label := u.Name
		if !u.Active {
			label += " (inactive)"
		}
		d.Assignees = append(d.Assignees, option{u.ID, label})
		d.Owners = append(d.Owners, option{u.ID, label})
		if u.Active {
			d.Users = append(d.Users, option{u.ID, u.Name + " (" + string(u.Role) + ")"})
		}
	}
	// A value typed into the URL that is not among the choices is still
	// shown (and sent): the API says what is wrong with it.
	d.Statuses = withCurrent(d.Statuses, form.Get("status"))
	d.Sources = withCurrent(d.Sources, form.Get("source"))
	d.Locations = withCurrent(d.Locations, form.Get("location"))
	d.Assignees = withCurrent(d.Assignees, form.Get("assigned_to"))
	d.Owners = withCurrent(d.Owners, form.Get("owner"))

	if d.CanTransfer || d.CanHandover {
		self, err := c.org(r, v)
		if err != nil {
			return d, err
		}
		subs, err := c.subAgencies(r, v)
		if err != nil {
			return d, err
		}
		for _, s := range subs {
			d.Subs = append(d.Subs, linkedOrg{s.ID, s.Name, "sub-agency"})
		}
		if self.ParentID != nil {
			// Only the parent's name is read: a sub-agency's member may
			// not open its master through the API, but sends to it.
			name := "the master org"
			if n, err := c.orgName(r, *self.ParentID); err == nil {
				name = n
			}
			d.HandoverTo = append(d.HandoverTo, linkedOrg{*self.ParentID, name, "master"})
			d.CrossSiloNote = true
		}
		d.HandoverTo = append(d.HandoverTo, d.Subs...)
	}
	return d, nil
}

func withCurrent(opts []option, cur string) []option {
	if cur == "" {
		return opts
	}
	for _, o := range opts {
		if o.Value == cur {
			return opts
		}
	}
	return append(opts, option{cur, cur})
}

// bulk applies one action to many leads: the ones ticked, all on the page,
// or all that match the filter. Each goes through the API as the signed-in
// user; what the API refuses is said per lead, by name.
func (c *Console) bulk(w http.ResponseWriter, r *http.Request, v *visit) {
	form := r.PostForm
	again := func(status int, problem string, fields map[string]string, res *bulkResult) {
		checked := map[string]bool{}
		for _, id := range form["lead_id"] {
			checked[id] = true
		}
		c.showLeads(w, r, v, status, view{Form: form, Problem: problem, Fields: fields}, res, checked)
	}
	ids, err := c.selection(r, v, form)
	if err != nil {
		st, msg, fields, ok := refused(err)
		if !ok {
			c.failed(w, r, v, err)
			return
		}
		again(st, msg, fields, nil)
		return
	}
	action := form.Get("action")
	if (action == "return" || action == "invalid") && len(ids) > maxPerLead {
		again(http.StatusUnprocessableEntity, fmt.Sprintf("%d leads chosen: returning or marking invalid takes at most %s at a time, since each lead is its own request. Narrow the filter and act on each part.",
			len(ids), maxPerLeadText), map[string]string{"scope": "at most " + maxPerLeadText + " leads for return and mark invalid"}, nil)
		return
	}
	switch action {
	case "assign":
		c.bulkAssign(w, r, v, ids, again)
	case "transfer", "handover":
		c.bulkTransfer(w, r, v, action, ids, again)
	case "return":
		body := map[string]any{"reason": form.Get("return_reason")}
		if cm := form.Get("return_comments"); cm != "" {
			body["comments"] = cm
		}
		c.perLead(w, r, v, ids, "return", body, "returned", "bulk-returned",
			map[string]string{"reason": "return_reason", "comments": "return_comments"}, again)
	case "invalid":
		c.perLead(w, r, v, ids, "invalid", map[string]any{"reason": form.Get("invalid_reason")}, "marked invalid", "bulk-invalid",
			map[string]string{"reason": "invalid_reason"}, again)
	default:
		again(http.StatusUnprocessableEntity, "Choose an action: press one of the action buttons.", nil, nil)
	}
}

// selection is the lead ids a bulk form names: all that match its filter
// (scope=filter), all of its page (all_page), or the ones ticked.
func (c *Console) selection(r *http.Request, v *visit, form url.Values) ([]string, error) {
	var ids []string
	switch {
	case form.Get("scope") == "filter":
		q := filterOf(form)
		q.Set("limit", "500")
		for {
			var list struct {
				Leads []store.Lead `json:"leads"`
				Next  string       `json:"next_cursor"`
			}
			if _, err := c.call(r, v, "GET", leadsPath(v, q), nil, &list); err != nil {
				return nil, err
			}
			for _, l := range list.Leads {
				ids = append(ids, l.ID)
			}
			if len(ids) > maxSelectAll {
				return nil, &apiError{Status: http.StatusUnprocessableEntity, Message: fmt.Sprintf(
					"More than %s leads match the filter: one action takes at most %s. Narrow the filter (a status, a source, an owner) and act on each part.",
					maxSelectAllText, maxSelectAllText), Fields: map[string]string{"scope": "more than " + maxSelectAllText + " leads match"}}
			}
			if list.Next == "" {
				break
			}
			q.Set("cursor", list.Next)
		}
		if len(ids) == 0 {
			return nil, &apiError{Status: http.StatusUnprocessableEntity, Message: "No lead matches the filter: nothing was done.",
				Fields: map[string]string{"scope": "no lead matches the filter"}}
		}
	case form.Get("all_page") == "1":
		ids = form["page_id"]
	default:
		ids = form["lead_id"]
	}
	if len(ids) == 0 {
		return nil, &apiError{Status: http.StatusUnprocessableEntity, Message: "No lead was chosen: nothing was done.",
			Fields: map[string]string{"lead_id": "tick at least one lead, or choose all on this page or all that match the filter"}}
	}
	return ids, nil
}

// backToLeads is the leads page with the bulk form's filter and a message.
func backToLeads(form url.Values, done string, n int) string {
	q := filterOf(form)
	q.Set("done", done)
	q.Set("n", strconv.Itoa(n))
	return "/app/leads?" + q.Encode()
}

// bulkAssign assigns through POST /v1/orgs/{org}/leads/assign, which takes
// up to store.MaxBulkAssign leads, all or none, per call.
func (c *Console) bulkAssign(w http.ResponseWriter, r *http.Request, v *visit, ids []string, again func(int, string, map[string]string, *bulkResult)) {
	to := r.PostForm.Get("assign_to")
	done := 0
	for start := 0; start < len(ids); start += store.MaxBulkAssign {
		chunk := ids[start:min(start+store.MaxBulkAssign, len(ids))]
		var out struct {
			Changed int `json:"changed"`
		}
		_, err := c.call(r, v, "POST", "/v1/orgs/"+v.Session.User.OrgID+"/leads/assign",
			map[string]any{"user_id": to, "lead_ids": chunk}, &out)
		if err != nil {
			st, msg, fields, ok := refused(err)
			if !ok {
				c.failed(w, r, v, err)
				return
			}
			res := c.leadRefusals(r, v, chunk, fields)
			res.Summary = fmt.Sprintf("Not assigned: %s.", msg)
			if done > 0 {
				res.Summary = fmt.Sprintf("%d assigned, then the next %d refused: %s.", done, len(chunk), msg)
			}
			again(st, "", renamed(fields, map[string]string{"user_id": "assign_to"}), res)
			return
		}
		done += len(chunk)
	}
	http.Redirect(w, r, backToLeads(r.PostForm, "bulk-assigned", done), http.StatusSeeOther)
}

// bulkTransfer starts one transfer (or handover) of the leads through
// POST /v1/orgs/{org}/transfers. The page's Idempotency-Key makes a
// double submit find the first transfer instead of starting a second.
func (c *Console) bulkTransfer(w http.ResponseWriter, r *http.Request, v *visit, action string, ids []string, again func(int, string, map[string]string, *bulkResult)) {
	f := r.PostForm
	to, mode, toField := f.Get("transfer_to"), f.Get("mode"), "transfer_to"
	if action == "handover" {
		to, mode, toField = f.Get("handover_to"), string(domain.TransferManagerReview), "handover_to"
	}
	var out struct {
		ID string `json:"id"`
	}
	_, err := c.call(r, v, "POST", "/v1/orgs/"+v.Session.User.OrgID+"/transfers",
		map[string]any{"to_org": to, "lead_ids": ids, "mode": mode}, &out, "Idempotency-Key", f.Get("key"))
	if err != nil {
		st, msg, fields, ok := refused(err)
		if !ok {
			c.failed(w, r, v, err)
			return
		}
		res := c.leadRefusals(r, v, ids, fields)
		res.Summary = "Nothing was moved: " + msg + "."
		modeField := "mode"
		if action == "handover" {
			modeField = "handover_to"
		}
		again(st, "", renamed(fields, map[string]string{"to_org": toField, "mode": modeField,
			"Idempotency-Key": toField}), res)
		return
	}
	http.Redirect(w, r, "/app/transfers/"+url.PathEscape(out.ID), http.StatusSeeOther)
}

// perLead calls POST /v1/leads/{id}/{verb} for each lead. A refusal of the
// form's own fields (the reason) is the same for every lead, so it stops
// at the first and is shown next to its field; any other refusal is the
// lead's own and is listed with its name.
func (c *Console) perLead(w http.ResponseWriter, r *http.Request, v *visit, ids []string, verb string, body map[string]any,
	did, flash string, fieldNames map[string]string, again func(int, string, map[string]string, *bulkResult)) {
	done, firstStatus := 0, 0
	refusedIDs, reasons := []string{}, []string{}
	for _, id := range ids {
		err := c.paced(r, func() error {
			_, err := c.call(r, v, "POST", "/v1/leads/"+url.PathEscape(id)+"/"+verb, body, nil)
			return err
		})
		if err == nil {
			done++
			continue
		}
		st, msg, fields, ok := refused(err)
		if !ok {
			c.failed(w, r, v, err)
			return
		}
		if formFields := renamed(fields, fieldNames); done == 0 && len(refusedIDs) == 0 && hasAny(fields, fieldNames) {
			again(st, "Nothing was done: "+msg+".", formFields, nil)
			return
		}
		if firstStatus == 0 {
			firstStatus = st
		}
		for _, reason := range fields {
			msg += ": " + reason
			break
		}
		refusedIDs, reasons = append(refusedIDs, id), append(reasons, msg)
	}
	if len(refusedIDs) == 0 {
		http.Redirect(w, r, backToLeads(r.PostForm, flash, done), http.StatusSeeOther)
		return
	}
	res := &bulkResult{Summary: fmt.Sprintf("%d %s, %d refused:", done, did, len(refusedIDs))}
	// Only the leads listed by name are read: one API read each.
	names := c.leadNames(r, v, refusedIDs[:min(len(refusedIDs), maxListed)])
	for i, id := range refusedIDs {
		if i == maxListed {
			res.More = len(refusedIDs) - maxListed
			break
		}
		res.Refusals = append(res.Refusals, names[id]+": "+reasons[i])
	}
	status := http.StatusOK
	if done == 0 {
		status = firstStatus
	}
	again(status, "", nil, res)
}

// paced runs one call of a lead-by-lead action, waiting while the API
// says the person asks too fast (429): the action keeps to the API's pace
// instead of refusing the leads past the burst. It gives up after about
// five seconds on one lead, or when the request ends.
func (c *Console) paced(r *http.Request, call func() error) error {
	for try := 0; ; try++ {
		err := call()
		ae, ok := err.(*apiError)
		if !ok || ae.Status != http.StatusTooManyRequests || try == 200 {
			return err
		}
		select {
		case <-r.Context().Done():
			return err
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// maxListed is how many refused leads a result lists by name.
const maxListed = 50

func hasAny(fields, names map[string]string) bool {
	for k := range fields {
		if _, ok := names[k]; ok {
			return true
		}
	}
	return false
}

// renamed gives the API's field names the form's: the API's "user_id" is
// the form's "assign_to". Other fields keep their names.
func renamed(fields, names map[string]string) map[string]string {
	out := map[string]string{}
	for k, reason := range fields {
		if n, ok := names[k]; ok {
			k = n
		}
		out[k] = reason
	}
	return out
}

// leadRefusals lists the API's refusals of single leads (lead_ids[i]) by
// the leads' names.
func (c *Console) leadRefusals(r *http.Request, v *visit, ids []string, fields map[string]string) *bulkResult {
	res := &bulkResult{}
	type one struct {
		i      int
		reason string
	}
	var found []one
	for k, reason := range fields {
		rest, ok := strings.CutPrefix(k, "lead_ids[")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(strings.TrimSuffix(rest, "]"))
		if err != nil || i < 0 || i >= len(ids) {
			continue
		}
		found = append(found, one{i, reason})
	}
	sort.Slice(found, func(a, b int) bool { return found[a].i < found[b].i })
	var named []string
	for _, f := range found {
		named = append(named, ids[f.i])
	}
	if len(named) > maxListed {
		named = named[:maxListed]
	}
	names := c.leadNames(r, v, named)
	for n, f := range found {
		if n == maxListed {
			res.More = len(found) - maxListed
			break
		}
		res.Refusals = append(res.Refusals, names[ids[f.i]]+": "+f.reason)
	}
	return res
}

// leadNames names leads as the signed-in user sees them: a lead the API
// does not show them (another org's) is named by the id they sent.
func (c *Console) leadNames(r *http.Request, v *visit, ids []string) map[string]string {
	out := map[string]string{}
	for _, id := range ids {
		if _, ok := out[id]; ok {
			continue
		}
		var l store.Lead
		if _, err := c.call(r, v, "GET", "/v1/leads/"+url.PathEscape(id), nil, &l); err == nil {
			out[id] = leadName(l)
		} else {
			out[id] = "lead " + id
		}
	}
	return out
}
