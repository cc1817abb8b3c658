package console

import (
	"net/http"
	"net/url"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// access says who may open a route.
type access int

const (
	// public pages need no session (sign-in).
	public access = iota
	// signedIn pages need a session, with or without an org picked.
	signedIn
	// member pages need a session acting as a user of an org.
	member
)

// route is one entry of the console's route table: New serves it, and the
// route-table test opens every entry as every role and as another org.
type route struct {
	method, pattern string
	access          access
	handle          func(w http.ResponseWriter, r *http.Request, v *visit)
}

// routes is the console's route table, one line a route.
func (c *Console) routes() []route {
	return []route{
		{"GET", "/app/{$}", member, c.home},
		{"GET", "/app/signin", public, c.signInPage},
		{"POST", "/app/signin", public, c.askLink},
		{"GET", "/app/signin/sent", public, c.linkSent},
		{"GET", "/app/signin/{token}", public, c.linkPage},
		{"POST", "/app/signin/{token}", public, c.useLink},
		{"GET", "/app/orgs", signedIn, c.orgsPage},
		{"POST", "/app/orgs", signedIn, c.pickOrg},
		{"POST", "/app/signout", signedIn, c.signOut},
		{"GET", "/app/leads", member, c.leadsPage},
		{"GET", "/app/leads/{id}", member, c.leadPage},
		{"POST", "/app/leads/{id}/assign", member, c.leadAction("assign")},
		{"POST", "/app/leads/{id}/transfer-ownership", member, c.leadAction("transfer-ownership")},
		{"POST", "/app/leads/{id}/return", member, c.leadAction("return")},
		{"POST", "/app/leads/{id}/release", member, c.leadAction("release")},
		{"POST", "/app/leads/{id}/worked", member, c.leadAction("worked")},
		{"POST", "/app/leads/{id}/invalid", member, c.leadAction("invalid")},
		{"GET", "/app/pipeline", member, c.pipelinePage},
		{"POST", "/app/pipeline/{id}/accept", member, c.pipelineAnswer("accept")},
		{"POST", "/app/pipeline/{id}/reject", member, c.pipelineAnswer("reject")},
		{"GET", "/app/queue", member, c.queuePage},
		{"POST", "/app/queue/claim", member, c.claim},
		{"POST", "/app/leads/bulk", member, c.bulk},
		{"GET", "/app/transfers/{id}", member, c.transferPage},
		{"GET", "/app/sources", member, c.sourcesPage},
		{"GET", "/app/sources/{slug}", member, c.sourcePage},
		{"POST", "/app/sources/{slug}", member, c.saveSource},
		{"POST", "/app/sources/{slug}/preview", member, c.previewSource},
		{"POST", "/app/sources/{slug}/key", member, c.rotateKey},
		{"POST", "/app/sources/{slug}/key/revoke", member, c.revokeKey},
		{"POST", "/app/sources/{slug}/rules", member, c.saveRules},
		{"POST", "/app/sources/{slug}/route-preview", member, c.routePreview},
		{"GET", "/app/groups", member, c.groupsPage},
		{"POST", "/app/groups", member, c.saveGroup},
		{"GET", "/app/groups/{name}", member, c.groupPage},
		{"POST", "/app/groups/{name}", member, c.saveGroup},
		{"POST", "/app/groups/{name}/delete", member, c.deleteGroup},
		{"GET", "/app/users/{user}", member, c.userPage},
		{"POST", "/app/users/{user}/availability", member, c.saveAvailability},
		{"POST", "/app/users/{user}/pause", member, c.pauseUser(true)},
		{"POST", "/app/users/{user}/resume", member, c.pauseUser(false)},
		{"POST", "/app/me/pause", member, c.pauseUser(true)},
		{"POST", "/app/me/resume", member, c.pauseUser(false)},
		{"GET", "/app/feed", member, c.feedPage},
		{"GET", "/app/schedules", member, c.schedulesPage},
		{"POST", "/app/schedules", member, c.createSchedule},
		{"POST", "/app/schedules/{id}/pause", member, c.scheduleAction("pause")},
		{"POST", "/app/schedules/{id}/resume", member, c.scheduleAction("resume")},
		{"POST", "/app/schedules/{id}/trigger", member, c.scheduleAction("trigger")},
		{"POST", "/app/schedules/{id}/delete", member, c.deleteSchedule},
		{"GET", "/app/account", member, c.accountPage},
		{"POST", "/app/account/settings", member, c.saveSettings},
		{"POST", "/app/account/invitations", member, c.invite},
		{"POST", "/app/account/invitations/{id}/revoke", member, c.revokeInvitation},
		{"POST", "/app/account/sub-agencies/{sub}/unlink", member, c.unlinkSub},
		{"POST", "/app/account/users", member, c.addUser},
		{"POST", "/app/account/users/{user}", member, c.saveUser},
		{"GET", "/app/reports/speed-to-lead", member, c.speedToLeadPage},
		{"GET", "/app/webhooks", member, c.webhooksPage},
		{"POST", "/app/webhooks", member, c.createWebhook},
		{"GET", "/app/webhooks/{id}", member, c.webhookPage},
		{"POST", "/app/webhooks/{id}/enable", member, c.webhookAction("enable")},
		{"POST", "/app/webhooks/{id}/delete", member, c.webhookAction("delete")},
		{"POST", "/app/webhooks/{id}/deliveries/{delivery}/resend", member, c.webhookAction("resend")},
	}
}

// serve wraps a route: it finds the session, refuses what the route's
// access does not allow (to the sign-in page), and checks the CSRF token of
// every POST before the handler can change anything.
func (c *Console) serve(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, n := range []string{"id", "user", "sub", "org"} {
			if id, ok := domain.NormalID(r.PathValue(n)); ok {
				r.SetPathValue(n, id)
			}
		}
		v := &visit{Path: r.URL.Path}
		sess, secret := c.session(r)
		v.Session = sess
		switch {
		case rt.access >= signedIn && sess == nil:
			c.toSignIn(w, r)
			return
		case rt.access == member && sess.User == nil:
			http.Redirect(w, r, "/app/orgs", http.StatusSeeOther)
			return
		}
		if sess != nil && sess.User != nil && c.pageViews != nil && !c.pageViews.Allow("user:"+sess.User.ID) {
			w.Header().Set("Retry-After", "1")
			c.problem(w, r, v, http.StatusTooManyRequests, "Too many requests",
				"Pages were asked for faster than a person reads them. Wait a moment, then reload.")
			return
		}
		if sess != nil {
			v.CSRF = csrfOf(secret)
		} else {
			v.CSRF = csrfOf(c.preSecret(w, r))
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if err := r.ParseForm(); err != nil || !csrfOK(r, v.CSRF) {
				c.refuseForm(w, r, v)
				return
			}
		}
		v.Flash = flashes[r.URL.Query().Get("done")]
		rt.handle(w, r, v)
	})
}

// toSignIn sends a visitor without a session to the sign-in page, which
// brings them back here after.
func (c *Console) toSignIn(w http.ResponseWriter, r *http.Request) {
	next := "/app/"
	if r.Method == http.MethodGet {
		next = r.URL.RequestURI()
	}
	http.Redirect(w, r, "/app/signin?next="+url.QueryEscape(next), http.StatusSeeOther)
}

// flashes are the messages an action's redirect may show (?done=…): fixed
// texts, so a link cannot make a page say anything else.
var flashes = map[string]string{
	"signed-out":         "You are signed out.",
	"source-saved":       "The source is saved.",
	"rules-saved":        "The rules are saved: new leads are routed by them from now on.",
	"group-saved":        "The group is saved.",
	"group-deleted":      "The group is deleted.",
	"availability-saved": "Availability saved.",
	"paused":             "Paused: no new lead is routed to this person until resumed.",
	"resumed":            "Resumed: new leads can be routed to this person again.",
	"key-revoked":        "The vendor key is revoked: leads posted with it are refused until you make a new key.",
	"schedule-saved":     "Schedule saved. A new one can take a few seconds to appear in the list: reload if it is not there yet.",
	"schedule-paused":    "Schedule paused: it runs again when resumed.",
	"schedule-resumed":   "Schedule resumed: it runs from its next slot.",
	"schedule-triggered": "A distribution runs now: the source's pending leads go out in a moment.",
	"schedule-deleted":   "Schedule deleted.",
	"webhook-enable":     "The webhook is enabled: new events are sent to it again.",
	"webhook-delete":     "The webhook is deleted: nothing more is sent to it.",
	"webhook-resend":     "The delivery is queued: it is sent again within seconds, with the same webhook-id.",
	// The lead page, the pipeline and the queue.
	"lead-assigned":      "The lead is assigned.",
	"lead-owner-changed": "The lead has a new owner.",
	"lead-given-back":    "The lead is the team's again.",
	"lead-returned":      "The lead is returned to its vendor.",
	"lead-released":      "The lead is back in the queue.",
	"lead-worked":        "Marked as worked: the lead stays yours.",
	"lead-invalid":       "The lead is marked invalid.",
	"handover-accepted":  "Handover accepted: the lead is assigned.",
	"handover-rejected":  "Handover rejected: the lead goes back to the sender.",
	"claimed":            "A lead is yours: work it before its time runs out.",
	"queue-empty":        "No lead is waiting in the queue right now.",
	// leads.go adds the count when the link carries one (countedFlashes).
	"bulk-assigned": "The leads are assigned.",
	"bulk-returned": "The leads are returned to their vendor.",
	"bulk-invalid":  "The leads are marked invalid.",
	// account
	"settings-saved":  "Settings saved.",
	"invited":         "Invitation sent: it is listed below as pending until it is answered.",
	"revoked":         "Invitation revoked: its link no longer works.",
	"unlinked":        "Unlinked: the two organizations are no longer linked.",
	"user-saved":      "Changes saved.",
	"nothing-changed": "Nothing was changed.",
}

func (c *Console) home(w http.ResponseWriter, r *http.Request, _ *visit) {
	http.Redirect(w, r, "/app/leads", http.StatusSeeOther)
}
