package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/api"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/openapicheck"
	"github.com/leadrelay/leadrelay/workflows"
)

// described sends a request through the running stack, expects status want
// and holds the answer to the API's OpenAPI description.
func (s *stack) described(t *testing.T, spec *openapicheck.Spec, method, path, token string, body any, want int, hdr map[string]string) resp {
	t.Helper()
	r := s.doWith(t, method, path, token, hdr, body)
	if r.status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, r.status, r.raw, want)
	}
	if err := spec.CheckAnswer(method, path, r.status, r.header, r.raw); err != nil {
		t.Error(err)
	}
	return r
}

// TestAnswersMatchTheDescriptionEndToEnd holds the answers that need
// running workflows to the description (internal/api's test covers the
// rest on PostgreSQL alone): readiness against a real Temporal, a lead
// routed by the worker with its emails on the timeline, every way an
// invitation is answered (JSON and the HTML page: accept, decline, revoke,
// and the 409s after), and a handover accepted and rejected with both
// feeds.
func TestAnswersMatchTheDescriptionEndToEnd(t *testing.T) {
	s := up(t)
	spec, err := openapicheck.Load(api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, token string, body any, want int) resp {
		t.Helper()
		return s.described(t, spec, method, path, token, body, want, nil)
	}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}

	call("GET", "/readyz", "", nil, 200)
	call("GET", "/healthz", "", nil, 200)
	call("GET", "/v1/openapi.json", "", nil, 200)

	m := s.newTenant(t, "oa-master", 2, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"},
		"purchase_notification_emails": []string{"buyer@oa-master.example"}})
	post := call("POST", "/v1/leads", m.vendorKey, map[string]any{"external_id": "oa-1", "first_name": "Ada", "email": "ada@example.com"}, 202)
	s.waitRouted(t, m.sourceID, 1)
	s.waitMail(t, "buyer@oa-master.example", 1, 30*time.Second)
	call("GET", "/v1/leads/"+post.str("lead_id"), m.ownerToken, nil, 200)
	call("GET", "/v1/orgs/"+m.id+"/leads", m.ownerToken, nil, 200)

	// Invitations, answered every way.
	invite := func(email string) (id, token string) {
		t.Helper()
		before := len(s.mailsFor(email))
		r := call("POST", "/v1/orgs/"+m.id+"/invitations", m.ownerToken, map[string]string{"email": email}, 202)
		msgs := s.waitMail(t, email, before+1, 30*time.Second)
		link := inviteLinkRE.FindStringSubmatch(msgs[len(msgs)-1].Text)
		if link == nil {
			t.Fatalf("no link in %q", msgs[len(msgs)-1].Text)
		}
		return r.str("id"), link[2]
	}
	sub := s.newTenant(t, "oa-sub", 1, nil)
	_, tok := invite(ownerEmail(t, s, sub))
	call("GET", "/invitations/"+tok, "", nil, 200)
	call("POST", "/v1/invitations/"+tok+"/accept", sub.ownerToken, map[string]string{"org_id": sub.id}, 200)
	call("POST", "/v1/invitations/"+tok+"/accept", "", nil, 409)
	call("POST", "/invitations/"+tok+"/accept", "", []byte(""), 409)

	paged := s.newTenant(t, "oa-paged", 0, nil)
	_, tok = invite(ownerEmail(t, s, paged))
	s.described(t, spec, "POST", "/invitations/"+tok+"/accept", "", []byte("org_id="+paged.id), 200, form)

	declined := s.newTenant(t, "oa-declined", 0, nil)
	_, tok = invite(ownerEmail(t, s, declined))
	call("POST", "/v1/invitations/"+tok+"/decline", "", nil, 200)
	s.described(t, spec, "POST", "/invitations/"+tok+"/decline", "", []byte(""), 409, form)

	revoked := s.newTenant(t, "oa-revoked", 0, nil)
	id, tok := invite(ownerEmail(t, s, revoked))
	call("DELETE", "/v1/orgs/"+m.id+"/invitations/"+id, m.ownerToken, nil, 200)
	call("GET", "/invitations/"+tok, "", nil, 409)
	call("POST", "/v1/invitations/"+tok+"/decline", "", nil, 409)
	call("GET", "/v1/orgs/"+m.id+"/invitations", m.ownerToken, nil, 200)
	call("GET", "/v1/orgs/"+m.id+"/sub-agencies", m.ownerToken, nil, 200)

	// A handover, accepted and rejected.
	call("PATCH", "/v1/orgs/"+m.id, m.ownerToken, map[string]any{"handover_enabled": true}, 200)
	var leads []string
	for _, ext := range []string{"oa-h1", "oa-h2"} {
		leads = append(leads, call("POST", "/v1/leads", m.vendorKey, map[string]any{"external_id": ext, "phone": "555 0100 123"}, 202).str("lead_id"))
	}
	s.waitRouted(t, m.sourceID, 3)
	_, sender := s.user(t, m, "manager")
	_, reviewer := s.user(t, sub, "manager")
	tr := call("POST", "/v1/orgs/"+m.id+"/transfers", sender, map[string]any{"to_org": sub.id, "lead_ids": leads, "mode": "manager_review"}, 202)
	s.waitTransfer(t, m.id, sender, tr.str("id"), time.Minute)
	call("GET", "/v1/orgs/"+sub.id+"/transfers/"+tr.str("id"), reviewer, nil, 200)
	for _, l := range leads {
		wf := workflows.HandoverWorkflowID(l, tr.str("id"))
		waitFor(t, 30*time.Second, "review run "+wf, func() bool {
			_, err := s.deps.Temporal.DescribeWorkflowExecution(context.Background(), wf, "")
			return err == nil
		})
	}
	call("POST", "/v1/leads/"+leads[0]+"/handover/accept", reviewer, map[string]any{"assign_to": sub.staff[0]}, 200)
	call("POST", "/v1/leads/"+leads[1]+"/handover/reject", reviewer, map[string]any{"reason": "outside our territory"}, 200)
	call("POST", "/v1/leads/"+leads[1]+"/handover/reject", reviewer, map[string]any{"reason": "again"}, 409)
	call("POST", "/v1/leads/"+domain.NewID()+"/handover/reject", reviewer, map[string]any{"reason": "again"}, 404)
	call("GET", "/v1/orgs/"+m.id+"/feed", m.ownerToken, nil, 200)
	call("GET", "/v1/orgs/"+sub.id+"/feed", sub.ownerToken, nil, 200)
	call("GET", "/v1/leads/"+leads[0], sub.ownerToken, nil, 200)
}
