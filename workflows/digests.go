package workflows

import (
	"strconv"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
)

// DigestWorkflowID names the run of one org-local day's digest:
// digest/<org id>/<YYYY-MM-DD>, and /<n> after it for the n-th later batch
// of that day (NEW_LEAD_DIGEST_DELAY only). At most 62 bytes of printable
// ASCII.
func DigestWorkflowID(orgID, day string, batch int) string {
	id := "digest/" + orgID + "/" + day
	if batch > 0 {
		id += "/" + strconv.Itoa(batch)
	}
	return id
}

// DigestInput starts one digest batch: which org, day and batch, and the
// instant it goes out, planned from the org's timezone when the batch was
// recorded (domain.DigestSchedule.Plan), so the run itself computes nothing
// from a clock or a zone database. Ids, a date and an instant only.
type DigestInput struct {
	OrgID  string    `json:"org_id"`
	Day    string    `json:"day"` // org-local, YYYY-MM-DD
	Batch  int       `json:"batch,omitempty"`
	FireAt time.Time `json:"fire_at"`
}

// DigestResult is what a digest did, in counts.
type DigestResult struct {
	Leads      int  `json:"leads"`
	Recipients int  `json:"recipients"`
	Refused    int  `json:"refused,omitempty"`
	Failed     bool `json:"failed,omitempty"` // retries ran out: nothing more will be sent
}

// digestEmailOptions are EmailActivityOptions with room for one email per
// subscribed user of an org, each attempt heartbeating between recipients.
var digestEmailOptions = func() workflow.ActivityOptions {
	o := EmailActivityOptions
	o.StartToCloseTimeout = 10 * time.Minute
	o.HeartbeatTimeout = time.Minute
	return o
}()

// DigestWorkflow sends one batch of an org's new-lead digest (SPEC §5.4): a
// durable timer until FireAt, then one activity that reads the batch's
// leads and subscribers from PostgreSQL and emails each subscriber once.
// Nothing is signalled per lead, so the history is the same dozen events for
// one lead or 10,000. An SMTP outage only delays it (the email activity
// retries for a week); a week of failures is recorded, not retried for ever.
func DigestWorkflow(ctx workflow.Context, in DigestInput) (DigestResult, error) {
	logger := log.With(workflow.GetLogger(ctx), "OrgID", in.OrgID, "Day", in.Day, "Batch", in.Batch)
	if wait := in.FireAt.Sub(workflow.Now(ctx)); wait > 0 {
		if err := workflow.Sleep(ctx, wait); err != nil {
			return DigestResult{}, err
		}
	}
	var a *activities.Activities
	ref := activities.DigestRef{OrgID: in.OrgID, Day: in.Day, Batch: in.Batch}
	var sent activities.DigestSent
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, digestEmailOptions), a.SendDigest, ref).Get(ctx, &sent)
	res := DigestResult{Leads: sent.Leads, Recipients: sent.Recipients, Refused: sent.Refused}
	if err != nil {
		logger.Error("digest failed for good", "Error", err)
		err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, bookkeepingOptions), a.FailDigest,
			activities.DigestFailure{DigestRef: ref, Reason: failureReason(err)}).Get(ctx, nil)
		res.Failed = true
		return res, err
	}
	logger.Info("digest sent", "Leads", res.Leads, "Recipients", res.Recipients, "Refused", res.Refused)
	return res, nil
}
