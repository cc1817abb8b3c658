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
		{"POST", "/app/signout", signedIn, c.signOut},
		{"GET", "/app/leads", member, c.leadsPage},
		{"GET", "/app/account", member, c.accountPage},
		{"POST", "/app/account/settings", member, c.saveSettings},
		{"POST", "/app/account/invitations", member, c.invite},
		{"POST", "/app/account/invitations/{id}/revoke", member, c.revokeInvitation},
		{"POST", "/app/account/sub-agencies/{sub}/unlink", member, c.unlinkSub},
		{"POST", "/app/account/users", member, c.addUser},
		{"POST", "/app/account/users/{user}", member, c.saveUser},
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
	"signed-out": "You are signed out.",
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
