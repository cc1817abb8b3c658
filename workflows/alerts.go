package workflows

import (
	"strconv"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
)

// AlertWorkflowID names the run of one instant alert: the alert's id is
// the assignment's business key (one row per lead, user and assigning
// transaction), under its lead so a lead's alerts list together. At most
// 6+36+1+19 = 62 bytes.
func AlertWorkflowID(leadID string, alertID int64) string {
	return "alert/" + leadID + "/" + strconv.FormatInt(alertID, 10)
}

// AlertInput starts the run that emails one assignment's assignee. Ids
// only: the lead's data and the address stay in PostgreSQL.
type AlertInput struct {
	AlertID int64  `json:"alert_id"`
	LeadID  string `json:"lead_id"`
	OrgID   string `json:"org_id"`
	UserID  string `json:"user_id"`
}

// AlertResult is what the alert did: sent, skipped (the user turned alerts
// off, or the lead moved on, before it went out) or failed (recorded on the
// lead's timeline).
type AlertResult struct {
	Outcome string `json:"outcome"`
}

// AlertWorkflow sends one instant alert (issue 18) once its assignment has
// committed. The email activity retries an SMTP outage for up to a week;
// after that, or on a refusal no retry can mend, the failure is recorded on
// the lead's timeline and the run completes: the lead stays assigned either
// way, and nothing about routing waits on this run.
func AlertWorkflow(ctx workflow.Context, in AlertInput) (AlertResult, error) {
	logger := log.With(workflow.GetLogger(ctx), "LeadID", in.LeadID, "AlertID", in.AlertID)
	var a *activities.Activities
	var outcome string
	err := workflow.ExecuteActivity(act(ctx, EmailActivityOptions, "email the assignee the lead's essentials"), a.SendAlert,
		activities.AlertRun{AlertID: in.AlertID}).Get(ctx, &outcome)
	if err == nil {
		workflow.SetCurrentDetails(ctx, "**"+outcome+"**")
		logger.Info("alert dealt with", "Outcome", outcome)
		return AlertResult{Outcome: outcome}, nil
	}
	logger.Error("alert email failed for good", "Error", err)
	workflow.SetCurrentDetails(ctx, "**Failed**: recorded on the lead's timeline")
	err = workflow.ExecuteActivity(act(ctx, bookkeepingOptions, "record the alert email that failed"), a.RecordAlertFailure,
		activities.AlertFailure{AlertID: in.AlertID, Reason: failureReason(err)}).Get(ctx, nil)
	return AlertResult{Outcome: activities.AlertFailed}, err
}
