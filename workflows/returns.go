package workflows

import (
	"context"
	"fmt"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// ReturnWorkflowID names the run that tells a returned lead's vendor: a lead
// is returned at most once, so its id is the business key. 43 bytes.
func ReturnWorkflowID(leadID string) string { return "return/" + leadID }

// ReturnInput starts the run that emails a return's addresses. Ids only:
// the reason and the comments are in PostgreSQL.
type ReturnInput struct {
	LeadID string `json:"lead_id"`
	OrgID  string `json:"org_id"` // the org that returned it
}

// ReturnResult is what the return's emails did.
type ReturnResult struct {
	Addresses int  `json:"addresses"`
	Refused   int  `json:"refused,omitempty"` // refused for good, each on the lead's timeline
	Failed    bool `json:"failed,omitempty"`  // given up on: every unsent email recorded failed
}

// ReturnWorkflow emails the return addresses of the source that received a
// returned lead (SPEC §5.5), once the return has committed. The email
// activity retries an SMTP outage for up to a week; after that, or on a
// failure no retry can mend, what did not go out is recorded failed on the
// lead's timeline and the run completes: the lead is returned either way.
func ReturnWorkflow(ctx workflow.Context, in ReturnInput) (ReturnResult, error) {
	logger := log.With(workflow.GetLogger(ctx), "LeadID", in.LeadID, "OrgID", in.OrgID)
	var a *activities.Activities
	var n activities.ReturnNotified
	err := workflow.ExecuteActivity(act(ctx, EmailActivityOptions, "return emails to the source's return addresses"), a.NotifyReturn,
		activities.ReturnRun{LeadID: in.LeadID}).Get(ctx, &n)
	if err == nil {
		workflow.SetCurrentDetails(ctx, fmt.Sprintf("**Emailed** %d address(es), %d refused", n.Addresses, n.Refused))
		logger.Info("return emails sent", "Addresses", n.Addresses, "Refused", n.Refused)
		return ReturnResult{Addresses: n.Addresses, Refused: n.Refused}, nil
	}
	logger.Error("return emails failed for good", "Error", err)
	workflow.SetCurrentDetails(ctx, "**Failed**: the emails not sent are recorded on the lead's timeline")
	err = workflow.ExecuteActivity(act(ctx, bookkeepingOptions, "record the return emails that failed"), a.RecordReturnFailure,
		activities.ReturnFailure{LeadID: in.LeadID, Reason: failureReason(err)}).Get(ctx, nil)
	return ReturnResult{Addresses: n.Addresses, Failed: true}, err
}

// StartReturn starts a return's run, or finds the one running. The API calls
// it once the return has committed; the reconciler for a return whose
// emails were never dealt with (a crash between the commit and the start, a
// run terminated). A completed run dealt with every address, so only a
// failed one is started again. names name the lead, its source and the
// returning org in the run's summary.
func StartReturn(ctx context.Context, tc client.Client, queue string, in ReturnInput, slug string, names store.RunNames) error {
	return startOrFind(ctx, tc, client.StartWorkflowOptions{
		ID:                       ReturnWorkflowID(in.LeadID),
		StaticSummary:            ReturnSummary(in, names),
		StaticDetails:            returnDetails(in),
		TaskQueue:                queue,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes: temporal.NewSearchAttributes(OrgIDKey.ValueSet(in.OrgID), LeadIDKey.ValueSet(in.LeadID),
			LeadSourceKey.ValueSet(slug), LeadStatusKey.ValueSet(domain.StatusReturned)),
	}, ReturnWorkflow, in)
}
