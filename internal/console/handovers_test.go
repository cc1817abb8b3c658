package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// handOver links from to to and hands the leads over to to's manager
// pipeline, as a transfer's batch does (without the review runs Temporal
// would start).
func (h *harness) handOver(t *testing.T, from, to string, ids ...string) {
	t.Helper()
	ctx := context.Background()
	on := true
	for _, org := range []string{from, to} {
		if _, _, err := h.store.UpdateOrg(ctx, org, store.OrgPatch{HandoverEnabled: &on}); err != nil {
			t.Fatal(err)
		}
	}
	id := domain.NewID()
	tr, _, err := h.store.CreateTransfer(ctx, store.NewTransfer{ID: id, OrgID: from, ToOrgID: to, Mode: domain.TransferManagerReview,
		RequestedBy: "admin", RequestHash: []byte(id), WorkflowID: "transfer/" + id, LeadIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.store.MoveTransferBatch(ctx, store.TransferBatch{TransferID: tr.ID, Size: 500})
	if err != nil || out.Moved != len(ids) {
		t.Fatalf("handover: %+v %v", out, err)
	}
}

// pipelineFixture is a parent with two children, each child handed leads.
type pipelineFixture struct {
	parent, child, sibling store.Org
	childMgr, siblingMgr   store.User
	parentMgr, childRep    store.User
	mine, theirs           []string
}

func newPipeline(t *testing.T, h *harness) pipelineFixture {
	t.Helper()
	var f pipelineFixture
	f.parent, _ = h.org(t, "Parent Agency")
	f.child, _ = h.org(t, "Child Agency")
	f.sibling, _ = h.org(t, "Sibling Agency")
	for _, c := range []string{f.child.ID, f.sibling.ID} {
		if err := h.store.LinkOrgs(context.Background(), f.parent.ID, c); err != nil {
			t.Fatal(err)
		}
	}
	f.parentMgr = h.user(t, f.parent.ID, domain.RoleManager, "Pat Parent")
	f.childMgr = h.user(t, f.child.ID, domain.RoleManager, "Carla Child")
	f.childRep = h.user(t, f.child.ID, domain.RoleProfessional, "Pete Pro")
	f.siblingMgr = h.user(t, f.sibling.ID, domain.RoleManager, "Sid Sibling")
	src := h.source(t, f.parent.ID, domain.Routing{Mode: domain.RoutePending})
	f.mine = []string{h.lead(t, src, "Alpha"), h.lead(t, src, "Bravo")}
	f.theirs = []string{h.lead(t, src, "Zulu")}
	h.handOver(t, f.parent.ID, f.child.ID, f.mine...)
	h.handOver(t, f.parent.ID, f.sibling.ID, f.theirs...)
	return f
}

func TestThePipelineListsOnlyThisOrgsWaitingLeads(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	f := newPipeline(t, h)
	p := h.signedIn(t, f.childMgr).get("/app/pipeline")
	if p.status != 200 {
		t.Fatalf("GET /app/pipeline: %d\n%s", p.status, p.body)
	}
	for _, id := range f.mine {
		if !strings.Contains(p.body, `id="handover-`+id+`"`) {
			t.Errorf("the child's pipeline lacks its lead %s", id)
		}
	}
	for _, want := range []string{"Alpha Lead", "Bravo Lead", "Parent Agency", "data-countdown", `<option value="` + f.childRep.ID + `">Pete Pro (professional)</option>`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the child's pipeline lacks %q", want)
		}
	}
	if strings.Contains(p.body, f.theirs[0]) || strings.Contains(p.body, "Zulu") {
		t.Errorf("the child's pipeline shows the sibling's handover")
	}
	// The sender has nothing waiting.
	if p := h.signedIn(t, f.parentMgr).get("/app/pipeline"); p.status != 200 || !strings.Contains(p.body, "No handed-over lead is waiting.") {
		t.Errorf("the sender's pipeline: %d\n%s", p.status, p.body)
	}
}

func TestARefusedHandoverAnswerIsShownAtItsFieldAndChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	f := newPipeline(t, h)
	b := h.signedIn(t, f.childMgr)
	id := f.mine[0]
	before := h.getLead(t, id)

	p := b.post("/app/pipeline/"+id+"/reject", url.Values{"csrf": {b.csrf("/app/pipeline")}, "reason": {"   "}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `<p class="field-error" id="reason-`+id+`-err">required: 1 to 1000 characters of text</p>`) {
		t.Errorf("reject without a reason: %d\n%s", p.status, p.body)
	}
	p = b.post("/app/pipeline/"+id+"/accept", url.Values{"csrf": {b.csrf("/app/pipeline")}, "assign_to": {""}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="assign-`+id+`-err">a user id</p>`) {
		t.Errorf("accept without a user: %d\n%s", p.status, p.body)
	}
	// The sibling's manager may not answer the child's handover: not found.
	s := h.signedIn(t, f.siblingMgr)
	if p := s.post("/app/pipeline/"+id+"/accept", url.Values{"csrf": {s.csrf("/app/pipeline")}, "assign_to": {f.childRep.ID}}); p.status != http.StatusNotFound {
		t.Errorf("another org's manager accepting: %d\n%s", p.status, p.body)
	}
	sameLead(t, "the refused answers", before, h.getLead(t, id))
	if hv, err := h.store.PendingHandover(context.Background(), id); err != nil || hv.ToOrgID != f.child.ID {
		t.Fatalf("the handover no longer waits at the child: %+v %v", hv, err)
	}
}
