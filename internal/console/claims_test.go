package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
)

func TestTheQueueShowsTheRepsOwnClaimsCountingDown(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, _ := h.org(t, "Queue Agency")
	rep := h.user(t, o.ID, domain.RoleStaff, "Rita Rep")
	other := h.user(t, o.ID, domain.RoleStaff, "Olga Other")
	src := h.source(t, o.ID, domain.Routing{Mode: domain.RouteQueue, QueueDelay: "0s"})
	h.lead(t, src, "First")
	h.lead(t, src, "Second")
	ctx := context.Background()
	mine, found, err := h.store.ClaimNext(ctx, o.ID, rep.ID)
	if err != nil || !found {
		t.Fatalf("claim: %v %v", found, err)
	}
	if _, _, err := h.store.ClaimNext(ctx, o.ID, other.ID); err != nil {
		t.Fatal(err)
	}
	b := h.signedIn(t, rep)
	p := b.get("/app/queue")
	if p.status != 200 {
		t.Fatalf("GET /app/queue: %d\n%s", p.status, p.body)
	}
	// America/Chicago is the harness org's timezone.
	until := mine.ExpiresAt.In(mustZone(t, "America/Chicago")).Format("15:04")
	for _, want := range []string{"Request a lead", `id="claim-` + mine.LeadID + `"`, "First Lead",
		`<time data-countdown datetime="` + mine.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z07:00") + `">until ` + until} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the rep's queue page lacks %q\n%s", want, p.body)
		}
	}
	if strings.Contains(p.body, "Second Lead") {
		t.Errorf("the rep's queue page shows the other rep's claim")
	}

	// Released from the queue page: back in the queue, and off the page.
	p = b.post("/app/leads/"+mine.LeadID+"/release", url.Values{"csrf": {b.csrf("/app/queue")}, "back": {"queue"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/queue?done=lead-released" {
		t.Fatalf("release: %d to %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	if l := h.getLead(t, mine.LeadID); deref(l.Location) != "queue" || l.AssignedTo != nil {
		t.Fatalf("the released lead is at %q assigned to %q", deref(l.Location), deref(l.AssignedTo))
	}
	p = b.get("/app/queue?done=lead-released")
	if strings.Contains(p.body, "First Lead") || !strings.Contains(p.body, "The lead is back in the queue.") || !strings.Contains(p.body, "You hold no claimed lead.") {
		t.Errorf("after releasing, the queue page:\n%s", p.body)
	}
}

func TestAQueuedLeadMarkedInvalidWithoutAReasonStaysClaimed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, _ := h.org(t, "Invalid Agency")
	rep := h.user(t, o.ID, domain.RoleStaff, "Rita Rep")
	src := h.source(t, o.ID, domain.Routing{Mode: domain.RouteQueue, QueueDelay: "0s"})
	h.lead(t, src, "Kept")
	cl, _, err := h.store.ClaimNext(context.Background(), o.ID, rep.ID)
	if err != nil {
		t.Fatal(err)
	}
	before := h.getLead(t, cl.LeadID)
	b := h.signedIn(t, rep)
	p := b.post("/app/leads/"+cl.LeadID+"/invalid", url.Values{"csrf": {b.csrf("/app/queue")}, "back": {"queue"}, "reason": {""}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="invalid-reason-err">required: 1 to 1000 characters of text</p>`) {
		t.Fatalf("invalid without a reason: %d\n%s", p.status, p.body)
	}
	sameLead(t, "the refused invalid", before, h.getLead(t, cl.LeadID))
	// Worked from the queue page keeps it, and its window stops.
	p = b.post("/app/leads/"+cl.LeadID+"/worked", url.Values{"csrf": {b.csrf("/app/queue")}, "back": {"queue"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/queue?done=lead-worked" {
		t.Fatalf("worked: %d to %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	if l := h.getLead(t, cl.LeadID); deref(l.AssignedTo) != rep.ID {
		t.Fatalf("the worked lead is assigned to %q", deref(l.AssignedTo))
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
