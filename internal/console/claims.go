package console

import (
	"net/http"
	"net/url"
	"time"

	"github.com/leadrelay/leadrelay/internal/store"
)

// claimedLead is one of the rep's claimed leads with its claim window.
type claimedLead struct {
	Lead      store.Lead
	ExpiresAt time.Time
}

func (c claimedLead) Name() string { return leadName(c.Lead) }

// Until is the window's end as a clock time in the org's timezone: the
// countdown's text without JavaScript.
func (c claimedLead) Until(tz string) string {
	loc, err := time.LoadLocation(tz)
	if err != nil {
		loc = time.UTC
	}
	return c.ExpiresAt.In(loc).Format("15:04 MST")
}

// queuePage is the rep's queue: "Request a lead" and the leads they hold
// under a claim, each counting down to the moment it goes back unless
// worked. The claims are the user's own (store.OpenClaims); each lead is
// read through GET /v1/leads/{id}, and one that is no longer theirs (a
// manager moved it on) is left out.
func (c *Console) queuePage(w http.ResponseWriter, r *http.Request, v *visit) {
	u := v.Session.User
	claims, err := c.Store.OpenClaims(r.Context(), u.OrgID, u.ID)
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	var held []claimedLead
	for _, cl := range claims {
		var l store.Lead
		if _, err := c.call(r, v, "GET", "/v1/leads/"+url.PathEscape(cl.LeadID), nil, &l); err != nil {
			if _, _, _, ok := refused(err); ok {
				continue
			}
			c.failed(w, r, v, err)
			return
		}
		if l.AssignedTo != nil && *l.AssignedTo == u.ID {
			held = append(held, claimedLead{Lead: l, ExpiresAt: cl.ExpiresAt})
		}
	}
	org, err := c.org(r, v)
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	c.render(w, r, http.StatusOK, "queue", view{Title: "Queue", V: v, Data: struct {
		Held     []claimedLead
		Timezone string
	}{held, org.Timezone}})
}

// claim asks the API for the org's next claimable lead for the signed-in
// user: a lead comes back on the queue page with its window, or the page
// says none is waiting.
func (c *Console) claim(w http.ResponseWriter, r *http.Request, v *visit) {
	status, err := c.call(r, v, "POST", "/v1/orgs/"+v.Session.User.OrgID+"/queue/claim", nil, nil)
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	if status == http.StatusNoContent {
		http.Redirect(w, r, "/app/queue?done=queue-empty", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/app/queue?done=claimed", http.StatusSeeOther)
}
