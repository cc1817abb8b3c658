package console

import (
	"net/http"
	"net/url"
	"time"
)

// schedule is one timed distribution as GET /v1/orgs/{org}/schedules
// answers it.
type schedule struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Source struct {
		Slug string `json:"slug"`
		Name string `json:"name"`
	} `json:"source"`
	Mode     string      `json:"mode"`
	Does     string      `json:"does"`
	Timezone string      `json:"timezone"`
	When     string      `json:"when"`
	Paused   bool        `json:"paused"`
	NextRuns []time.Time `json:"next_runs"`
}

// schedulesData is what the schedules page shows: the list, and for an
// owner or admin the create form's choices.
type schedulesData struct {
	Schedules []schedule
	// Unreachable: Temporal did not answer; the page says so and still
	// offers the form.
	Unreachable bool
	// Deleting is the schedule whose deletion the page asks to confirm.
	Deleting *schedule
	Sources  []sourceOut
	Timezone string // the org's: the form's default
	Modes    [][2]string
}

var scheduleModes = [][2]string{
	{"staff_evenly", "Evenly among the staff"},
	{"owner", "To the owner"},
	{"sub_agencies_evenly", "Evenly among the sub-agencies"},
}

// schedulesPage lists the org's timed distributions; owners and admins get
// the create form and the buttons.
func (c *Console) schedulesPage(w http.ResponseWriter, r *http.Request, v *visit) {
	c.renderSchedules(w, r, v, http.StatusOK, view{})
}

// renderSchedules renders the page with status; vw carries a refused
// form's errors and values.
func (c *Console) renderSchedules(w http.ResponseWriter, r *http.Request, v *visit, status int, vw view) {
	org := "/v1/orgs/" + v.Session.User.OrgID
	var d schedulesData
	var list struct {
		Schedules []schedule `json:"schedules"`
	}
	if _, err := c.call(r, v, "GET", org+"/schedules", nil, &list); err != nil {
		ae, ok := err.(*apiError)
		if !ok || ae.Status != http.StatusServiceUnavailable {
			c.failed(w, r, v, err)
			return
		}
		d.Unreachable = true
	}
	d.Schedules = list.Schedules
	// Delete asks first, on this page: the link of a row opens the question
	// with its own form, so a delete is two steps without JavaScript.
	if del := r.URL.Query().Get("delete"); del != "" && v.Manages() {
		for i := range d.Schedules {
			if d.Schedules[i].ID == del {
				d.Deleting = &d.Schedules[i]
			}
		}
	}
	if v.Manages() {
		sources, err := c.listSources(r, v)
		if err != nil {
			c.failed(w, r, v, err)
			return
		}
		o, err := c.org(r, v)
		if err != nil {
			c.failed(w, r, v, err)
			return
		}
		d.Sources, d.Timezone, d.Modes = sources, o.Timezone, scheduleModes
	}
	vw.Title, vw.V, vw.Data = "Timed distributions", v, d
	c.render(w, r, status, "schedules", vw)
}

// createSchedule creates a schedule, or updates the one of the same source
// and name, through POST /v1/orgs/{org}/schedules.
func (c *Console) createSchedule(w http.ResponseWriter, r *http.Request, v *visit) {
	in := map[string]string{}
	for _, k := range []string{"source", "name", "mode", "at", "days", "timezone"} {
		in[k] = r.PostForm.Get(k)
	}
	_, err := c.call(r, v, "POST", "/v1/orgs/"+v.Session.User.OrgID+"/schedules", in, nil)
	if err != nil {
		status, msg, fields, ok := refused(err)
		if !ok {
			c.failed(w, r, v, err)
			return
		}
		if status == http.StatusNotFound && len(fields) == 0 {
			fields, msg = map[string]string{"source": "Your agency has no such source."}, "The schedule was not saved."
		}
		c.renderSchedules(w, r, v, status, view{Problem: msg, Fields: fields, Form: r.PostForm})
		return
	}
	http.Redirect(w, r, "/app/schedules?done=schedule-saved", http.StatusSeeOther)
}

// scheduleDone is each action's flash.
var scheduleDone = map[string]string{"pause": "schedule-paused", "resume": "schedule-resumed", "trigger": "schedule-triggered"}

// scheduleAction is pause, resume or trigger of one schedule through the
// API's route of the same name.
func (c *Console) scheduleAction(action string) func(http.ResponseWriter, *http.Request, *visit) {
	return func(w http.ResponseWriter, r *http.Request, v *visit) {
		path := "/v1/orgs/" + v.Session.User.OrgID + "/schedules/" + url.PathEscape(r.PathValue("id")) + "/" + action
		if _, err := c.call(r, v, "POST", path, nil, nil); err != nil {
			c.failed(w, r, v, err)
			return
		}
		http.Redirect(w, r, "/app/schedules?done="+scheduleDone[action], http.StatusSeeOther)
	}
}

// deleteSchedule deletes through DELETE /v1/orgs/{org}/schedules/{id}; its
// form is the confirmation the page shows for ?delete=<id>.
func (c *Console) deleteSchedule(w http.ResponseWriter, r *http.Request, v *visit) {
	if _, err := c.call(r, v, "DELETE", "/v1/orgs/"+v.Session.User.OrgID+"/schedules/"+url.PathEscape(r.PathValue("id")), nil, nil); err != nil {
		c.failed(w, r, v, err)
		return
	}
	http.Redirect(w, r, "/app/schedules?done=schedule-deleted", http.StatusSeeOther)
}
