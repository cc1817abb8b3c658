package console

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/internal/api"
	"github.com/leadrelay/leadrelay/internal/domain"
)

// newUserForm is what was typed into the add-a-user form.
type newUserForm struct {
	Email, Name, Role string
	Notify            bool
}

// roleChoices are the roles a user can be given (an org has one owner,
// made with the org).
var roleChoices = []domain.Role{domain.RoleAdmin, domain.RoleManager, domain.RoleProfessional, domain.RoleStaff}

// addUser sends the add-a-user form as POST /v1/orgs/{org}/users. The
// answer holds the new user's API token: this page is the only place it is
// ever shown, so it is rendered here rather than after a redirect (which
// would have to keep it somewhere).
func (c *Console) addUser(w http.ResponseWriter, r *http.Request, v *visit) {
	typed := newUserForm{Email: r.PostFormValue("new_email"), Name: r.PostFormValue("new_name"),
		Role: r.PostFormValue("new_role"), Notify: r.PostFormValue("new_notify") == "on"}
	in := map[string]any{"email": typed.Email, "name": typed.Name, "role": typed.Role, "notify_new_leads": typed.Notify}
	var u api.UserOut
	if _, err := c.call(r, v, "POST", "/v1/orgs/"+v.Session.User.OrgID+"/users", in, &u); err != nil {
		c.refusedAccount(w, r, v, err, "new-user", "new_", func(d *accountData) { d.NewUser = typed })
		return
	}
	c.render(w, r, http.StatusCreated, "user-added", view{Title: "User added", V: v, Data: u})
}

// userChange is the answer to a change of a user, and what it set off.
type userChange struct {
	User api.UserOut
	// Deactivated: this change made the user inactive, which starts the
	// reroute of their team-owned leads.
	Deactivated bool
}

// saveUser sends one user's form as PATCH /v1/orgs/{org}/users/{user}. The
// form carries each field's value as shown (was_…), and only the fields
// the person changed are sent: saving a row must not, for instance, start
// a deactivated user's reroute again.
func (c *Console) saveUser(w http.ResponseWriter, r *http.Request, v *visit) {
	id := r.PathValue("user")
	// Another org's user is not found, whoever asks and whatever the form
	// holds (the API would check the role first, and an unchanged form
	// would never reach it).
	if _, err := c.Store.GetUser(r.Context(), v.Session.User.OrgID, id); err != nil {
		c.storeFailed(w, r, v, err)
		return
	}
	in := map[string]any{}
	if role := r.PostFormValue("role"); role != "" && role != r.PostFormValue("was_role") {
		in["role"] = role
	}
	for _, f := range []string{"active", "notify_new_leads"} {
		if r.PostForm.Has("was_" + f) {
			now := r.PostFormValue(f) == "on"
			if now != (r.PostFormValue("was_"+f) == "true") {
				in[f] = now
			}
		}
	}
	if len(in) == 0 {
		seeAccount(w, r, "nothing-changed", "team")
		return
	}
	var out userChange
	if _, err := c.call(r, v, "PATCH", "/v1/orgs/"+v.Session.User.OrgID+"/users/"+id, in, &out.User); err != nil {
		if ae, ok := err.(*apiError); ok && ae.Status == http.StatusServiceUnavailable && ae.Message != "" {
			// The deactivation is written but its reroute could not start:
			// the API's words say so and what to do (send the form again).
			c.problem(w, r, v, ae.Status, "Not finished", ae.Message)
			return
		}
		c.refusedAccount(w, r, v, err, "user-"+id, "user-"+id+"-", nil)
		return
	}
	if active, sent := in["active"].(bool); sent && !active {
		out.Deactivated = true
		c.render(w, r, http.StatusOK, "user-saved", view{Title: "User deactivated", V: v, Data: out})
		return
	}
	seeAccount(w, r, "user-saved", "team")
}

// A user's availability (SPEC §5.6): working hours, caps, instant alerts
// and pausing, on the user's own page. Managers, admins and owners set
// hours and caps (PATCH …/users/{user}); a user sets their own alerts and
// pauses or resumes themselves (POST …/pause, …/resume), as may a
// manager, admin or owner. The API decides who may: the page only hides
// forms the visitor could not send.

type userPageData struct {
	User  userOut
	Hours string // working hours, one span a line: "mon, tue 09:00-17:00"
	// SetsHours: the visitor may change hours and caps; Alerts: instant
	// alerts; Pauses: pause or resume.
	SetsHours, Alerts, Pauses bool
	TZ                        string
}

// findUser is the org's user id through the API's list.
func (c *Console) findUser(r *http.Request, v *visit, id string) (userOut, bool, error) {
	users, err := c.orgUsers(r, v)
	for _, u := range users {
		if u.ID == id {
			return u, true, err
		}
	}
	return userOut{}, false, err
}

// hoursText is working hours as the form's textarea shows them.
func hoursText(spans []domain.WorkingSpan) string {
	var out []string
	for _, s := range spans {
		out = append(out, strings.Join(s.Days, ", ")+" "+s.From+"-"+s.To)
	}
	return strings.Join(out, "\n")
}

// parseHours reads the textarea: one span a line, days then HH:MM-HH:MM.
// A line it cannot read is named by its number.
func parseHours(s string) ([]domain.WorkingSpan, string) {
	spans := []domain.WorkingSpan{}
	for i, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		j := strings.LastIndex(l, " ")
		from, to, ok := strings.Cut(l[j+1:], "-")
		days := strings.FieldsFunc(l[:max(j, 0)], func(r rune) bool { return r == ',' || r == ' ' })
		if j < 0 || !ok || len(days) == 0 {
			return nil, fmt.Sprintf("line %d: write the days, then the hours, such as mon, tue, wed 09:00-17:00", i+1)
		}
		spans = append(spans, domain.WorkingSpan{Days: days, From: from, To: to})
	}
	return spans, ""
}

func (c *Console) userPageData(r *http.Request, v *visit, u userOut) userPageData {
	me := v.User()
	d := userPageData{User: u, Hours: hoursText(u.WorkingHours), SetsHours: me.Role.AssignsLeads(),
		Alerts: me.ID == u.ID || me.Role.ManagesOrg(), Pauses: me.ID == u.ID || me.Role.AssignsLeads()}
	if org, err := c.org(r, v); err == nil {
		d.TZ = org.Timezone
	}
	return d
}

// userPage is one user's availability.
func (c *Console) userPage(w http.ResponseWriter, r *http.Request, v *visit) {
	u, ok, err := c.findUser(r, v, r.PathValue("user"))
	if err != nil || !ok {
		c.missingSource(w, r, v, err)
		return
	}
	c.render(w, r, http.StatusOK, "user", view{Title: u.Name, V: v, Data: c.userPageData(r, v, u)})
}

// saveAvailability PATCHes what the visitor may set: hours and caps (null
// when blank: always working, no cap) and instant alerts.
func (c *Console) saveAvailability(w http.ResponseWriter, r *http.Request, v *visit) {
	u, ok, err := c.findUser(r, v, r.PathValue("user"))
	if err != nil || !ok {
		c.missingSource(w, r, v, err)
		return
	}
	d := c.userPageData(r, v, u)
	p := r.PostForm
	in := map[string]any{}
	bad := map[string]string{}
	if d.SetsHours {
		d.Hours = p.Get("working_hours")
		spans, problem := parseHours(d.Hours)
		if problem != "" {
			bad["working_hours"] = problem
		}
		in["working_hours"] = spans
		if len(spans) == 0 {
			in["working_hours"] = nil
		}
		for _, k := range []string{"daily_cap", "open_cap"} {
			in[k] = nil
			if s := strings.TrimSpace(p.Get(k)); s != "" {
				n, err := strconv.Atoi(s)
				if err != nil {
					bad[k] = "a whole number, or blank for no cap"
				}
				in[k] = n
			}
		}
	}
	if d.Alerts && p.Has("was_instant_alerts") {
		in["instant_alerts"] = p.Get("instant_alerts") == "on"
	}
	if len(bad) == 0 {
		if _, err = c.call(r, v, "PATCH", "/v1/orgs/"+v.Session.User.OrgID+"/users/"+u.ID, in, nil); err == nil {
			http.Redirect(w, r, "/app/users/"+u.ID+"?done=availability-saved", http.StatusSeeOther)
			return
		}
		st, msg, fields, ok := refused(err)
		if !ok {
			c.failed(w, r, v, err)
			return
		}
		if len(fields) == 0 {
			c.problem(w, r, v, st, "Not done", msg)
			return
		}
		bad = fields
	}
	c.render(w, r, http.StatusUnprocessableEntity, "user", view{Title: u.Name, V: v, Data: d, Fields: bad,
		Problem: "Nothing was saved: see the fields marked below."})
}

// HoursErrors are the refusals about working hours, the textarea's own and
// each span's (working_hours[1].from).
func (vw view) HoursErrors() []string {
	var out []string
	for k, f := range vw.Fields {
		if strings.HasPrefix(k, "working_hours") {
			out = append(out, strings.TrimPrefix(k, "working_hours")+" "+f)
		}
	}
	sort.Strings(out)
	return out
}

// pauseUser pauses (until a time, in the org's timezone, or until resumed)
// or resumes a user: the user's page and the header's one-click button.
func (c *Console) pauseUser(pause bool) func(w http.ResponseWriter, r *http.Request, v *visit) {
	return func(w http.ResponseWriter, r *http.Request, v *visit) {
		id := r.PathValue("user")
		if id == "" {
			id = v.Session.User.ID // the header's button: me
		}
		in := map[string]any{}
		if until := r.PostFormValue("until"); pause && until != "" {
			org, err := c.org(r, v)
			if err != nil {
				c.failed(w, r, v, err)
				return
			}
			t, err := time.ParseInLocation("2006-01-02T15:04", until, domain.OrgLocation(org.Timezone))
			if err != nil {
				c.problem(w, r, v, http.StatusUnprocessableEntity, "Not paused", "Pause until a date and time, such as 2026-12-07T09:00, or leave it blank.")
				return
			}
			in["until"] = t.Format(time.RFC3339)
		}
		verb, done := "/resume", "resumed"
		if pause {
			verb, done = "/pause", "paused"
		}
		if _, err := c.call(r, v, "POST", "/v1/orgs/"+v.Session.User.OrgID+"/users/"+url.PathEscape(id)+verb, in, nil); err != nil {
			c.failed(w, r, v, err)
			return
		}
		back := "/app/users/" + url.PathEscape(id)
		if b := r.PostFormValue("back"); r.PathValue("user") == "" && strings.HasPrefix(b, "/app/") && !strings.HasPrefix(b, "/app//") {
			back = b
		}
		back, _, _ = strings.Cut(back, "?")
		http.Redirect(w, r, back+"?done="+done, http.StatusSeeOther)
	}
}

// myPause is whether the visitor is paused now, for the header's button,
// read from the store (the session holds the user as it was at sign-in);
// a failed read shows the pause button (pausing twice is harmless).
func (c *Console) myPause(r *http.Request, v *visit) bool {
	u, err := c.Store.GetUser(r.Context(), v.Session.User.OrgID, v.Session.User.ID)
	return err == nil && pausedNow(u.Paused, u.PausedUntil)
}

// pausedNow: paused, and not past the time the pause was set to end.
func pausedNow(paused bool, until *time.Time) bool {
	return paused && (until == nil || until.After(time.Now()))
}

// PausedNow says whether the user's pause is in force.
func (u userOut) PausedNow() bool { return pausedNow(u.Paused, u.PausedUntil) }
