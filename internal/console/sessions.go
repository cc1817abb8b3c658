package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// Cookie names. The session cookie holds the session's plain token; the
// pre-session cookie only anchors the CSRF token of the forms a person fills
// in before signing in.
const (
	sessionCookie = "lr_session"
	preCookie     = "lr_pre"
)

// visit is one request's view of who is asking.
type visit struct {
	// Session is the signed-in session (nil on a public page without one).
	Session *store.Session
	// CSRF is the token every form of this page carries.
	CSRF string
	// Path is the request's path, for the navigation's current page.
	Path string
	// Flash is a message from the action that led here.
	Flash string
	// Paused: the signed-in user's leads are paused (the header's button).
	Paused bool
}

// User is the user the session acts as (nil before an org is picked).
func (v *visit) User() *store.User {
	if v.Session == nil {
		return nil
	}
	return v.Session.User
}

// Role is the signed-in user's role ("" when none).
func (v *visit) Role() string {
	if u := v.User(); u != nil {
		return string(u.Role)
	}
	return ""
}

// Manages reports an owner or admin.
func (v *visit) Manages() bool { u := v.User(); return u != nil && u.Role.ManagesOrg() }

// AnswersHandovers reports a role that works the manager pipeline.
func (v *visit) AnswersHandovers() bool { u := v.User(); return u != nil && u.Role.AnswersHandovers() }

// csrfOf derives a form token from a cookie's secret value: only a page
// that could read the cookie (ours, HttpOnly) can know it, and nothing more
// needs to be stored.
func csrfOf(secret string) string {
	h := sha256.Sum256([]byte("leadrelay-csrf\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(h[:18])
}

// session finds the request's session; nil when there is none or it ended.
func (c *Console) session(r *http.Request) (*store.Session, string) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 100 {
		return nil, ""
	}
	s, err := c.Store.SessionByHash(r.Context(), domain.HashToken(ck.Value), c.IdleTimeout)
	if err != nil {
		return nil, ""
	}
	return &s, ck.Value
}

// preSecret returns the pre-session cookie's value, setting one if absent.
func (c *Console) preSecret(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(preCookie); err == nil && len(ck.Value) >= 20 && len(ck.Value) <= 100 {
		return ck.Value
	}
	v, _ := domain.NewToken("")
	http.SetCookie(w, &http.Cookie{Name: preCookie, Value: v, Path: "/app/", HttpOnly: true, Secure: c.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: 24 * 3600})
	return v
}

// startSession sets the cookie of a new session for email (acting as
// userID when set) and records it.
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, email, userID string) error {
	plain, hash := domain.NewToken("lrs_")
	expires := time.Now().Add(c.Lifetime)
	if err := c.Store.CreateSession(r.Context(), hash, email, userID, expires); err != nil {
		return err
	}
	http.SetCookie(w, c.sessionCookie(plain, expires))
	return nil
}

func (c *Console) sessionCookie(plain string, expires time.Time) *http.Cookie {
	return &http.Cookie{Name: sessionCookie, Value: plain, Path: "/", HttpOnly: true, Secure: c.secure,
		SameSite: http.SameSiteLaxMode, Expires: expires}
}

// endSession deletes the request's session and its cookie.
func (c *Console) endSession(w http.ResponseWriter, r *http.Request) error {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		if err := c.Store.DeleteSession(r.Context(), domain.HashToken(ck.Value)); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: c.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
	return nil
}

// csrfOK checks a form's token against the one this visit's cookie gives.
func csrfOK(r *http.Request, want string) bool {
	got := r.PostFormValue("csrf")
	return want != "" && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// AssignsLeads reports an owner, admin or manager: who edits groups,
// previews routing and reads the fairness report.
func (v *visit) AssignsLeads() bool { u := v.User(); return u != nil && u.Role.AssignsLeads() }
