package workflows

import (
	"fmt"
	"strconv"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
)

// RerouteBatchSize is how many leads one RerouteBatch activity reroutes:
// large enough that thousands of leads take few events, small enough that a
// page finishes in seconds and a retried page redoes little.
const RerouteBatchSize = 100

// RerouteBatchesPerRun is how many pages one run handles before it continues
// as new: about six events a page keeps a run near 600 events (10,000
// leads), far below Temporal's limits however many leads the user had.
const RerouteBatchesPerRun = 100

// QueryRerouteProgress answers with the RerouteResult so far.
const QueryRerouteProgress = "progress"

// RerouteWorkflowID names the run that reroutes a user's team-owned leads
// after their n-th deactivation (store.User.Deactivations). Repeating the
// same deactivation (a PATCH retried, the reconciler) finds the same run;
// deactivating the user again after a reactivation starts a new one. At most
// 8 + 36 + 1 + 19 bytes of printable ASCII.
func RerouteWorkflowID(userID string, deactivation int) string {
	return "reroute/" + userID + "/" + strconv.Itoa(deactivation)
}

// RerouteInput starts the reroute of one deactivated user's team-owned
// leads, or continues it (continue-as-new) from After with the totals so far.
// Ids and counts only.
type RerouteInput struct {
	UserID       string `json:"user_id"`
	OrgID        string `json:"org_id"`
	Deactivation int    `json:"deactivation"` // which deactivation of the user: the ID's last part
	// After is the last lead id handled by the runs before this one ("" at
	// the start); Done is what they did.
	After string        `json:"after,omitempty"`
	Done  RerouteResult `json:"done"`
	// BatchSize and BatchesPerRun override RerouteBatchSize and
	// RerouteBatchesPerRun (tests); 0 means the default.
	BatchSize     int `json:"batch_size,omitempty"`
	BatchesPerRun int `json:"batches_per_run,omitempty"`
}

// RerouteResult is what a reroute did, over all its runs.
type RerouteResult struct {
	Rerouted    int  `json:"rerouted"`
	Skipped     int  `json:"skipped,omitempty"` // leads that were no longer the user's when their turn came
	Batches     int  `json:"batches"`
	Reactivated bool `json:"reactivated,omitempty"` // the user came back: the rest stays with them
}

// RerouteWorkflow sends the team-owned leads assigned to a deactivated user
// back through their source's routing at the org that holds them (SPEC §5.2,
// store.RerouteLead), a page per activity, and continues as new every
// BatchesPerRun pages so its history stays small for any number of leads.
// Agent-owned leads stay with their owner. The user's reactivation stops it.
func RerouteWorkflow(ctx workflow.Context, in RerouteInput) (RerouteResult, error) {
	size, perRun := orDefault(in.BatchSize, RerouteBatchSize), orDefault(in.BatchesPerRun, RerouteBatchesPerRun)
	logger := log.With(workflow.GetLogger(ctx), "UserID", in.UserID, "OrgID", in.OrgID)
	res, after := in.Done, in.After
	if err := workflow.SetQueryHandler(ctx, QueryRerouteProgress, func() (RerouteResult, error) { return res, nil }); err != nil {
		return res, err
	}
	actx := workflow.WithActivityOptions(ctx, batchOptions) // an outage delays the reroute, never drops it
	var a *activities.Activities
	workflow.SetCurrentDetails(ctx, rerouteNow(res, false))
	for page := 0; ; page++ {
		if page == perRun {
			next := in
			next.After, next.Done = after, res
			logger.Info("rerouting continues as new", "Rerouted", res.Rerouted, "Batches", res.Batches)
			return res, workflow.NewContinueAsNewError(ctx, RerouteWorkflow, next)
		}
		var b activities.RerouteBatchResult
		err := workflow.ExecuteActivity(named(actx, fmt.Sprintf("reroute page %d (up to %d leads)", res.Batches+1, size)), a.RerouteBatch,
			activities.RerouteBatchInput{UserID: in.UserID, After: after, Limit: size}).
			Get(ctx, &b)
		if err != nil {
			logger.Error("rerouting failed", "Error", err)
			return res, err
		}
		res.Batches++
		res.Rerouted += b.Rerouted
		res.Skipped += b.Skipped
		res.Reactivated = b.Reactivated
		workflow.SetCurrentDetails(ctx, rerouteNow(res, b.Reactivated || !b.More))
		if b.Reactivated || !b.More {
			break
		}
		after = b.Last
	}
	logger.Info("rerouted a deactivated user's leads", "Rerouted", res.Rerouted, "Skipped", res.Skipped,
		"Batches", res.Batches, "Reactivated", res.Reactivated)
	return res, nil
}
