package workflows

import (
	"errors"
	"strconv"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
)

// WebhookWorkflowID names the run that sends one lead's deliveries to one
// endpoint: the pair is the business key, and one run per pair is what
// keeps a lead's events in order at that endpoint. 8+36+1+36 = 81 bytes.
func WebhookWorkflowID(endpointID, leadID string) string {
	return "webhook/" + endpointID + "/" + leadID
}

// WebhookSignal tells a pair's run that a delivery was added: the pump
// sends it with the start (signal-with-start), so a run about to finish
// looks again rather than leave the new delivery for the next pass.
const WebhookSignal = "webhook_added"

// WebhookInput starts the run of one (endpoint, lead) pair. Ids only: the
// payloads, the URL and the secret stay in PostgreSQL.
type WebhookInput struct {
	EndpointID string `json:"endpoint_id"`
	LeadID     string `json:"lead_id"`
	OrgID      string `json:"org_id"`
}

// WebhookResult counts what the run did before it finished or continued
// as new.
type WebhookResult struct {
	Delivered int `json:"delivered"`
	Failed    int `json:"failed"`
}

// WebhookActivityOptions retry a delivery that failed (no answer, or not
// a 2xx) with exponential backoff from a second to an hour, for up to 24
// hours from its first attempt (about 35 attempts: the day ends before
// MaximumAttempts, which is there so the SDK's test environment does not
// cap them at its default 10); an attempt gets 30 s (the client's own
// timeout is 15 s).
var WebhookActivityOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    30 * time.Second,
	ScheduleToCloseTimeout: 24 * time.Hour,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    time.Hour,
		MaximumAttempts:    1000,
	},
}

// webhookRunDeliveries is how many deliveries a run sends before it
// continues as new: a run's history holds about four events each, so
// it stays under a thousand events however long the lead lives.
const webhookRunDeliveries = 200

// WebhookWorkflow sends one lead's webhook deliveries to one endpoint, one
// at a time in the order of the lead's timeline (issue 19): the next waits
// until the one before is delivered or given up. Each is retried for up
// to a day; then it is recorded failed and the next goes. It ends when
// none is pending and no signal says one was added; the pump starts it
// again for the lead's next event.
func WebhookWorkflow(ctx workflow.Context, in WebhookInput) (WebhookResult, error) {
	logger := log.With(workflow.GetLogger(ctx), "LeadID", in.LeadID, "EndpointID", in.EndpointID)
	var a *activities.Activities
	var res WebhookResult
	added := workflow.GetSignalChannel(ctx, WebhookSignal)
	pair := activities.WebhookPair{EndpointID: in.EndpointID, LeadID: in.LeadID}
	for sent := 0; ; {
		id, err := nextWebhook(ctx, pair)
		if err != nil {
			return res, err
		}
		if id == 0 {
			if drained(added) {
				continue
			}
			workflow.SetCurrentDetails(ctx, "**Done**: "+strconv.Itoa(res.Delivered)+" delivered, "+strconv.Itoa(res.Failed)+" failed")
			return res, nil
		}
		workflow.SetCurrentDetails(ctx, "sending delivery "+strconv.FormatInt(id, 10))
		var out activities.WebhookOutcome
		err = workflow.ExecuteActivity(act(ctx, WebhookActivityOptions, "POST the signed event to the endpoint"), a.DeliverWebhook,
			activities.WebhookSend{DeliveryID: id}).Get(ctx, &out)
		switch {
		case err != nil:
			if errors.Is(err, workflow.ErrCanceled) {
				return res, err
			}
			logger.Warn("webhook delivery given up", "DeliveryID", id, "Error", err)
			res.Failed++
			if err := workflow.ExecuteActivity(act(ctx, bookkeepingOptions, "record the delivery failed"), a.FailWebhook,
				activities.WebhookFailure{DeliveryID: id, Reason: failureAfter(err, WebhookActivityOptions)}).Get(ctx, nil); err != nil {
				return res, err
			}
		case out.Outcome == activities.WebhookDelivered:
			res.Delivered++
		default:
			res.Failed++
		}
		if out.DisabledAt != nil {
			// Told once per disablement however many runs find it (the
			// outbox key holds the time); a mail outage does not hold up
			// the lead's other deliveries' bookkeeping for long.
			err := workflow.ExecuteActivity(act(ctx, EmailActivityOptions, "email the owner the endpoint was disabled"),
				a.EmailWebhookDisabled, activities.WebhookDisabledNotice{EndpointID: out.EndpointID, DisabledAt: *out.DisabledAt}).Get(ctx, nil)
			if err != nil {
				logger.Error("could not email the owner of a disabled endpoint", "Error", err)
			}
		}
		if sent++; sent >= webhookRunDeliveries || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// The signals only say "look again": the new run looks first.
			drained(added)
			return res, workflow.NewContinueAsNewError(ctx, WebhookWorkflow, in)
		}
	}
}

// nextWebhook reads the pair's next pending delivery as a local activity
// (one query: no server round trip, no activity task a killed worker would
// hold for its timeout); a database outage longer than its minute falls
// back to a regular activity, whose retries add no events.
func nextWebhook(ctx workflow.Context, pair activities.WebhookPair) (int64, error) {
	var a *activities.Activities
	var id int64
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		Summary:                "find the lead's next pending delivery",
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    500 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    5 * time.Second,
		},
	})
	err := workflow.ExecuteLocalActivity(lctx, a.NextWebhook, pair).Get(ctx, &id)
	if err == nil {
		return id, nil
	}
	err = workflow.ExecuteActivity(act(ctx, bookkeepingOptions, "find the lead's next pending delivery, after a minute without PostgreSQL"),
		a.NextWebhook, pair).Get(ctx, &id)
	return id, err
}

// drained empties the channel and says whether it held anything.
func drained(ch workflow.ReceiveChannel) bool {
	got := false
	for ch.ReceiveAsync(nil) {
		got = true
	}
	return got
}
