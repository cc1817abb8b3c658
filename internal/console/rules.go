package console

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/internal/api"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// A source's routing rules on its page (SPEC §5.6, docs/routing.md): the
// ordered rules before the default, when nobody is available, the vendor's
// daily cap; beside them a route preview and the fairness report. Adding,
// removing and moving rules are plain submit buttons that send the whole
// list back and get it re-rendered, so the editor needs no script; only
// "Save the rules" PUTs the source, keeping every other field as saved.

// sourceOut is a source as GET …/sources lists it, rules included.
type sourceOut struct {
	store.Source
	Rules          []domain.Rule `json:"rules"`
	WhenNobody     string        `json:"when_nobody"`
	VendorDailyCap *int          `json:"vendor_daily_cap"`
}

// configOf is the PUT body that saves s as it is: a section of the page
// changes its own fields of it and nothing else.
func configOf(s sourceOut) domain.SourceConfig {
	var window string
	if s.ReturnWindow != nil {
		window = *s.ReturnWindow
	}
	return domain.SourceConfig{Name: s.Name, Routing: s.Routing, ForceLocation: s.ForceLocation, Priority: s.Priority,
		PurchaseNotificationEmails: s.PurchaseNotificationEmails, ReturnNotificationEmails: s.ReturnNotificationEmails,
		IncludeCommentsOnReturn: s.IncludeCommentsOnReturn, ReturnTemplate: s.ReturnTemplate,
		Rules: s.Rules, WhenNobody: s.WhenNobody, VendorDailyCap: s.VendorDailyCap,
		ReturnWindow: window, ReturnReasons: s.ReturnReasons, SLA: s.SLA}
}

// ruleForm is one rule as its fields show it: lists are comma-separated,
// attributes one "name=value, value" a line.
type ruleForm struct {
	Name, State, PostalCode, City, Attributes, Rating, Priority, Label, Kind, Days, From, To string
	Mode, Group, User, QueueDelay                                                            string
}

// rulesForm is the rules editor as saved or as posted.
type rulesForm struct {
	Rules          []ruleForm
	WhenNobody     string
	VendorDailyCap string
	Moved          bool // the list was changed by a button and is not saved yet
}

// ruleModes are the modes a rule may route by (sub-agencies are the
// default's only, through the form above).
var ruleModes = []struct{ Value, Label string }{
	{string(domain.RouteStaffEvenly), "Evenly among staff"},
	{string(domain.RouteGroup), "A group (weighted rotation)"},
	{string(domain.RouteUser), "One user"},
	{string(domain.RouteOwner), "The owner"},
	{string(domain.RoutePending), "Pending"},
	{string(domain.RouteQueue), "Queue"},
}

// whenNobodyChoices say what each when_nobody value does.
var whenNobodyChoices = []struct{ Value, Label string }{
	{domain.NobodyOwner, "Give the lead to the owner"},
	{domain.NobodyNextRule, "Try the following rules (the default's next is the owner)"},
	{domain.NobodyPending, "Leave it pending for a manager"},
	{domain.NobodyQueue, "Put it in the queue"},
}

func commaList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func rulesFormOf(s sourceOut) rulesForm {
	f := rulesForm{WhenNobody: s.WhenNobody}
	if f.WhenNobody == "" {
		f.WhenNobody = domain.NobodyOwner
	}
	if s.VendorDailyCap != nil {
		f.VendorDailyCap = strconv.Itoa(*s.VendorDailyCap)
	}
	for _, r := range s.Rules {
		w := r.When
		var attrs []string
		names := make([]string, 0, len(w.Attributes))
		for n := range w.Attributes {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			attrs = append(attrs, n+"="+strings.Join(w.Attributes[n], ", "))
		}
		f.Rules = append(f.Rules, ruleForm{Name: r.Name, State: strings.Join(w.State, ", "),
			PostalCode: strings.Join(w.PostalCode, ", "), City: strings.Join(w.City, ", "), Attributes: strings.Join(attrs, "\n"),
			Rating: strings.Join(w.Rating, ", "), Priority: strings.Join(w.Priority, ", "), Label: strings.Join(w.Label, ", "),
			Kind: strings.Join(w.Kind, ", "), Days: strings.Join(w.Days, ", "), From: w.From, To: w.To,
			Mode: string(r.Routing.Mode), Group: r.Routing.Group, User: r.Routing.User, QueueDelay: r.Routing.QueueDelay})
	}
	return f
}

// postedRules reads the rules editor of r: rules_count rules, each field
// named r<i>.<field>.
func postedRules(r *http.Request) rulesForm {
	p := r.PostForm
	f := rulesForm{WhenNobody: p.Get("when_nobody"), VendorDailyCap: strings.TrimSpace(p.Get("vendor_daily_cap"))}
	n, _ := strconv.Atoi(p.Get("rules_count"))
	n = min(max(n, 0), domain.MaxRules-1)
	for i := range n {
		g := func(k string) string { return strings.TrimSpace(p.Get(fmt.Sprintf("r%d.%s", i, k))) }
		f.Rules = append(f.Rules, ruleForm{Name: g("name"), State: g("state"), PostalCode: g("postal_code"), City: g("city"),
			Attributes: strings.ReplaceAll(g("attributes"), "\r\n", "\n"), Rating: g("rating"), Priority: g("priority"),
			Label: g("label"), Kind: g("kind"), Days: g("days"), From: g("from"), To: g("to"),
			Mode: g("mode"), Group: g("group"), User: g("user"), QueueDelay: g("queue_delay")})
	}
	return f
}

// rules is the API's form of the editor's rules; bad is a field the
// console itself cannot read (an attribute line without "=").
func (f rulesForm) rules() (out []domain.Rule, bad map[string]string) {
	out = []domain.Rule{}
	for i, rf := range f.Rules {
		w := domain.Condition{State: commaList(rf.State), PostalCode: commaList(rf.PostalCode), City: commaList(rf.City),
			Rating: commaList(rf.Rating), Priority: commaList(rf.Priority), Label: commaList(rf.Label), Kind: commaList(rf.Kind),
			Days: commaList(rf.Days), From: rf.From, To: rf.To}
		for _, l := range lines(rf.Attributes) {
			name, vals, ok := strings.Cut(l, "=")
			if !ok || strings.TrimSpace(name) == "" {
				if bad == nil {
					bad = map[string]string{}
				}
				bad[fmt.Sprintf("rules[%d].when.attributes", i)] = "one attribute a line, as name=value, value"
				continue
			}
			if w.Attributes == nil {
				w.Attributes = map[string][]string{}
			}
			w.Attributes[strings.TrimSpace(name)] = commaList(vals)
		}
		rt := domain.Routing{Mode: domain.RoutingMode(rf.Mode), QueueDelay: rf.QueueDelay}
		switch rt.Mode {
		case domain.RouteGroup:
			rt.Group = rf.Group
		case domain.RouteUser:
			rt.User = rf.User
		}
		out = append(out, domain.Rule{Name: rf.Name, When: w, Routing: rt})
	}
	return out, bad
}

// apply carries out a list button: add, remove:i, up:i, down:i. It
// reports whether op was one (else the form is to be saved).
func (f *rulesForm) apply(op string) bool {
	verb, arg, _ := strings.Cut(op, ":")
	i, err := strconv.Atoi(arg)
	inRange := err == nil && i >= 0 && i < len(f.Rules)
	switch {
	case verb == "add" && len(f.Rules) < domain.MaxRules-1:
		f.Rules = append(f.Rules, ruleForm{Mode: string(domain.RouteStaffEvenly)})
	case verb == "remove" && inRange:
		f.Rules = slices.Delete(f.Rules, i, i+1)
	case verb == "up" && inRange && i > 0:
		f.Rules[i-1], f.Rules[i] = f.Rules[i], f.Rules[i-1]
	case verb == "down" && inRange && i+1 < len(f.Rules):
		f.Rules[i+1], f.Rules[i] = f.Rules[i], f.Rules[i+1]
	case verb == "add" || verb == "remove" || verb == "up" || verb == "down":
	default:
		return false
	}
	f.Moved = true
	return true
}

// saveRules is the rules editor's POST: a list button re-renders the list
// changed; Save PUTs the source with these rules and everything else as
// saved.
func (c *Console) saveRules(w http.ResponseWriter, r *http.Request, v *visit) {
	src, ok, err := c.findSource(r, v, r.PathValue("slug"))
	if err != nil || !ok {
		c.missingSource(w, r, v, err)
		return
	}
	d := sourcePageData{Form: formOf(src.Source), Source: src, Rules: postedRules(r)}
	if d.Rules.apply(r.PostFormValue("op")) {
		c.renderSource(w, r, v, http.StatusOK, d, "", nil)
		return
	}
	cfg := configOf(src)
	var bad map[string]string
	cfg.Rules, bad = d.Rules.rules()
	cfg.WhenNobody = d.Rules.WhenNobody
	cfg.VendorDailyCap = nil
	if d.Rules.VendorDailyCap != "" {
		n, err := strconv.Atoi(d.Rules.VendorDailyCap)
		if err != nil {
			if bad == nil {
				bad = map[string]string{}
			}
			bad["vendor_daily_cap"] = "a whole number of leads a day, or blank for no cap"
		}
		cfg.VendorDailyCap = &n
	}
	if len(bad) > 0 {
		c.renderSource(w, r, v, http.StatusUnprocessableEntity, d, "The rules were not saved: see the fields marked below.", bad)
		return
	}
	if _, err := c.call(r, v, "PUT", sourcePath(v, "/"+url.PathEscape(src.Slug)), cfg, nil); err != nil {
		st, msg, fields, ok := refused(err)
		if !ok {
			c.failed(w, r, v, err)
			return
		}
		if len(fields) > 0 {
			msg = "The rules were not saved: see the fields marked below."
		}
		c.renderSource(w, r, v, st, d, msg, fields)
		return
	}
	http.Redirect(w, r, "/app/sources/"+url.PathEscape(src.Slug)+"?done=rules-saved#rules", http.StatusSeeOther)
}

// missingSource answers a source route whose source could not be read.
func (c *Console) missingSource(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	c.notFound(w, r, v)
}

// previewForm is the route preview's lead, as typed.
type previewForm struct {
	State, PostalCode, City, Rating, Labels, Kind, Email, Phone, At string
}

// routeResult is the API's preview with the names of those it skipped.
type routeResult struct {
	store.RoutePreview
	Skips []skipShown
}

type skipShown struct{ Name, Reason string }

// routePreview runs the source's rules on the typed lead (POST
// …/route-preview): nothing is assigned and no rotation moves.
func (c *Console) routePreview(w http.ResponseWriter, r *http.Request, v *visit) {
	src, ok, err := c.findSource(r, v, r.PathValue("slug"))
	if err != nil || !ok {
		c.missingSource(w, r, v, err)
		return
	}
	p := r.PostForm
	pf := previewForm{State: p.Get("p_state"), PostalCode: p.Get("p_postal_code"), City: p.Get("p_city"), Rating: p.Get("p_rating"),
		Labels: p.Get("p_labels"), Kind: p.Get("p_kind"), Email: p.Get("p_email"), Phone: p.Get("p_phone"), At: p.Get("p_at")}
	d := sourcePageData{Form: formOf(src.Source), Source: src, Rules: rulesFormOf(src), Try: pf}
	in := map[string]any{"first_name": "Preview", "email": pf.Email, "phone": pf.Phone, "rating": pf.Rating, "kind": pf.Kind,
		"labels": commaList(pf.Labels), "address": domain.Address{State: pf.State, PostalCode: pf.PostalCode, City: pf.City}}
	if pf.At != "" {
		org, err := c.org(r, v)
		if err != nil {
			c.failed(w, r, v, err)
			return
		}
		at, err := time.ParseInLocation("2006-01-02T15:04", pf.At, domain.OrgLocation(org.Timezone))
		if err != nil {
			c.renderSource(w, r, v, http.StatusUnprocessableEntity, d, "The preview was not run: see the fields marked below.",
				map[string]string{"at": "a date and time, such as 2026-12-07T10:30"})
			return
		}
		in["at"] = at.Format(time.RFC3339)
	}
	var res routeResult
	if _, err := c.call(r, v, "POST", sourcePath(v, "/"+url.PathEscape(src.Slug)+"/route-preview"), in, &res.RoutePreview); err != nil {
		st, msg, fields, ok := refused(err)
		if !ok {
			c.failed(w, r, v, err)
			return
		}
		// The lead's address fields are the preview's own inputs.
		shown := map[string]string{}
		for k, f := range fields {
			shown[strings.TrimPrefix(k, "address.")] = f
		}
		c.renderSource(w, r, v, st, d, "The preview was not run: "+msg, shown)
		return
	}
	users, _ := c.orgUsers(r, v)
	for _, s := range res.Skipped {
		res.Skips = append(res.Skips, skipShown{Name: userName(users, s.UserID), Reason: skipReasons[s.Reason]})
	}
	d.Result = &res
	c.renderSource(w, r, v, http.StatusOK, d, "", nil)
}

// skipReasons say why a rotation passed someone by, as a person reads it.
var skipReasons = map[string]string{
	domain.SkipPaused: "paused", domain.SkipOutOfHours: "out of working hours", domain.SkipDailyCap: "at the daily cap",
	domain.SkipOpenCap: "at the open-leads cap", domain.SkipInactive: "inactive",
}

// SkipReason is a skip reason as the fairness table heads it.
func (d sourcePageData) SkipReason(k string) string {
	if s, ok := skipReasons[k]; ok {
		return s
	}
	return k
}

// periods are the fairness report's choices.
var periods = []struct{ Value, Label string }{{"today", "Today"}, {"7d", "Last 7 days"}, {"30d", "Last 30 days"}}

// fairness reads the source's fairness report for period (GET …/fairness):
// today is since the org's midnight.
func (c *Console) fairness(r *http.Request, v *visit, slug, period string) (*store.FairnessReport, error) {
	// The API takes whole seconds: to is rounded up so a decision of this
	// very second is in the report.
	to := time.Now().UTC().Truncate(time.Second).Add(time.Second)
	from := to.Add(-7 * 24 * time.Hour)
	switch period {
	case "30d":
		from = to.Add(-30 * 24 * time.Hour)
	case "today":
		org, err := c.org(r, v)
		if err != nil {
			return nil, err
		}
		now := to.In(domain.OrgLocation(org.Timezone))
		from = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location()).UTC()
	}
	var rep store.FairnessReport
	q := url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}
	if _, err := c.call(r, v, "GET", sourcePath(v, "/"+url.PathEscape(slug)+"/fairness?"+q.Encode()), nil, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// SkipKinds are the skip reasons the report names, in a stable order.
func (d sourcePageData) SkipKinds() []string {
	seen := map[string]bool{}
	var out []string
	if d.Fairness != nil {
		for _, p := range d.Fairness.Pools {
			for _, m := range p.Members {
				for k := range m.Skips {
					if !seen[k] {
						seen[k] = true
						out = append(out, k)
					}
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// Percent is a share as a person reads it.
func (d sourcePageData) Percent(f float64) string {
	return strconv.FormatFloat(f*100, 'f', 1, 64) + "%"
}

// Round is an expected count to one decimal.
func (d sourcePageData) Round(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// RuleModes, WhenNobodyChoices and Periods are the editor's choices.
func (d sourcePageData) RuleModes() any         { return ruleModes }
func (d sourcePageData) WhenNobodyChoices() any { return whenNobodyChoices }
func (d sourcePageData) Periods() any           { return periods }

// orgUsers lists the org's users through the API (GET …/users).
func (c *Console) orgUsers(r *http.Request, v *visit) ([]userOut, error) {
	var out struct {
		Users []userOut `json:"users"`
	}
	_, err := c.call(r, v, "GET", "/v1/orgs/"+v.Session.User.OrgID+"/users", nil, &out)
	return out.Users, err
}

func userName(users []userOut, id string) string {
	for _, u := range users {
		if u.ID == id {
			return u.Name
		}
	}
	return id
}

// userOut is a user as the API shows it, availability included.
type userOut struct {
	api.UserOut
	Paused        bool                 `json:"paused"`
	PausedUntil   *time.Time           `json:"paused_until"`
	WorkingHours  []domain.WorkingSpan `json:"working_hours"`
	DailyCap      *int                 `json:"daily_cap"`
	OpenCap       *int                 `json:"open_cap"`
	InstantAlerts bool                 `json:"instant_alerts"`
}

// condField is one condition field of a rule on the form.
type condField struct{ Key, Label, Hint string }

var conditionFields = []condField{
	{"state", "State", "TX, OK"},
	{"postal_code", "Postal code or prefix", "78701, 787*"},
	{"city", "City", "Austin, Dallas"},
	{"attributes", "Attributes (one a line)", "product=auto, home"},
	{"rating", "Rating", "hot, warm"},
	{"priority", "Priority", "high, urgent"},
	{"label", "Label", "spanish"},
	{"kind", "Kind", "lead, team_member"},
	{"days", "Days of arrival", "mon, tue, wed, thu, fri"},
	{"from", "Arriving from (HH:MM, the org's time)", "09:00"},
	{"to", "Arriving before (HH:MM)", "17:00"},
}

// ConditionFields are a rule's condition inputs, in the form's order.
func (d sourcePageData) ConditionFields() []condField { return conditionFields }

// Get is a rule's condition field by its key.
func (f ruleForm) Get(key string) string {
	return map[string]string{"state": f.State, "postal_code": f.PostalCode, "city": f.City, "attributes": f.Attributes,
		"rating": f.Rating, "priority": f.Priority, "label": f.Label, "kind": f.Kind, "days": f.Days, "from": f.From, "to": f.To}[key]
}

// RuleSummary is a rule in one line, for those who read but do not edit.
func (d sourcePageData) RuleSummary(r ruleForm) string {
	var parts []string
	for _, c := range conditionFields {
		if v := r.Get(c.Key); v != "" {
			parts = append(parts, strings.ToLower(c.Key)+" "+strings.ReplaceAll(v, "\n", "; "))
		}
	}
	to := d.ModeName(r.Mode)
	if r.Group != "" {
		to += " " + r.Group
	}
	if r.User != "" {
		to += " " + d.UserName(r.User)
	}
	return "when " + strings.Join(parts, ", ") + " → " + to
}

// UserName is a user of the org by id, for the pickers' summaries.
func (d sourcePageData) UserName(id string) string { return userName(d.Users, id) }

// previewField is one input of the route preview.
type previewField struct{ Key, Label, Type string }

var previewFields = []previewField{
	{"state", "State", "text"}, {"postal_code", "Postal code", "text"}, {"city", "City", "text"},
	{"rating", "Rating", "text"}, {"labels", "Labels (comma-separated)", "text"}, {"kind", "Kind (lead or team_member)", "text"},
	{"email", "Email", "email"}, {"phone", "Phone", "tel"}, {"at", "Arrives at (the org's time; blank: now)", "datetime-local"},
}

// PreviewFields are the route preview's inputs.
func (d sourcePageData) PreviewFields() []previewField { return previewFields }

// Get is a preview input by its key.
func (f previewForm) Get(key string) string {
	return map[string]string{"state": f.State, "postal_code": f.PostalCode, "city": f.City, "rating": f.Rating, "labels": f.Labels,
		"kind": f.Kind, "email": f.Email, "phone": f.Phone, "at": f.At}[key]
}
