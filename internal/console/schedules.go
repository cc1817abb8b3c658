package console

import (
	"net/http"
	"net/url"
	"time"

	"github.com/leadrelay/leadrelay/internal/store"
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
	Sources   []store.Source
	Timezone  string // the org's: the form's default
	Modes     [][2]string
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
		c.failed(w, r, v, err)
		return
	}
	d.Schedules = list.Schedules
	if v.Manages() {
		var sources struct {
			Sources []store.Source `json:"sources"`
		}
		var o store.Org
		if _, err := c.call(r, v, "GET", org+"/sources", nil, &sources); err != nil {
			c.failed(w, r, v, err)
			return
		}
		if _, err := c.call(r, v, "GET", org, nil, &o); err != nil {
			c.failed(w, r, v, err)
			return
		}
		d.Sources, d.Timezone, d.Modes = sources.Sources, o.Timezone, scheduleModes
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

// deleteSchedule asks first: without confirm=yes it shows what will go and
// a second form that says yes.
func (c *Console) deleteSchedule(w http.ResponseWriter, r *http.Request, v *visit) {
	id := r.PathValue("id")
	if r.PostForm.Get("confirm") != "yes" {
		c.render(w, r, http.StatusOK, "schedules_delete", view{Title: "Delete a timed distribution", V: v, Data: id})
		return
	}
	if _, err := c.call(r, v, "DELETE", "/v1/orgs/"+v.Session.User.OrgID+"/schedules/"+url.PathEscape(id), nil, nil); err != nil {
		c.failed(w, r, v, err)
		return
	}
	http.Redirect(w, r, "/app/schedules?done=schedule-deleted", http.StatusSeeOther)
}
