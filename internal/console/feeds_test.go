package console

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// transferred makes n leads of from's org, routes them and moves them to
// toOrg in one transfer, as the transfer's run does through the store: each
// move writes a feed event to both orgs. It returns the leads' ids.
func (h *harness) transferred(t *testing.T, from store.User, toOrg string, n int) []string {
	t.Helper()
	ctx := context.Background()
	src, _, _, err := h.store.PutSource(ctx, from.OrgID, "feedsource", domain.SourceConfig{Name: "Feed Source",
		Routing: domain.Routing{Mode: domain.RouteOwner}, Priority: "normal"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range n {
		in := domain.LeadInput{ExternalID: fmt.Sprintf("feed-%d", i), FirstName: "Fay", LastName: fmt.Sprintf("Feed%02d", i), Email: "fay@feed.test"}
		l, err := h.store.InsertLead(ctx, store.NewLead{SourceID: src.ID, OrgID: from.OrgID, Slug: "feedsource",
			WorkflowID: "lead/feed-" + domain.NewID(), ReceivedAt: time.Now(), In: in})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.store.RouteLead(ctx, store.RouteRequest{LeadID: l.LeadID}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, l.LeadID)
	}
	tr, _, err := h.store.CreateTransfer(ctx, store.NewTransfer{ID: domain.NewID(), OrgID: from.OrgID, ToOrgID: toOrg,
		Mode: domain.TransferOwner, RequestedBy: from.ID, RequestHash: []byte("feed-test"), WorkflowID: "transfer/feed-" + domain.NewID(), LeadIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.MoveTransferBatch(ctx, store.TransferBatch{TransferID: tr.ID, Size: 500}); err != nil {
		t.Fatal(err)
	}
	return ids
}

// The feed page shows a transfer from both sides: the sender's reads
// "Transferred out … to <receiver>", the receiver's "Transferred in … from
// <sender>", each line linking the lead; 51 events page at 50 with a link
// to the older one. Another org's user sees none of it.
func TestFeedShowsATransferFromBothSides(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	master, owner := h.org(t, "Feed Master")
	sub, _ := h.org(t, "Feed Sub")
	if err := h.store.LinkOrgs(context.Background(), master.ID, sub.ID); err != nil {
		t.Fatal(err)
	}
	ids := h.transferred(t, owner, sub.ID, 51)

	p := h.signedIn(t, owner).get("/app/feed")
	if p.status != 200 {
		t.Fatalf("GET /app/feed: %d\n%s", p.status, p.body)
	}
	if n := strings.Count(p.body, "Transferred out"); n != 50 {
		t.Errorf("the first page shows %d transfers out, want 50", n)
	}
	// The 51 events are written in one transaction, so which of them is
	// oldest is the store's to decide: the first page links 50 of the
	// leads, and the older page holds the one it left out.
	var left []string
	for _, id := range ids {
		if !strings.Contains(p.body, `href="/app/leads/`+id+`"`) {
			left = append(left, id)
		}
	}
	if len(left) != 1 || !strings.Contains(p.body, "to Feed Sub") || !strings.Contains(p.body, " sent to Feed Sub") {
		t.Errorf("the first page does not name 50 of the leads, link them and say where they went (%d not linked):\n%s", len(left), p.body)
	}
	i := strings.Index(p.body, `href="/app/feed?cursor=`)
	if i < 0 {
		t.Fatalf("no link to older events:\n%s", p.body)
	}
	next := p.body[i+len(`href="`):]
	next = strings.ReplaceAll(next[:strings.Index(next, `"`)], "&amp;", "&")
	older := h.signedIn(t, owner).get(next)
	if n := strings.Count(older.body, "Transferred out"); older.status != 200 || n != 1 || len(left) != 1 || !strings.Contains(older.body, left[0]) {
		t.Errorf("GET %s: %d with %d events, want the oldest one", next, older.status, n)
	}

	in := h.signedIn(t, h.user(t, sub.ID, domain.RoleStaff, "Sub Staff")).get("/app/feed")
	if in.status != 200 || strings.Count(in.body, "Transferred in") != 50 || !strings.Contains(in.body, "from Feed Master") {
		t.Errorf("the receiving org's feed: %d\n%s", in.status, in.body)
	}

	_, strangerOwner := h.org(t, "Feed Stranger")
	s := h.signedIn(t, strangerOwner).get("/app/feed")
	if s.status != 200 || strings.Contains(s.body, "Fay Feed") || !strings.Contains(s.body, "Nothing yet") {
		t.Errorf("another org's feed shows the transfer: %d\n%s", s.status, s.body)
	}
}
