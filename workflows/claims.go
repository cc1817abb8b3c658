package workflows

import (
	"strconv"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
)

// ClaimWorkflowID names the run that holds one claim's window: the lead's
// seq-th claim, so a re-claim after an expiry is a run of its own. At most
// 6 + 36 + 1 + 10 bytes of printable ASCII.
func ClaimWorkflowID(leadID string, seq int) string {
	return "claim/" + leadID + "/" + strconv.Itoa(seq)
}

// ClaimInput starts a claim's run: which claim, and when its window ends
// (store.Claim.ExpiresAt, fixed at the claim). Ids, a number and a time.
type ClaimInput struct {
	LeadID   string    `json:"lead_id"`
	OrgID    string    `json:"org_id"`
	Seq      int       `json:"seq"`
	Deadline time.Time `json:"deadline"`
}

// ClaimResult is how the claim ended (domain.Claim*): expired when this run
// put the lead back in the queue; worked, released, invalid or ended when
// the rep or someone else had already settled it.
type ClaimResult struct {
	Outcome string `json:"outcome"`
}

// ClaimLeadStatus is the LeadStatus a claim's run ends with, its own
// outcome: claim_expired, claim_worked, claim_released, claim_invalid or
// claim_ended (while the window is open: "claimed").
func ClaimLeadStatus(outcome string) string { return "claim_" + outcome }

// ClaimWorkflow is a claim's window (SPEC §5.5): a durable timer to the
// deadline, then one activity that returns the lead to the queue only if
// the claim is still open and the lead still the claimer's. Working,
// releasing or invalidating the lead settles the claim in PostgreSQL, which
// the activity reads; nothing is signalled, so the history is the same
// dozen events whatever happened meanwhile.
func ClaimWorkflow(ctx workflow.Context, in ClaimInput) (ClaimResult, error) {
	logger := log.With(workflow.GetLogger(ctx), "LeadID", in.LeadID, "Seq", in.Seq)
	workflow.SetCurrentDetails(ctx, "**Window open** until "+in.Deadline.UTC().Format(time.RFC3339))
	if wait := in.Deadline.Sub(workflow.Now(ctx)); wait > 0 {
		if err := workflow.Sleep(ctx, wait); err != nil {
			return ClaimResult{}, err
		}
	}
	var a *activities.Activities
	var out activities.ClaimOutcome
	err := workflow.ExecuteActivity(act(ctx, bookkeepingOptions, "window over: back to the queue unless the claim was settled"), a.ExpireClaim,
		activities.ClaimRef{LeadID: in.LeadID, Seq: in.Seq}).Get(ctx, &out)
	if err != nil {
		return ClaimResult{}, err
	}
	workflow.SetCurrentDetails(ctx, "**"+out.Outcome+"**")
	logger.Info("claim window passed", "Outcome", out.Outcome)
	// LeadStatus is this run's own outcome, not the "claimed" it started
	// with; runs recorded before that end as they did.
	if workflow.GetVersion(ctx, "claim-outcome-status", workflow.DefaultVersion, 1) != workflow.DefaultVersion {
		if err := workflow.UpsertTypedSearchAttributes(ctx, LeadStatusKey.ValueSet(ClaimLeadStatus(out.Outcome))); err != nil {
			return ClaimResult{}, err
		}
	}
	return ClaimResult{Outcome: out.Outcome}, nil
}
