package api

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// caller is who made a request.
type caller struct {
	admin bool
	store.Principal
}

// asUser is the context key of a principal the console signed in; see AsUser.
type asUser struct{}

// AsUser returns ctx carrying p, a user the console authenticated by its
// session cookie. A request with this context is served as p, exactly as if
// it carried p's bearer token: the console calls the API's own handlers in
// the process, so a page can never apply a rule the API does not. Nothing
// from the wire can set it. USER_RATE_LIMIT counts the person's page views
// there, not each of the several calls a page makes here.
func AsUser(ctx context.Context, p store.Principal) context.Context {
	return context.WithValue(ctx, asUser{}, p)
}

func (s *Server) authenticate(r *http.Request) (*caller, error) {
	if p, ok := r.Context().Value(asUser{}).(store.Principal); ok && p.Kind == domain.TokenUser && p.User != nil {
		return &caller{Principal: p}, nil
	}
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	tok = strings.TrimSpace(tok)
	if !ok || tok == "" {
		return nil, domain.Errorf(domain.EUnauthorized, "missing bearer token")
	}
	hash := domain.HashToken(tok)
	if s.adminHash != nil && subtle.ConstantTimeCompare(hash, s.adminHash) == 1 {
		return &caller{admin: true}, nil
	}
	p, err := s.Store.Authenticate(r.Context(), hash)
	if err != nil {
		if domain.ErrorCode(err) == domain.ENotFound {
			return nil, domain.Errorf(domain.EUnauthorized, "invalid token")
		}
		return nil, err
	}
	if p.Kind == domain.TokenUser && s.users != nil {
		// Keyed by the token, not the address: a user's script is limited
		// wherever it runs, and colleagues behind one NAT are not.
		if wait := s.users.take(string(hash)); wait > 0 {
			return nil, &tooFast{wait: wait, what: "too many requests with this token"}
		}
	}
	return &caller{Principal: p}, nil
}

// tooFast is a refusal for rate: 429 with Retry-After.
type tooFast struct {
	wait time.Duration
	what string
}

func (e *tooFast) Error() string { return e.what }

// member checks that the caller may see org (else 404) and, when manage is
// set, may change it (else 403). The admin token may do both anywhere.
func (s *Server) member(r *http.Request, org string, manage bool) (*caller, error) {
	c, err := s.authenticate(r)
	if err != nil {
		return nil, err
	}
	if c.admin {
		if _, err := s.Store.GetOrg(r.Context(), org); err != nil {
			return nil, err
		}
		return c, nil
	}
	if c.Kind == domain.TokenVendor {
		return nil, domain.Errorf(domain.EForbidden, "a vendor key may only post leads")
	}
	if c.OrgID != org {
		return nil, domain.Errorf(domain.ENotFound, "org not found")
	}
	if manage {
		if err := c.mayManage(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// mayManage checks that a member may change the org: its owner, an admin,
// or the admin token.
func (c *caller) mayManage() error {
	if !c.admin && !c.User.Role.ManagesOrg() {
		return domain.Errorf(domain.EForbidden, "only the org's owner or an admin may do this")
	}
	return nil
}
