package api

import (
	"context"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// A server started without WEBHOOK_SECRET_KEY has nowhere safe to keep an
// endpoint's secret: creating one answers 503 saying what is missing, and
// writes nothing.
func TestWebhooksNeedTheSecretKey(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, map[string]string{"WEBHOOK_SECRET_KEY": ""})
	acme := newPeople(t, ts, "Acme")
	a := ts.do(t, "POST", "/v1/orgs/"+acme.org+"/webhooks", acme.tokens[domain.RoleOwner],
		`{"url":"https://93.184.216.34/hooks","events":["lead.received"],"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`, "")
	if a.status != 503 || !strings.Contains(a.body, "WEBHOOK_SECRET_KEY") || strings.Contains(a.body, "MfKQ9r8") {
		t.Fatalf("without a key: %d %s, want 503 naming WEBHOOK_SECRET_KEY", a.status, a.body)
	}
	var n int
	if err := ts.s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_endpoints WHERE org_id = $1`, acme.org).Scan(&n); err != nil || n != 0 {
		t.Fatalf("endpoints written: %d %v", n, err)
	}
}
