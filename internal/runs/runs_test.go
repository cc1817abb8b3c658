package runs_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/runs"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
	"github.com/leadrelay/leadrelay/workflows"
)

// recorder is the Temporal client as far as a start sees it: it keeps what
// each start asked for and answers err.
type recorder struct {
	client.Client
	opts []client.StartWorkflowOptions
	wfs  []any
	err  error
}

func (r *recorder) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, wf any, _ ...any) (client.WorkflowRun, error) {
	r.opts = append(r.opts, o)
	r.wfs = append(r.wfs, wf)
	return nil, r.err
}

func sameFunc(a, b any) bool { return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer() }

// What an operator finds of each start in the Web UI: the run under its
// business ID on the worker's queue, its summary naming the org by name
// (read from PostgreSQL), and a repeated start finding the running one.
func TestEachStartNamesItsRunAndFindsTheRunningOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Tx(t)
	org, owner, _, err := st.CreateOrg(ctx, "Summit Insurance Group", "UTC", "owner@runs-starts.example", "O")
	if err != nil {
		t.Fatal(err)
	}
	to, _, _, err := st.CreateOrg(ctx, "North Agency", "UTC", "owner@runs-starts-north.example", "N")
	if err != nil {
		t.Fatal(err)
	}
	lead, transfer, invitation := domain.NewID(), domain.NewID(), domain.NewID()
	cases := []struct {
		name    string
		start   func(runs.Starter) error
		id      string
		wf      any
		reuse   enums.WorkflowIdReusePolicy
		summary string // "" : the run has none
	}{
		{"lead", func(s runs.Starter) error {
			return s.Lead(ctx, workflows.LeadWorkflowID(lead), workflows.LeadInput{LeadID: lead, OrgID: org.ID, Slug: "everquote"}, runs.RestartClosed)
		}, workflows.LeadWorkflowID(lead), workflows.LeadWorkflow, enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE, "Summit Insurance Group"},
		{"lead hop", func(s runs.Starter) error {
			return s.LeadHop(ctx, activities.HopRun{LeadID: lead, OrgID: to.ID, Slug: "everquote"})
		}, workflows.HopWorkflowID(lead, to.ID), workflows.LeadWorkflow, enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE, "North Agency (hop 1)"},
		{"invitation", func(s runs.Starter) error {
			return s.Invitation(ctx, workflows.InvitationInput{InvitationID: invitation, MasterOrgID: org.ID, ExpiresAt: time.Now().Add(time.Hour)})
		}, workflows.InvitationWorkflowID(invitation), workflows.InvitationWorkflow, enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
			"Summit Insurance Group"},
		{"reroute", func(s runs.Starter) error {
			return s.Reroute(ctx, workflows.RerouteInput{UserID: owner.ID, OrgID: org.ID, Deactivation: 1}, runs.RestartFailed)
		}, workflows.RerouteWorkflowID(owner.ID, 1), workflows.RerouteWorkflow, enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
			"Summit Insurance Group"},
		{"transfer", func(s runs.Starter) error {
			return s.Transfer(ctx, workflows.TransferInput{TransferID: transfer, Mode: domain.TransferOwner, Total: 3}, org.ID, to.ID)
		}, workflows.TransferWorkflowID(transfer), workflows.TransferWorkflow, enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
			"Summit Insurance Group → North Agency"},
		{"handover", func(s runs.Starter) error {
			return s.Handover(ctx, activities.HandoverRun{LeadID: lead, TransferID: transfer, FromOrgID: org.ID, ToOrgID: to.ID})
		}, workflows.HandoverWorkflowID(lead, transfer), workflows.HandoverWorkflow, enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
			"Summit Insurance Group → North Agency"},
		{"claim", func(s runs.Starter) error {
			return s.Claim(ctx, store.Claim{LeadID: lead, OrgID: org.ID, UserID: owner.ID, Seq: 2, ExpiresAt: time.Now().Add(time.Hour)})
		}, workflows.ClaimWorkflowID(lead, 2), workflows.ClaimWorkflow, enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
			"at Summit Insurance Group"},
		{"return", func(s runs.Starter) error {
			return s.Return(ctx, workflows.ReturnInput{LeadID: lead, OrgID: org.ID}, "everquote")
		}, workflows.ReturnWorkflowID(lead), workflows.ReturnWorkflow, enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
			"by Summit Insurance Group"},
		{"distribution", func(s runs.Starter) error {
			return s.Distribution(ctx, workflows.OnDemandDistributionID(org.ID, "everquote", "k"),
				workflows.DistributeInput{OrgID: org.ID, Slug: "everquote", Mode: domain.RouteOwner, Slot: workflows.OnDemandSlot("k")}, runs.RestartClosed)
		}, workflows.OnDemandDistributionID(org.ID, "everquote", "k"), workflows.DistributeWorkflow, enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			"of Summit Insurance Group"},
		{"digest", func(s runs.Starter) error {
			return s.Digest(ctx, workflows.DigestInput{OrgID: org.ID, Day: "2026-12-05", FireAt: time.Now()})
		}, workflows.DigestWorkflowID(org.ID, "2026-12-05", 0), workflows.DigestWorkflow, enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{err: serviceerror.NewWorkflowExecutionAlreadyStarted("running", "", "")}
			if err := c.start(runs.Starter{Temporal: rec, Store: st, Queue: "leadrelay-test"}); err != nil {
				t.Fatalf("a run already going must be found, not refused: %v", err)
			}
			if len(rec.opts) != 1 {
				t.Fatalf("%d starts, want 1", len(rec.opts))
			}
			o := rec.opts[0]
			if o.ID != c.id || o.TaskQueue != "leadrelay-test" || !sameFunc(rec.wfs[0], c.wf) {
				t.Errorf("started %q on %q, want %q on leadrelay-test with the capability's workflow", o.ID, o.TaskQueue, c.id)
			}
			if o.WorkflowIDReusePolicy != c.reuse || o.WorkflowIDConflictPolicy != enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING {
				t.Errorf("reuse %v, conflict %v; want %v, USE_EXISTING", o.WorkflowIDReusePolicy, o.WorkflowIDConflictPolicy, c.reuse)
			}
			if !strings.Contains(o.StaticSummary, c.summary) || (c.summary == "") != (o.StaticSummary == "") {
				t.Errorf("summary %q, want it to name %q", o.StaticSummary, c.summary)
			}
			if org, ok := o.TypedSearchAttributes.GetKeyword(workflows.OrgIDKey); !ok || org == "" {
				t.Errorf("no OrgID search attribute (%d attributes): the run cannot be found by org", o.TypedSearchAttributes.Size())
			}
		})
	}
}

// A patient start (the API's) goes through Retry, and a refusal other than
// "already started" comes back as an error: the caller answers 503 or
// leaves the run to the reconciler rather than report it started.
func TestRetryWrapsTheStartAndRefusalsComeBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Tx(t)
	refused := errors.New("search attribute not yet usable")
	rec := &recorder{err: refused}
	tries := 0
	s := runs.Starter{Temporal: rec, Store: st, Queue: "q", Retry: func(ctx context.Context, start func(context.Context) error) error {
		for range 3 {
			tries++
			if err := start(ctx); err == nil {
				return nil
			}
		}
		return start(ctx)
	}}
	err := s.Digest(ctx, workflows.DigestInput{OrgID: domain.NewID(), Day: "2026-12-05"})
	if !errors.Is(err, refused) || len(rec.opts) != 4 || tries != 3 {
		t.Fatalf("err %v after %d starts (%d retried): want the refusal after 4", err, len(rec.opts), tries)
	}
}

// A sign-in link's run belongs to an address, not an org: it is found by
// the link's id, and neither its summary, details nor attributes name the
// address (a history holds ids, never a person's address).
func TestSignInStartNamesNoOne(t *testing.T) {
	t.Parallel()
	link := domain.NewID()
	rec := &recorder{err: serviceerror.NewWorkflowExecutionAlreadyStarted("running", "", "")}
	s := runs.Starter{Temporal: rec, Queue: "leadrelay-test"}
	if err := s.SignIn(context.Background(), workflows.SignInInput{LinkID: link}); err != nil {
		t.Fatalf("a run already going must be found, not refused: %v", err)
	}
	if len(rec.opts) != 1 {
		t.Fatalf("%d starts, want 1", len(rec.opts))
	}
	o := rec.opts[0]
	if o.ID != "signin/"+link || o.TaskQueue != "leadrelay-test" || !sameFunc(rec.wfs[0], workflows.SignInWorkflow) {
		t.Errorf("started %q on %q, want signin/%s on leadrelay-test with SignInWorkflow", o.ID, o.TaskQueue, link)
	}
	if o.WorkflowIDReusePolicy != enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY || o.WorkflowIDConflictPolicy != enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING {
		t.Errorf("reuse %v, conflict %v", o.WorkflowIDReusePolicy, o.WorkflowIDConflictPolicy)
	}
	if o.StaticSummary == "" || strings.Contains(o.StaticSummary+o.StaticDetails, "@") || !strings.Contains(o.StaticDetails, link) {
		t.Errorf("summary %q, details %q: want a summary, the link's id and no address", o.StaticSummary, o.StaticDetails)
	}
}
