package console

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/mail"
	"github.com/leadrelay/leadrelay/internal/store"
)

// The lead sources pages (SPEC §8, MVP's "API workflows"): the org's
// sources, one source's routing, emails and return template, and its vendor
// key. Every read and change is the API's (GET/PUT …/sources, POST/DELETE
// …/key); the pages only show forms to those who manage the org, and the
// API refuses anyone else who sends one anyway.

// newSlug is the path of the create form: /app/sources/new.
const newSlug = "new"

// routingModes are the modes a source may route by, in the form's order,
// with what each means to a person choosing one.
var routingModes = []struct{ Value, Label string }{
	{string(domain.RouteOwner), "To the owner: every lead is assigned to the org's owner"},
	{string(domain.RouteStaffEvenly), "Evenly among staff: rotate over active staff, professionals and managers"},
	{string(domain.RouteSubAgencies), "Evenly among sub-agencies: rotate over the sub-agencies ticked below; each routes the lead by its own source of this slug"},
	{string(domain.RoutePending), "Pending: leads wait for a manager to distribute them"},
	{string(domain.RouteQueue), "Queue: reps request leads from the queue"},
	{string(domain.RouteGroup), "A group: weighted rotation over the group chosen below"},
	{string(domain.RouteUser), "One user: every lead goes to the user chosen below"},
}

// sourceForm is the source form as the person filled it in (or as saved).
type sourceForm struct {
	Slug, Name, Mode, QueueDelay, ForceLocation, Priority string
	Group, User                                           string // the default's group or user
	SubAgencies                                           []string
	PurchaseEmails, ReturnEmails                          string // one address a line
	IncludeComments                                       bool
	ReturnTemplate                                        string
	// Return rules: the window as a Go duration ("" : none) and the
	// reasons, one a line ("" : any reason).
	ReturnWindow, ReturnReasons string
}

// Checked says whether a sub-agency is ticked.
func (f sourceForm) Checked(id string) bool { return slices.Contains(f.SubAgencies, id) }

// templateLine is one numbered line of a return template, marked when the
// template's problem is about it.
type templateLine struct {
	N    int
	Text string
	Bad  bool
}

// preview is a return email rendered from the form's template.
type preview struct {
	Subject, Text string
	BuiltIn       bool // the template is blank: the built-in email is sent
}

// sourcePageData is what sources/source pages show.
type sourcePageData struct {
	New     bool
	Form    sourceForm
	Modes   any
	Subs    []store.SubAgency
	Sources []sourceOut
	BadLine int            // the return template's line its problem is about
	Lines   []templateLine // the template, numbered, when it has a problem at a line
	Preview *preview
	Key     string // a vendor key, shown once, on the page answering the POST that made it
	Created bool   // Key belongs to a source just created
	Confirm bool   // the revoke page asks first

	// The routing rules section (rules.go): the source as saved, the rules
	// editor, the route preview's lead and answer, the fairness report.
	Source      sourceOut
	Rules       rulesForm
	Groups      []groupOut
	Users       []userOut
	Try         previewForm
	Result      *routeResult
	Period      string
	Fairness    *store.FairnessReport
	FairnessErr string
}

func sourcePath(v *visit, rest string) string {
	return "/v1/orgs/" + v.Session.User.OrgID + "/sources" + rest
}

func (c *Console) listSources(r *http.Request, v *visit) ([]sourceOut, error) {
	var out struct {
		Sources []sourceOut `json:"sources"`
	}
	_, err := c.call(r, v, "GET", sourcePath(v, ""), nil, &out)
	return out.Sources, err
}

// sourcesPage lists the org's sources (GET /v1/orgs/{org}/sources: any
// member may read them; the forms are for owners and admins).
func (c *Console) sourcesPage(w http.ResponseWriter, r *http.Request, v *visit) {
	list, err := c.listSources(r, v)
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	c.render(w, r, http.StatusOK, "sources", view{Title: "Lead sources", V: v, Data: sourcePageData{Sources: list}})
}

// findSource is the org's source named slug, through the API's list (there
// is no single-source read): another org's slug is simply not there.
func (c *Console) findSource(r *http.Request, v *visit, slug string) (sourceOut, bool, error) {
	list, err := c.listSources(r, v)
	if err != nil {
		return sourceOut{}, false, err
	}
	for _, s := range list {
		if s.Slug == slug {
			return s, true, nil
		}
	}
	return sourceOut{}, false, nil
}

func (c *Console) subAgencies(r *http.Request, v *visit) ([]store.SubAgency, error) {
	var subs []store.SubAgency
	_, err := c.call(r, v, "GET", "/v1/orgs/"+v.Session.User.OrgID+"/sub-agencies", nil, &subs)
	return subs, err
}

// formOf is a saved source as its form shows it.
func formOf(s store.Source) sourceForm {
	f := sourceForm{Slug: s.Slug, Name: s.Name, Mode: string(s.Routing.Mode), QueueDelay: s.Routing.QueueDelay,
		Priority: s.Priority, SubAgencies: s.Routing.SubAgencies, IncludeComments: s.IncludeCommentsOnReturn,
		PurchaseEmails: strings.Join(s.PurchaseNotificationEmails, "\n"), ReturnEmails: strings.Join(s.ReturnNotificationEmails, "\n"),
		Group: s.Routing.Group, User: s.Routing.User, ReturnReasons: strings.Join(s.ReturnReasons, "\n")}
	if s.ReturnWindow != nil {
		f.ReturnWindow = shortDuration(*s.ReturnWindow)
	}
	if s.ForceLocation != nil {
		f.ForceLocation = *s.ForceLocation
	}
	if s.ReturnTemplate != nil {
		f.ReturnTemplate = *s.ReturnTemplate
	}
	return f
}

// postedForm reads the source form of r; slug is the page's (the create
// form's comes from its slug field).
func postedForm(r *http.Request, slug string) sourceForm {
	p := r.PostForm
	f := sourceForm{Slug: slug, Name: p.Get("name"), Mode: p.Get("mode"), QueueDelay: strings.TrimSpace(p.Get("queue_delay")),
		ForceLocation: p.Get("force_location"), Priority: p.Get("priority"), SubAgencies: p["sub_agencies"],
		Group: p.Get("group"), User: p.Get("user"),
		PurchaseEmails: p.Get("purchase_notification_emails"), ReturnEmails: p.Get("return_notification_emails"),
		IncludeComments: p.Get("include_comments_on_return") == "on",
		ReturnWindow:    strings.TrimSpace(p.Get("return_window")), ReturnReasons: p.Get("return_reasons"),
		// Browsers send a textarea's line breaks as CRLF (HTML's form
		// encoding): the template is saved as typed, with Unix line ends.
		ReturnTemplate: strings.ReplaceAll(p.Get("return_template"), "\r\n", "\n")}
	if slug == newSlug {
		f.Slug = strings.TrimSpace(p.Get("slug"))
	}
	return f
}

// lines splits a textarea of addresses, one a line, dropping blank lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// body is the PUT body the form asks for. Ticked sub-agencies are sent
// only with the mode that uses them, so switching a source away from that
// mode does not need every box unticked first (the boxes stay as they were).
func (f sourceForm) body() domain.SourceConfig {
	cfg := domain.SourceConfig{Name: f.Name, Priority: f.Priority,
		Routing:                    domain.Routing{Mode: domain.RoutingMode(f.Mode), QueueDelay: f.QueueDelay},
		PurchaseNotificationEmails: lines(f.PurchaseEmails), ReturnNotificationEmails: lines(f.ReturnEmails),
		IncludeCommentsOnReturn: f.IncludeComments, ReturnWindow: f.ReturnWindow, ReturnReasons: lines(f.ReturnReasons)}
	switch domain.RoutingMode(f.Mode) {
	case domain.RouteSubAgencies:
		cfg.Routing.SubAgencies = f.SubAgencies
	case domain.RouteGroup:
		cfg.Routing.Group = f.Group
	case domain.RouteUser:
		cfg.Routing.User = f.User
	}
	if f.ForceLocation != "" {
		loc := f.ForceLocation
		cfg.ForceLocation = &loc
	}
	// Always sent: a blank template puts the built-in email back.
	tmpl := f.ReturnTemplate
	cfg.ReturnTemplate = &tmpl
	return cfg
}

// shortDuration writes a saved Go duration as a person types it: "72h"
// rather than "72h0m0s".
func shortDuration(d string) string {
	if strings.HasSuffix(d, "m0s") {
		d = strings.TrimSuffix(d, "0s")
	}
	if strings.HasSuffix(d, "h0m") {
		d = strings.TrimSuffix(d, "0m")
	}
	return d
}

// reasonFields puts the API's refusals of return_reasons[i] on the reasons'
// textarea, naming the line: the form sends its non-blank lines in order,
// so the index counts those.
func reasonFields(fields map[string]string, reasons string) {
	for i, l := range lines(reasons) {
		k := fmt.Sprintf("return_reasons[%d]", i)
		if m, ok := fields[k]; ok {
			delete(fields, k)
			if _, seen := fields["return_reasons"]; !seen {
				fields["return_reasons"] = fmt.Sprintf("“%s”: %s", l, m)
			}
		}
	}
}

// sourcePage is one source's form, or the create form at /app/sources/new.
func (c *Console) sourcePage(w http.ResponseWriter, r *http.Request, v *visit) {
	slug := r.PathValue("slug")
	d := sourcePageData{New: slug == newSlug, Form: sourceForm{Mode: string(domain.RouteOwner), Priority: "normal"}}
	if !d.New {
		src, ok, err := c.findSource(r, v, slug)
		if err != nil {
			c.failed(w, r, v, err)
			return
		}
		if !ok {
			c.notFound(w, r, v)
			return
		}
		d.Form, d.Source, d.Rules = formOf(src.Source), src, rulesFormOf(src)
		d.Period = r.URL.Query().Get("period")
		if d.Period != "today" && d.Period != "30d" {
			d.Period = "7d"
		}
		if u := v.User(); u != nil && u.Role.AssignsLeads() {
			rep, err := c.fairness(r, v, slug, d.Period)
			if _, msg, _, ok := refused(err); ok {
				d.FairnessErr = msg
			} else if err != nil {
				c.failed(w, r, v, err)
				return
			}
			d.Fairness = rep
		}
	}
	c.renderSource(w, r, v, http.StatusOK, d, "", nil)
}

// renderSource renders the source page with d, a refusal and its fields.
func (c *Console) renderSource(w http.ResponseWriter, r *http.Request, v *visit, status int, d sourcePageData, problem string, fields map[string]string) {
	subs, err := c.subAgencies(r, v)
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	d.Subs, d.Modes = subs, routingModes
	// The pickers: a list the API refuses (a role that may not read it)
	// leaves the picker empty, and saving names the field.
	d.Groups, _ = c.listGroups(r, v)
	d.Users, _ = c.orgUsers(r, v)
	if p := fields["return_template"]; p != "" {
		d.BadLine = domain.ReturnTemplateLine(p)
		if d.BadLine > 0 {
			for i, l := range strings.Split(d.Form.ReturnTemplate, "\n") {
				d.Lines = append(d.Lines, templateLine{N: i + 1, Text: strings.TrimRight(l, "\r"), Bad: i+1 == d.BadLine})
			}
		}
	}
	title := "Source " + d.Form.Name
	if d.New {
		title = "New lead source"
	}
	c.render(w, r, status, "source", view{Title: title, V: v, Problem: problem, Fields: fields, Data: d})
}

// saveSource saves the form through PUT /v1/orgs/{org}/sources/{slug}. A new
// source's vendor key is shown on the page that answers this POST and
// nowhere else: not in a redirect, a flash or a log.
func (c *Console) saveSource(w http.ResponseWriter, r *http.Request, v *visit) {
	slug := r.PathValue("slug")
	d := sourcePageData{New: slug == newSlug, Form: postedForm(r, slug)}
	// PUT creates or updates: the create form must not overwrite a source by
	// naming its slug, and a source's own page must not create one (another
	// org's slug is "not found" here, not a new source of this org).
	cur, exists, err := c.findSource(r, v, d.Form.Slug)
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	if !d.New && !exists {
		c.notFound(w, r, v)
		return
	}
	if d.New {
		switch {
		case d.Form.Slug == "" || d.Form.Slug == newSlug:
			c.renderSource(w, r, v, http.StatusUnprocessableEntity, d, "The source was not saved.",
				map[string]string{"slug": "required: lowercase letters, digits, - and _, and not “new”"})
			return
		case exists:
			c.renderSource(w, r, v, http.StatusUnprocessableEntity, d, "The source was not saved.",
				map[string]string{"slug": "a source with this slug exists: open it from the list to change it"})
			return
		}
	}
	var out struct {
		store.Source
		APIKey string `json:"api_key"`
	}
	// The rules, when_nobody and the vendor's cap are the rules editor's,
	// the SLA the API's: saving this form keeps them as saved.
	cfg := d.Form.body()
	cfg.Rules, cfg.WhenNobody, cfg.VendorDailyCap, cfg.SLA = cur.Rules, cur.WhenNobody, cur.VendorDailyCap, cur.SLA
	d.Source, d.Rules = cur, rulesFormOf(cur)
	status, err := c.call(r, v, "PUT", sourcePath(v, "/"+url.PathEscape(d.Form.Slug)), cfg, &out)
	if err != nil {
		st, msg, fields, ok := refused(err)
		if !ok {
			c.failed(w, r, v, err)
			return
		}
		if len(fields) > 0 {
			msg = "The source was not saved: see the fields marked below."
			reasonFields(fields, d.Form.ReturnReasons)
		}
		c.renderSource(w, r, v, st, d, msg, fields)
		return
	}
	if status == http.StatusCreated {
		c.render(w, r, http.StatusOK, "sourcekey", view{Title: "Source created", V: v,
			Data: sourcePageData{Form: formOf(out.Source), Key: out.APIKey, Created: true}})
		return
	}
	http.Redirect(w, r, "/app/sources/"+url.PathEscape(d.Form.Slug)+"?done=source-saved", http.StatusSeeOther)
}

// previewSource renders the form's return template for a sample lead with
// the same functions a return email goes through (the save check, the
// template's Render, the mail package's return_custom or built-in
// template). It saves nothing.
func (c *Console) previewSource(w http.ResponseWriter, r *http.Request, v *visit) {
	slug := r.PathValue("slug")
	d := sourcePageData{New: slug == newSlug, Form: postedForm(r, slug)}
	if !d.New {
		src, ok, err := c.findSource(r, v, slug)
		if err != nil || !ok {
			c.missingSource(w, r, v, err)
			return
		}
		// The rules editor on this page shows the rules as saved.
		d.Source, d.Rules = src, rulesFormOf(src)
	}
	org, err := c.org(r, v)
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	f := sampleReturn(d.Form, v, domain.OrgLocation(org.Timezone))
	var msg mail.Message
	if strings.TrimSpace(d.Form.ReturnTemplate) == "" {
		msg, err = mail.Render("return", "preview", "vendor@example.com", "example.com", f)
		d.Preview = &preview{BuiltIn: true}
	} else {
		if p := domain.ReturnTemplateProblem(d.Form.ReturnTemplate); p != "" {
			c.renderSource(w, r, v, http.StatusUnprocessableEntity, d, "The return template cannot be used: see below.",
				map[string]string{"return_template": p})
			return
		}
		var rt *domain.ReturnTemplate
		if rt, err = domain.ParseReturnTemplate(d.Form.ReturnTemplate); err == nil {
			var data struct{ Subject, Body string }
			if data.Subject, data.Body, err = rt.Render(f); err == nil {
				msg, err = mail.Render("return_custom", "preview", "vendor@example.com", "example.com", data)
			}
		}
		d.Preview = &preview{}
	}
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	d.Preview.Subject, d.Preview.Text = msg.Subject, msg.Text
	c.renderSource(w, r, v, http.StatusOK, d, "", nil)
}

// sampleReturn is the lead a preview is written for, filled in as the
// return activity fills a real one (names, dates in the org's timezone,
// comments only when the source includes them).
func sampleReturn(f sourceForm, v *visit, loc *time.Location) domain.ReturnFields {
	now := time.Now().In(loc)
	rf := domain.ReturnFields{LeadID: "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f", ExternalID: "EQ-104233",
		FirstName: "Jane", LastName: "Sample", LeadEmail: "jane.sample@example.com", LeadPhone: "+1 312 555 0142",
		Source: f.Name, SourceSlug: f.Slug, OrgName: v.Session.OrgName, ReturnedBy: v.Session.User.Name,
		ReturnedAt: now.Format(domain.DateLayout), ReceivedAt: now.Add(-26 * time.Hour).Format(domain.DateLayout),
		Reason: "Duplicate lead"}
	rf.LeadName = rf.FirstName + " " + rf.LastName
	if f.IncludeComments {
		rf.Comments = "Already a client of ours since March; called twice, no new need."
	}
	if rf.Source == "" {
		rf.Source = "Your source"
	}
	return rf
}

// rotateKey issues a new vendor key (POST …/key) and shows it once; the old
// one stops working at once.
func (c *Console) rotateKey(w http.ResponseWriter, r *http.Request, v *visit) {
	slug := r.PathValue("slug")
	src, ok, err := c.findSource(r, v, slug)
	if err == nil && !ok {
		c.notFound(w, r, v)
		return
	}
	var out struct {
		APIKey string `json:"api_key"`
	}
	if err == nil {
		_, err = c.call(r, v, "POST", sourcePath(v, "/"+url.PathEscape(slug)+"/key"), nil, &out)
	}
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	c.render(w, r, http.StatusOK, "sourcekey", view{Title: "New vendor key", V: v,
		Data: sourcePageData{Form: formOf(src.Source), Key: out.APIKey}})
}

// revokeKey asks first, then revokes the vendor key (DELETE …/key) and
// issues none: the source receives no lead until a key is made again.
func (c *Console) revokeKey(w http.ResponseWriter, r *http.Request, v *visit) {
	slug := r.PathValue("slug")
	src, ok, err := c.findSource(r, v, slug)
	if err == nil && !ok {
		c.notFound(w, r, v)
		return
	}
	if err == nil && r.PostFormValue("confirm") != "yes" {
		c.render(w, r, http.StatusOK, "sourcekey", view{Title: "Revoke the vendor key", V: v,
			Data: sourcePageData{Form: formOf(src.Source), Confirm: true}})
		return
	}
	if err == nil {
		_, err = c.call(r, v, "DELETE", sourcePath(v, "/"+url.PathEscape(slug)+"/key"), nil, nil)
	}
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	http.Redirect(w, r, "/app/sources/"+url.PathEscape(slug)+"?done=key-revoked", http.StatusSeeOther)
}

// ModeName is a routing mode as the list shows it: its label's first words.
// It takes a saved source's mode or a form's.
func (d sourcePageData) ModeName(mode any) string {
	for _, m := range routingModes {
		if m.Value == fmt.Sprint(mode) {
			name, _, _ := strings.Cut(m.Label, ":")
			return name
		}
	}
	return fmt.Sprint(mode)
}

// Priorities are the values the API takes for priority, lowest first.
func (d sourcePageData) Priorities() []string { return domain.Priorities }

// FieldNames are the fields a return template may use: domain.ReturnFields'.
func (d sourcePageData) FieldNames() []string { return domain.ReturnFieldNames() }
