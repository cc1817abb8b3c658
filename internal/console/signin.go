package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/api"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/runs"
	"github.com/leadrelay/leadrelay/workflows"
)

// Sign-in limits (docs/console.md, Signing in). A person rarely needs more
// than one link; these stop a page from being used to flood a mailbox, or
// to probe many addresses from one place.
const (
	// DefaultSignInsPerEmail links per address per SignInWindow.
	DefaultSignInsPerEmail = 5
	// DefaultSignInsPerAddress asks per client address per SignInWindow.
	DefaultSignInsPerAddress = 20
	// SignInWindow is the window both limits count in.
	SignInWindow = 15 * time.Minute
)

// nextCookie carries where to go after signing in, from the sign-in form to
// the link's page, on the browser that asked: the emailed link holds the
// token only.
const nextCookie = "lr_next"

// signInLimit is the per-client-address limit of asks: per of them in
// SignInWindow, refilled evenly over it.
func signInLimit(per int) *api.KeyedLimiter {
	return api.NewKeyedLimiter(float64(per)/SignInWindow.Seconds(), per)
}

// startSignIn starts the run that emails link linkID.
func (c *Console) startSignIn(ctx context.Context, linkID string) error {
	if c.StartSignIn != nil {
		return c.StartSignIn(ctx, linkID)
	}
	st := runs.Starter{Temporal: c.Temporal, Store: c.Store, Queue: c.Cfg.TaskQueue}
	return st.SignIn(ctx, workflows.SignInInput{LinkID: linkID})
}

// signInPage is the form that asks for a link.
func (c *Console) signInPage(w http.ResponseWriter, r *http.Request, v *visit) {
	c.render(w, r, http.StatusOK, "signin", view{Title: "Sign in", V: v,
		Form: map[string][]string{"next": {safeNext(r.URL.Query().Get("next"))}}})
}

// askLink records a link and starts its email when the address is an
// active user's. The answer is the same whatever happened — a link sent, an
// unknown address, a limit reached — so the page tells nobody which
// addresses have accounts; only the log says.
func (c *Console) askLink(w http.ResponseWriter, r *http.Request, v *visit) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	if !domain.ValidEmail(email) {
		msg := "Enter your email address, like name@example.com."
		c.render(w, r, http.StatusUnprocessableEntity, "signin", view{Title: "Sign in", V: v,
			Fields: map[string]string{"email": msg}, Form: r.PostForm})
		return
	}
	log := c.Log.With(zap.String("client", api.ClientKey(c.Cfg, r)))
	switch {
	case !c.perAddress.Allow(api.ClientKey(c.Cfg, r)):
		log.Warn("sign-in link not sent: too many asks from this client address")
	default:
		ask, err := c.Store.AskSignInLink(r.Context(), email, workflows.SignInLinkTTL, c.SignInsPerEmail, SignInWindow)
		switch {
		case err != nil:
			c.failed(w, r, v, err)
			return
		case ask.Unknown:
			log.Info("sign-in link not sent: no active user has the address")
		case ask.Limited:
			log.Warn("sign-in link not sent: the address had its links for now")
		default:
			if err := c.startSignIn(r.Context(), ask.LinkID); err != nil {
				// The link stays without a token, so it can never be used;
				// asking again makes a new one.
				log.Error("sign-in link recorded but its email run did not start", zap.String("link_id", ask.LinkID), zap.Error(err))
			} else {
				log.Info("sign-in link on its way", zap.String("link_id", ask.LinkID))
			}
		}
	}
	if next := safeNext(r.PostFormValue("next")); next != "" {
		http.SetCookie(w, &http.Cookie{Name: nextCookie, Value: url.QueryEscape(next), Path: "/app/signin/", HttpOnly: true,
			Secure: c.secure, SameSite: http.SameSiteLaxMode, MaxAge: int(workflows.SignInLinkTTL.Seconds())})
	}
	http.Redirect(w, r, "/app/signin/sent", http.StatusSeeOther)
}

// linkSent is the one answer to every ask.
func (c *Console) linkSent(w http.ResponseWriter, r *http.Request, v *visit) {
	c.render(w, r, http.StatusOK, "signin_sent", view{Title: "Check your email", V: v})
}

// linkToken is the token in the path, hashed; ok is false for anything a
// link cannot be, which is then refused without a query.
func linkToken(r *http.Request) (hash []byte, ok bool) {
	t := r.PathValue("token")
	if !strings.HasPrefix(t, "lrl_") || len(t) > 100 {
		return nil, false
	}
	return domain.HashToken(t), true
}

// linkPage shows whose link it is and one button. Opening the link changes
// nothing: mail scanners fetch links before the person does, and must not
// use them up.
func (c *Console) linkPage(w http.ResponseWriter, r *http.Request, v *visit) {
	hash, ok := linkToken(r)
	if !ok {
		c.linkGone(w, r, v)
		return
	}
	email, err := c.Store.SignInLink(r.Context(), hash)
	if err != nil {
		c.linkFailed(w, r, v, err)
		return
	}
	next := safeNext(r.URL.Query().Get("next"))
	if ck, err := r.Cookie(nextCookie); err == nil && next == "" {
		raw, _ := url.QueryUnescape(ck.Value)
		next = safeNext(raw)
	}
	c.render(w, r, http.StatusOK, "signin_link", view{Title: "Sign in as " + email, V: v,
		Data: map[string]string{"Email": email, "Action": r.URL.Path}, Form: map[string][]string{"next": {next}}})
}

// useLink uses the link up (once, whoever presses first) and signs the
// person in: acting as their one user, or, with several orgs, choosing one
// next. Someone whose users were all deactivated since gets no session.
func (c *Console) useLink(w http.ResponseWriter, r *http.Request, v *visit) {
	hash, ok := linkToken(r)
	if !ok {
		c.linkGone(w, r, v)
		return
	}
	email, err := c.Store.UseSignInLink(r.Context(), hash)
	if err != nil {
		c.linkFailed(w, r, v, err)
		return
	}
	ms, err := c.Store.Memberships(r.Context(), email)
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	if len(ms) == 0 {
		c.Log.Info("sign-in link used by an address with no active user left")
		c.problem(w, r, v, http.StatusForbidden, "No active account",
			"This address has no active account in leadrelay any more, so you were not signed in. Ask an owner or admin of your organization to reactivate you.")
		return
	}
	// A session this browser had before is ended rather than left behind.
	if ck, err := r.Cookie(sessionCookie); err == nil && ck.Value != "" {
		if err := c.Store.DeleteSession(r.Context(), domain.HashToken(ck.Value)); err != nil {
			c.failed(w, r, v, err)
			return
		}
	}
	user, to := "", "/app/orgs"
	if len(ms) == 1 {
		user, to = ms[0].UserID, "/app/"
		if next := safeNext(r.PostFormValue("next")); next != "" {
			to = next
		}
	}
	if err := c.startSession(w, r, email, user); err != nil {
		c.failed(w, r, v, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: nextCookie, Value: "", Path: "/app/signin/", HttpOnly: true, Secure: c.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
	c.Log.Info("signed in", zap.Int("orgs", len(ms)))
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// linkFailed is a link that cannot be used (410), or a failure.
func (c *Console) linkFailed(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	if domain.ErrorCode(err) == domain.ENotFound {
		c.linkGone(w, r, v)
		return
	}
	c.failed(w, r, v, err)
}

// linkGone answers a used, expired or unknown link alike, with 410 Gone:
// the three look the same to whoever holds the link, and telling them apart
// would help only someone guessing.
func (c *Console) linkGone(w http.ResponseWriter, r *http.Request, v *visit) {
	c.render(w, r, http.StatusGone, "signin_gone", view{Title: "This sign-in link cannot be used", V: v})
}

// safeNext is p when it is a page of the console to go back to, else "":
// a path on this site under /app/, never another site's address (//host,
// scheme:), so the sign-in cannot be used to send someone elsewhere.
func safeNext(p string) string {
	if !strings.HasPrefix(p, "/app/") || strings.ContainsAny(p, "\\\r\n\t") || strings.HasPrefix(p, "/app/signin") || len(p) > 2000 {
		return ""
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || !strings.HasPrefix(u.Path, "/app/") ||
		strings.Contains(u.Path, "/../") || strings.HasSuffix(u.Path, "/..") {
		return ""
	}
	return p
}

// orgsPage lists the orgs the session's address is an active user of, to
// act in one.
func (c *Console) orgsPage(w http.ResponseWriter, r *http.Request, v *visit) {
	ms, err := c.Store.Memberships(r.Context(), v.Session.Email)
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	current := ""
	if u := v.User(); u != nil {
		current = u.ID
	}
	c.render(w, r, http.StatusOK, "orgs", view{Title: "Choose an organization", V: v,
		Data: map[string]any{"Orgs": ms, "Current": current}})
}

// pickOrg makes the session act as one of its address's active users; any
// other user id is not found.
func (c *Console) pickOrg(w http.ResponseWriter, r *http.Request, v *visit) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		c.toSignIn(w, r)
		return
	}
	if err := c.Store.ActAs(r.Context(), domain.HashToken(ck.Value), r.PostFormValue("user_id")); err != nil {
		if domain.ErrorCode(err) == domain.ENotFound {
			c.notFound(w, r, v)
			return
		}
		c.failed(w, r, v, err)
		return
	}
	http.Redirect(w, r, "/app/", http.StatusSeeOther)
}

// signOut ends the session and its cookie.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request, v *visit) {
	if err := c.endSession(w, r); err != nil {
		c.failed(w, r, v, err)
		return
	}
	http.Redirect(w, r, "/app/signin?done=signed-out", http.StatusSeeOther)
}
