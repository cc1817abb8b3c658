package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/app"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/workflows"
)

// returnSource saves a source of tn whose returns tell addr, through the API.
func (s *stack) returnSource(t *testing.T, tn tenant, slug, addr string, comments bool, tmpl any) string {
	t.Helper()
	r := s.do(t, "PUT", "/v1/orgs/"+tn.id+"/sources/"+slug, tn.ownerToken, map[string]any{"name": "Quote " + slug,
		"routing": map[string]any{"mode": "staff_evenly"}, "return_notification_emails": []string{addr},
		"include_comments_on_return": comments, "return_template": tmpl})
	if r.status != 201 {
		t.Fatalf("put source %s: %d %s", slug, r.status, r.raw)
	}
	return r.str("api_key")
}

// waitMails waits until addr has n emails, then a moment more so a
// duplicate would show, and returns them.
func (s *stack) waitMails(t *testing.T, addr string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for len(s.mailsFor(addr)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d emails, want %d", addr, len(s.mailsFor(addr)), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	var subjects []string
	for _, m := range s.mailsFor(addr) {
		subjects = append(subjects, m.Subject)
	}
	return subjects
}

// TestReturnsEndToEnd: a manager returns one lead with comments through a
// source that includes them (built-in email) and one through a source with
// its own template that does not; each vendor address gets its email exactly
// once, with the comments only where included; the leads are `returned`,
// unassigned, with the reason on the timeline; a second return is 409; a
// template that cannot work is refused when the source is saved; a return
// recorded without its run is finished by the reconciler; and the return
// runs' histories hold neither the reason nor the comments nor anyone's data.
func TestReturnsEndToEnd(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	tn := s.newTenant(t, "returns", 2, nil)
	stamp := time.Now().UnixNano()
	vendorA, vendorB := fmt.Sprintf("returns-a-%d@vendor.example", stamp), fmt.Sprintf("returns-b-%d@vendor.example", stamp)

	bad := s.do(t, "PUT", "/v1/orgs/"+tn.id+"/sources/badtmpl", tn.ownerToken, map[string]any{"name": "Bad",
		"routing": map[string]any{"mode": "owner"}, "return_template": "Subject: {{.Reason}}\nHello {{.LeadNmae}}"})
	if bad.status != 422 || !strings.Contains(bad.errField("return_template"), "return_template:2:8: unknown field .LeadNmae") {
		t.Fatalf("a bad template saved: %d %s", bad.status, bad.raw)
	}
	if r := s.do(t, "GET", "/v1/orgs/"+tn.id+"/sources", tn.ownerToken, nil); strings.Contains(r.raw2(), "badtmpl") {
		t.Fatalf("the refused source was saved: %s", r.raw)
	}

	keyA := s.returnSource(t, tn, "withcomments", vendorA, true, nil)
	keyB := s.returnSource(t, tn, "withtemplate", vendorB, false,
		"Subject: Returned {{.ExternalID}}\n\n{{.OrgName}} sends {{.LeadName}} back: {{.Reason}}.{{if .Comments}}\nNotes: {{.Comments}}{{end}}")
	var ids []string
	for _, key := range []string{keyA, keyB} {
		r := s.do(t, "POST", "/v1/leads", key, lead(fmt.Sprintf("ret-%d-%d", len(ids), stamp)))
		if r.status != 202 {
			t.Fatalf("post: %d %s", r.status, r.raw)
		}
		ids = append(ids, r.str("lead_id"))
		history(t, s, r.str("workflow_id")) // routed
	}
	manager := s.addUser(t, tn, "Meg Manager", "manager")
	staff := s.addUser(t, tn, "Stan Staff", "staff")
	const reasonA, reasonB = "Duplicate of an earlier lead, says Rita", "Wrong number, says Rita"
	const comments = "Called twice on Tuesday; Rita thinks it is a prank"
	if r := s.do(t, "POST", "/v1/leads/"+ids[0]+"/return", staff.token, map[string]any{"reason": reasonA}); r.status != 403 {
		t.Fatalf("staff returns: %d %s", r.status, r.raw)
	}
	if r := s.do(t, "POST", "/v1/leads/"+ids[0]+"/return", manager.token, map[string]any{"reason": "", "comments": comments}); r.status != 422 ||
		r.errField("reason") == "" {
		t.Fatalf("no reason: %d %s", r.status, r.raw)
	}
	for i, reason := range []string{reasonA, reasonB} {
		r := s.do(t, "POST", "/v1/leads/"+ids[i]+"/return", manager.token, map[string]any{"reason": reason, "comments": comments})
		st := stateOf(t, r)
		if r.str("status") != "returned" || st.assigned != "" || r.body["location"] != nil || st.last["kind"] != "returned" ||
			!strings.HasSuffix(fmt.Sprint(st.last["message"]), "by Meg Manager: "+reason) {
			t.Fatalf("return %d: %s", i, r.raw)
		}
	}
	if r := s.do(t, "POST", "/v1/leads/"+ids[0]+"/return", manager.token, map[string]any{"reason": "again"}); r.status != 409 {
		t.Fatalf("second return: %d %s", r.status, r.raw)
	}

	recorded := map[string]string{"return_history.json": workflows.ReturnWorkflowID(ids[0]),
		"return_template_history.json": workflows.ReturnWorkflowID(ids[1])}
	for _, wfID := range recorded {
		history(t, s, wfID)
	}
	if got := s.waitMails(t, vendorA, 1); len(got) != 1 || got[0] != "Lead returned by returns: Ada Lovelace" {
		t.Fatalf("vendor A got %q", got)
	}
	a := s.mailsFor(vendorA)[0]
	for _, want := range []string{reasonA, comments, "Meg Manager", "withcomments"} {
		if !strings.Contains(a.Text, want) {
			t.Errorf("vendor A's email lacks %q:\n%s", want, a.Text)
		}
	}
	if got := s.waitMails(t, vendorB, 1); len(got) != 1 || !strings.HasPrefix(got[0], "Returned ret-1-") {
		t.Fatalf("vendor B got %q", got)
	}
	b := s.mailsFor(vendorB)[0]
	if !strings.Contains(b.Text, "sends Ada Lovelace back: "+reasonB+".") || strings.Contains(b.Text, "Rita thinks") ||
		strings.Contains(b.Text, "Notes:") {
		t.Errorf("vendor B's email, without comments:\n%s", b.Text)
	}
	for i, addr := range []string{vendorA, vendorB} {
		l := s.do(t, "GET", "/v1/leads/"+ids[i], tn.ownerToken, nil)
		if !strings.Contains(l.raw2(), `"return email sent to `+addr+`"`) {
			t.Errorf("lead %d's timeline lacks its email: %s", i, l.raw)
		}
	}

	// A return recorded without its run (a crash after the commit): the
	// reconciler starts it, and the vendor hears of it once.
	vendorC := fmt.Sprintf("returns-c-%d@vendor.example", stamp)
	keyC := s.returnSource(t, tn, "lost", vendorC, true, nil)
	p := s.do(t, "POST", "/v1/leads", keyC, lead(fmt.Sprintf("ret-lost-%d", stamp)))
	history(t, s, p.str("workflow_id"))
	lost := p.str("lead_id")
	if _, err := s.store().ReturnLead(ctx, tn.id, domain.Changer{}, lost, domain.ReturnInput{Reason: "lost run"},
		workflows.ReturnWorkflowID(lost)); err != nil {
		t.Fatal(err)
	}
	pass, err := app.Reconcile(ctx, s.deps, 0)
	if err != nil || pass.Returns < 1 {
		t.Fatalf("reconcile pass %+v: %v", pass, err)
	}
	history(t, s, workflows.ReturnWorkflowID(lost))
	if got := s.waitMails(t, vendorC, 1); len(got) != 1 {
		t.Fatalf("vendor C got %q", got)
	}
	if _, err := app.Reconcile(ctx, s.deps, 0); err != nil {
		t.Fatal(err)
	}
	if got := s.waitMails(t, vendorC, 1); len(got) != 1 {
		t.Fatalf("vendor C after a second pass got %q", got)
	}

	secrets := []string{reasonA, reasonB, comments, "Rita", "Ada", "Lovelace", "ada@example.com", "312 555 0100", vendorA, vendorB,
		"Meg Manager", manager.token, tn.ownerToken, keyA, keyB, s.admin}
	checkHistories(t, s, recorded, secrets)
}
