package console

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// The webhooks pages, through the real API: an owner adds an endpoint and
// sees its secret once, a refused URL is shown next to its field, the log
// lists the deliveries with a Resend button, and staff do not see any of it.
func TestAnOwnerAddsAWebhookAndResendsADelivery(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Hooks Agency")
	staff := h.user(t, o.ID, domain.RoleStaff, "Sam Staff")
	b := h.signedIn(t, owner)
	csrf := b.csrf("/app/webhooks")
	p := b.post("/app/webhooks", url.Values{"csrf": {csrf}, "url": {"http://127.0.0.1:9/inside"}, "events": {"lead.received"}})
	if p.status != http.StatusUnprocessableEntity || errNextTo(p.body, "url") == "" || !strings.Contains(p.body, `value="lead.received" checked`) {
		t.Fatalf("a loopback URL: %d, want 422 next to the URL with the events kept\n%s", p.status, p.body)
	}
	p = b.post("/app/webhooks", url.Values{"csrf": {csrf}, "url": {"https://93.184.216.34/crm"}, "events": {"lead.received", "claim.*"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, `id="webhook-secret">whsec_`) {
		t.Fatalf("add: %d\n%s", p.status, p.body)
	}
	// html/template writes a base64 secret's + as &#43;: read the pages as
	// text, as a browser shows them.
	m := regexp.MustCompile(`id="webhook-secret">(whsec_[^<]+)<`).FindStringSubmatch(html.UnescapeString(p.body))
	if m == nil || len(m[1]) < 40 {
		t.Fatal("the page that adds the endpoint does not show its secret")
	}
	secret := m[1]
	shown := func(body string) bool { return strings.Contains(html.UnescapeString(body), secret) }
	var id, row string
	if err := h.pool.QueryRow(t.Context(), `SELECT id::text, w::text FROM webhook_endpoints w WHERE org_id = $1`, o.ID).Scan(&id, &row); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(row, secret[len("whsec_"):]) {
		t.Fatalf("the database holds the secret in the clear: %s", row)
	}
	if list := b.get("/app/webhooks"); !strings.Contains(list.body, "https://93.184.216.34/crm") || shown(list.body) {
		t.Fatalf("the list: %d\n%s", list.status, list.body)
	}
	h.leads(t, o.ID, "web", "Hooked", 1)
	page := b.get("/app/webhooks/" + id)
	if page.status != http.StatusOK || shown(page.body) || !strings.Contains(page.body, "lead.received") {
		t.Fatalf("the endpoint page: %d\n%s", page.status, page.body)
	}
	var delivery int64
	if err := h.pool.QueryRow(t.Context(), `SELECT id FROM webhook_deliveries WHERE endpoint_id = $1`, id).Scan(&delivery); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.body, fmt.Sprintf("/deliveries/%d/resend", delivery)) {
		t.Fatalf("no Resend button for delivery %d", delivery)
	}
	p = b.post(fmt.Sprintf("/app/webhooks/%s/deliveries/%d/resend", id, delivery), url.Values{"csrf": {csrf}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/webhooks/"+id+"?done=webhook-resend" {
		t.Fatalf("resend: %d %s", p.status, p.header.Get("Location"))
	}
	if b.get("/app/webhooks/"+id+"?delete=1").body == "" {
		t.Fatal("no confirmation page")
	}
	if p = b.post("/app/webhooks/"+id+"/delete", url.Values{"csrf": {csrf}}); p.status != http.StatusSeeOther {
		t.Fatalf("delete: %d\n%s", p.status, p.body)
	}
	if n := h.count(t, `SELECT count(*) FROM webhook_endpoints WHERE org_id = $1`, o.ID); n != 0 {
		t.Fatalf("%d endpoints left", n)
	}
	// Staff: not in the menu, not there.
	s := h.signedIn(t, staff)
	if pg := s.get("/app/leads"); strings.Contains(pg.body, `href="/app/webhooks"`) {
		t.Error("staff see the Webhooks menu entry")
	}
	if pg := s.get("/app/webhooks"); pg.status != http.StatusNotFound {
		t.Errorf("staff open the webhooks page: %d", pg.status)
	}
}
