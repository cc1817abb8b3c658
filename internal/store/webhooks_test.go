package store_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// Every timeline kind a webhook tells of maps to its event type, and the
// rest to none (docs/webhooks.md's table).
func TestWebhookTypeMapping(t *testing.T) {
	t.Parallel()
	p, _ := testenv.DB(t)
	for _, c := range []struct{ kind, data, want string }{
		{"received", `{}`, "lead.received"},
		{"routed", `{"assigned_to":"00000000-0000-0000-0000-000000000001"}`, "lead.assigned"},
		{"routed", `{"location":"pending"}`, ""},
		{"routed", `{"sub_agency":"x"}`, ""},
		{"assigned", `{"assigned_to":"x"}`, "lead.assigned"},
		{"ownership", `{"assigned_to":"x"}`, "lead.assigned"},
		{"ownership", `{"previous_owner":"x"}`, ""},
		{"sla_escalated", `{"from":"a","to":"b","step":1}`, "lead.assigned"},
		{"sla_escalated", `{"from":"a","to":null,"step":2}`, ""},
		{"sla_breached", `{}`, ""},
		{"worked", `{}`, "lead.worked"},
		{"transferred", `{}`, "lead.transferred"},
		{"returned", `{}`, "lead.returned"},
		{"handover_accepted", `{}`, "handover.accepted"},
		{"handover_rejected", `{}`, "handover.rejected"},
		{"handover_expired", `{}`, "handover.expired"},
		{"handover_withdrawn", `{}`, "handover.withdrawn"},
		{"claimed", `{}`, "claim.claimed"},
		{"released", `{}`, "claim.released"},
		{"claim_expired", `{}`, "claim.expired"},
		{"invalid", `{}`, ""},
		{"email_failed", `{}`, ""},
	} {
		var got *string
		must(t, p.QueryRow(ctx, `SELECT webhook_type($1, $2::jsonb)`, c.kind, c.data).Scan(&got))
		g := ""
		if got != nil {
			g = *got
		}
		if g != c.want {
			t.Errorf("webhook_type(%s, %s) = %q, want %q", c.kind, c.data, g, c.want)
		}
		if g != "" && !contains(domain.WebhookEvents, g) {
			t.Errorf("%s maps to %s, which domain.WebhookEvents does not list", c.kind, g)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// A timeline event writes one delivery per enabled endpoint of the org
// subscribed to its type (by name or family), in the event's order, with
// the payload frozen then; another org's endpoint hears nothing.
func TestTimelineWritesWebhookDeliveries(t *testing.T) {
	t.Parallel()
	s := committed(t)
	f := seed(t, s, 2, domain.SourceConfig{})
	other := seed(t, s, 1, domain.SourceConfig{Name: "Other", Routing: domain.Routing{Mode: domain.RouteStaffEvenly}})
	both, err := s.CreateWebhook(ctx, f.org.ID, "https://example.com/a", []string{"lead.received", "lead.assigned"}, []byte("sealed"), "whsec_…x")
	must(t, err)
	claims, err := s.CreateWebhook(ctx, f.org.ID, "https://example.com/b", []string{"claim.*"}, []byte("sealed"), "whsec_…x")
	must(t, err)
	off, err := s.CreateWebhook(ctx, f.org.ID, "https://example.com/c", []string{"lead.received"}, []byte("sealed"), "whsec_…x")
	must(t, err)
	p, _ := testenv.DB(t)
	_, err = p.Exec(ctx, `UPDATE webhook_endpoints SET disabled_at = now() WHERE id = $1`, off.ID)
	must(t, err)
	theirs, err := s.CreateWebhook(ctx, other.org.ID, "https://example.com/d", []string{"lead.received"}, []byte("sealed"), "whsec_…x")
	must(t, err)

	id := post(t, s, f, "w1", "").LeadID
	d, err := route(s, id)
	must(t, err)
	ds, err := s.WebhookDeliveriesForLead(ctx, id)
	must(t, err)
	if len(ds) != 2 || ds[0].EndpointID != both.ID || ds[0].Type != "lead.received" || ds[1].Type != "lead.assigned" ||
		ds[0].EventID >= ds[1].EventID || ds[0].Status != "pending" || ds[0].MsgID == ds[1].MsgID || len(ds[0].MsgID) != 36 {
		t.Fatalf("deliveries %+v", ds)
	}
	for _, e := range []string{claims.ID, off.ID, theirs.ID} {
		log, err := s.WebhookDeliveries(ctx, e, 10)
		must(t, err)
		if len(log) != 0 {
			t.Fatalf("endpoint %s got %+v", e, log)
		}
	}
	m, err := s.WebhookMessage(ctx, ds[1].ID)
	must(t, err)
	var frozen struct {
		SchemaVersion int `json:"schema_version"`
		Lead          struct {
			ID         string `json:"id"`
			AssignedTo string `json:"assigned_to"`
			Email      string `json:"email"`
		} `json:"lead"`
	}
	must(t, json.Unmarshal(m.Payload, &frozen))
	if frozen.SchemaVersion != 1 || frozen.Lead.ID != id || frozen.Lead.AssignedTo != d.AssignedTo || frozen.Lead.Email != "w1@example.com" {
		t.Fatalf("payload %s", m.Payload)
	}
	if _, err := s.Webhook(ctx, other.org.ID, both.ID); domain.ErrorCode(err) != domain.ENotFound {
		t.Fatalf("another org read the endpoint: %v", err)
	}
	next, err := s.NextWebhookDelivery(ctx, both.ID, id)
	must(t, err)
	if next != ds[0].ID {
		t.Fatalf("next %d, want %d", next, ds[0].ID)
	}
}

// A day of failures disables an endpoint, once, and says whom to tell; a
// success in between starts the day over.
func TestWebhookDisabledAfterADayOfFailures(t *testing.T) {
	t.Parallel()
	s := committed(t)
	p, _ := testenv.DB(t)
	f := seed(t, s, 1, domain.SourceConfig{})
	e, err := s.CreateWebhook(ctx, f.org.ID, "https://example.com/a", []string{"lead.received"}, []byte("sealed"), "whsec_…x")
	must(t, err)
	id := post(t, s, f, "d1", "").LeadID
	ds, err := s.WebhookDeliveriesForLead(ctx, id)
	must(t, err)
	fail := store.WebhookAttempt{DeliveryID: ds[0].ID, Status: 500, Latency: 12 * time.Millisecond, Error: "HTTP 500"}
	if off, err := s.RecordWebhookAttempt(ctx, fail); err != nil || off != nil {
		t.Fatalf("first failure: %v %v", off, err)
	}
	_, err = p.Exec(ctx, `UPDATE webhook_endpoints SET failing_since = now() - interval '25 hours' WHERE id = $1`, e.ID)
	must(t, err)
	off, err := s.RecordWebhookAttempt(ctx, fail)
	must(t, err)
	if off == nil || off.OwnerEmail != f.owner.Email || off.EndpointID != e.ID {
		t.Fatalf("a day of failures did not disable: %+v", off)
	}
	if again, err := s.RecordWebhookAttempt(ctx, fail); err != nil || again != nil {
		t.Fatalf("disabled twice: %v %v", again, err)
	}
	w, err := s.Webhook(ctx, f.org.ID, e.ID)
	must(t, err)
	if w.DisabledAt == nil || w.DisabledReason == "" {
		t.Fatalf("endpoint %+v", w)
	}
	must(t, s.EnableWebhook(ctx, f.org.ID, e.ID))
	if _, err := s.RecordWebhookAttempt(ctx, store.WebhookAttempt{DeliveryID: ds[0].ID, OK: true, Status: 204}); err != nil {
		t.Fatal(err)
	}
	log, err := s.WebhookDeliveries(ctx, e.ID, 10)
	must(t, err)
	if log[0].Status != "delivered" || log[0].Attempts != 4 || *log[0].LastStatus != 204 {
		t.Fatalf("log %+v", log[0])
	}
	must(t, s.ResendWebhookDelivery(ctx, f.org.ID, e.ID, ds[0].ID))
	if err := s.ResendWebhookDelivery(ctx, f.org.ID, e.ID, ds[0].ID+1000000); domain.ErrorCode(err) != domain.ENotFound {
		t.Fatalf("resend of another: %v", err)
	}
}
