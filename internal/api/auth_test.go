package api

import (
	"strings"
	"testing"
)

// publicRoutes need no token: health, the description, and the invitation
// links, whose token in the path is the credential.
var publicRoutes = map[string]bool{
	"GET /healthz": true, "GET /readyz": true, "GET /v1/openapi.json": true,
	"GET /invitations/{token}": true, "POST /invitations/{token}/accept": true, "POST /invitations/{token}/decline": true,
	"POST /v1/invitations/{token}/accept": true, "POST /v1/invitations/{token}/decline": true,
}

// Every route of the route table that needs a token answers 401 to a
// request without one, or with a bad one, before it looks at the body: an
// empty body is not a 400 or a 422 to someone who has not said who they are.
func TestEveryRouteAuthenticatesFirst(t *testing.T) {
	ts := newTestServer(t, true, nil)
	id := "0b9a2c3e-6f1d-4a8b-9c2d-1e2f3a4b5c6d"
	fill := strings.NewReplacer("{org}", id, "{user}", id, "{id}", id, "{sub}", id, "{slug}", "everquote")
	for _, rt := range (&Server{}).routes() {
		name := rt.method + " " + rt.pattern
		if publicRoutes[name] {
			continue
		}
		target := fill.Replace(rt.pattern)
		for _, tok := range []string{"", "lru_not-a-real-token-0123456789"} {
			if a := ts.do(t, rt.method, target, tok, "", ""); a.status != 401 || !strings.Contains(a.body, `"code":"unauthorized"`) {
				t.Errorf("%s with token %q and an empty body: %d %s, want 401", name, tok, a.status, a.body)
			}
		}
	}
}
