package workflows

import (
	"fmt"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
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
