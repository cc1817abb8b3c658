package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/leadrelay/leadrelay/internal/api"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// people are the org's users, for names and for the pickers of a page.
type people struct {
	all   []api.UserOut
	byID  map[string]string
	myOrg string
}

// name is how a page names a user id (or "admin", the operator's token):
// by name when the org's list has it, else the id as it is.
func (p people) Name(id string) string {
	if id == "" {
		return ""
	}
	if id == "admin" {
		return "the operator"
	}
	if n, ok := p.byID[id]; ok && n != "" {
		return n
	}
	// The org's list names every user it ever had, deactivated ones too:
	// an id it lacks is a user of the org that sent the lead, whom this
	// org may not look up.
	if p.all != nil && domain.ValidUUID(id) {
		return "a user of another org"
	}
	return id
}

// active are the users a lead may be given to.
func (p people) Active() []api.UserOut {
	var out []api.UserOut
	for _, u := range p.all {
		if u.Active {
			out = append(out, u)
		}
	}
	return out
}

// licensed are the active users with a sales licence (managers and
// professionals): whom an accepted handover is given to. The API decides;
// the list only spares the manager a refusal.
func (p people) Licensed() []api.UserOut {
	var out []api.UserOut
	for _, u := range p.Active() {
		if u.Role.Licensed() {
			out = append(out, u)
		}
	}
	return out
}

// users reads the org's members through GET /v1/orgs/{org}/users. A
// refusal of that read (a role that may not list the team) leaves the page
// naming users by id rather than failing it.
func (c *Console) users(r *http.Request, v *visit) (people, error) {
	p := people{byID: map[string]string{}, myOrg: v.Session.OrgName}
	var out struct {
		Users []api.UserOut `json:"users"`
	}
	if _, err := c.call(r, v, "GET", "/v1/orgs/"+v.Session.User.OrgID+"/users", nil, &out); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status < 500 {
			p.byID[v.Session.User.ID] = v.Session.User.Name
			return p, nil
		}
		return p, err
	}
	p.all = out.Users
	for _, u := range out.Users {
		p.byID[u.ID] = u.Name
	}
	return p, nil
}

// leadView is what the lead page shows: the lead, its people by name, and
// which forms to offer. The offer is the domain's own rules (the functions
// the store applies), so a form is not shown only to be refused; the API
// still decides every post.
type leadView struct {
	Lead   store.Lead
	People people
	// Failed is the action whose refusal the page shows, so its field
	// errors go next to that form's fields and no other's.
	Failed string

	MayAssign, MayGiveBack, MayReturn, MayInvalid, IsAssignee bool
	// Returns are the return rules of the lead's receiving source, read
	// only when the Return form is offered: its reasons make the form's
	// reason a list, its window is said beside it.
	Returns store.ReturnRules
	// Older: the timeline shown is a page of older events (the query's
	// "before"), not the lead read's latest ones.
	Older bool
}

func (l leadView) OwnedBy() string {
	if l.Lead.Owner.Type == "user" {
		return l.People.Name(l.Lead.Owner.ID)
	}
	return "the team (" + l.People.myOrg + ")"
}

func (l leadView) AssignedTo() string {
	if l.Lead.AssignedTo == nil {
		return ""
	}
	return l.People.Name(*l.Lead.AssignedTo)
}

func (l leadView) Actor(id string) string { return l.People.Name(id) }

// Name is what a person recognises the lead by.
func (l leadView) Name() string { return leadName(l.Lead) }

// leadPage shows one lead through GET /v1/leads/{id}.
func (c *Console) leadPage(w http.ResponseWriter, r *http.Request, v *visit) {
	c.showLead(w, r, v, http.StatusOK, view{})
}

// showLead renders the lead page with status; vw carries a refusal to
// show (Problem, Fields, Form) and lv.Failed the action it refused.
func (c *Console) showLead(w http.ResponseWriter, r *http.Request, v *visit, status int, vw view, failed ...string) {
	id := r.PathValue("id")
	var l store.Lead
	if _, err := c.call(r, v, "GET", "/v1/leads/"+url.PathEscape(id), nil, &l); err != nil {
		c.failed(w, r, v, err)
		return
	}
	older := r.URL.Query().Get("before")
	if older != "" && !c.olderEvents(w, r, v, id, older, &l) {
		return
	}
	ppl, err := c.users(r, v)
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	u := v.Session.User
	by := domain.Changer{UserID: u.ID, Role: u.Role}
	owner, assigned := "", ""
	if l.Owner.Type == "user" {
		owner = l.Owner.ID
	}
	if l.AssignedTo != nil {
		assigned = *l.AssignedTo
	}
	lv := leadView{Lead: l, People: ppl,
		MayAssign:   by.MayChange(owner) == nil,
		MayGiveBack: owner != "" && owner == u.ID,
		MayReturn:   by.MayReturn(owner) == nil,
		MayInvalid:  by.MayMarkInvalid(owner, assigned) == nil,
		IsAssignee:  assigned == u.ID,
		Older:       older != "",
	}
	if lv.MayReturn && l.Status != domain.StatusReturned {
		if _, err := c.call(r, v, "GET", "/v1/leads/"+url.PathEscape(id)+"/return-rules", nil, &lv.Returns); err != nil {
			c.failed(w, r, v, err)
			return
		}
	}
	if len(failed) > 0 {
		lv.Failed = failed[0]
	}
	vw.Title, vw.V, vw.Data = lv.Name(), v, lv
	c.render(w, r, status, "lead", vw)
}

// olderEvents puts in l the page of its timeline just before the cursor
// (a link of the lead page), through GET /v1/leads/{id}/timeline: the lead
// read carries only the latest events. A cursor the API refuses is its
// problem page; false when the page is written.
func (c *Console) olderEvents(w http.ResponseWriter, r *http.Request, v *visit, id, cursor string, l *store.Lead) bool {
	var page struct {
		Events     []store.Event `json:"events"`
		NextCursor *string       `json:"next_cursor"`
	}
	if _, err := c.call(r, v, "GET", "/v1/leads/"+url.PathEscape(id)+"/timeline?cursor="+url.QueryEscape(cursor), nil, &page); err != nil {
		c.failed(w, r, v, err)
		return false
	}
	l.LeadTimeline = &store.LeadTimeline{Timeline: page.Events, TimelineNextCursor: page.NextCursor}
	return true
}

// leadActions are the lead page's forms: the API route each posts to and
// the message its success leaves.
var leadActions = map[string]string{
	"assign":             "lead-assigned",
	"transfer-ownership": "lead-owner-changed",
	"return":             "lead-returned",
	"release":            "lead-released",
	"worked":             "lead-worked",
	"invalid":            "lead-invalid",
}

// leadAction posts one of the lead page's forms to its API route as the
// signed-in user. Success redirects back (to the queue when the form came
// from there) with a message; a refusal shows the lead page again with the
// API's words next to the form's fields, with the API's status; another
// org's lead is the console's "not found".
func (c *Console) leadAction(action string) func(w http.ResponseWriter, r *http.Request, v *visit) {
	return func(w http.ResponseWriter, r *http.Request, v *visit) {
		id := r.PathValue("id")
		var body any
		switch action {
		case "assign":
			body = map[string]any{"user_id": r.PostFormValue("user_id")}
		case "transfer-ownership":
			if r.PostFormValue("to") == "team" {
				body = map[string]any{"user_id": nil} // give it back to the team
			} else {
				body = map[string]any{"user_id": r.PostFormValue("user_id")}
			}
		case "return":
			in := map[string]any{"reason": r.PostFormValue("reason")}
			if cm := strings.TrimSpace(r.PostFormValue("comments")); cm != "" {
				in["comments"] = r.PostFormValue("comments")
			}
			body = in
		case "invalid":
			body = map[string]any{"reason": r.PostFormValue("reason")}
		}
		_, err := c.call(r, v, "POST", "/v1/leads/"+url.PathEscape(id)+"/"+action, body, nil)
		if err != nil {
			status, msg, fields, ok := refused(err)
			if !ok || status == http.StatusNotFound {
				c.failed(w, r, v, err)
				return
			}
			c.showLead(w, r, v, status, view{Problem: msg, Fields: fields, Form: r.PostForm}, action)
			return
		}
		done := leadActions[action]
		if action == "transfer-ownership" && r.PostFormValue("to") == "team" {
			done = "lead-given-back"
		}
		if r.PostFormValue("back") == "queue" {
			http.Redirect(w, r, "/app/queue?done="+done, http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/app/leads/"+id+"?done="+done, http.StatusSeeOther)
	}
}
