package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
)

// DistributeBatchSize is how many pending leads one activity distributes in
// one transaction, as a transfer batch moves.
const DistributeBatchSize = 500

// DistributeBatchesPerRun is how many batches one run handles before it
// continues as new: under a dozen events a batch keeps a run near a
// thousand events (50,000 leads) however many are pending.
const DistributeBatchesPerRun = 100

// QueryDistributionProgress answers with the DistributeResult so far.
const QueryDistributionProgress = "progress"

// DistributionScheduleID names the Temporal Schedule that distributes an
// org's source on a timetable; name tells an org's schedules for one source
// apart. It is also the schedule's workflow ID, to which Temporal appends
// each run's nominal time ("-2026-01-05T15:00:00Z"). At most 177 bytes, 198
// with the time.
func DistributionScheduleID(orgID, slug, name string) string {
	return "distribute/" + orgID + "/" + slug + "/" + name
}

// OnDemandDistributionID names the run of `starter distribute`: its key is
// the slot, so the same key finds the same run. A schedule's name cannot
// hold '/', so the two never collide. At most 187 bytes.
func OnDemandDistributionID(orgID, slug, key string) string {
	return "distribute/" + orgID + "/" + slug + "/on-demand/" + key
}

// ScheduledSlot is the slot of a schedule's run at its nominal time.
func ScheduledSlot(schedule string, nominal time.Time) string {
	return "schedule:" + schedule + "@" + nominal.UTC().Format(time.RFC3339)
}

// OnDemandSlot is the slot of an on-demand run.
func OnDemandSlot(key string) string { return "on-demand:" + key }

// DistributeInput starts a distribution of an org's pending leads of one
// source through Mode, or continues it (continue-as-new). Ids, the slug,
// words and counts only.
type DistributeInput struct {
	OrgID    string             `json:"org_id"`
	Slug     string             `json:"slug"`
	Mode     domain.RoutingMode `json:"mode"`               // owner, staff_evenly or sub_agencies_evenly
	Schedule string             `json:"schedule,omitempty"` // the schedule's name; "" on demand
	// Slot is the idempotency key. A schedule's action leaves it empty:
	// the run reads its nominal time from the workflow ID Temporal gave it.
	Slot string `json:"slot,omitempty"`
	// Where the runs before this one got to: the distribution they
	// recorded, the next batch, the last lead id and the totals.
	DistributionID string           `json:"distribution_id,omitempty"`
	Next           int              `json:"next,omitempty"`
	After          string           `json:"after,omitempty"`
	Done           DistributeResult `json:"done"`
	// BatchSize and BatchesPerRun override DistributeBatchSize and
	// DistributeBatchesPerRun (tests); 0 means the default.
	BatchSize     int `json:"batch_size,omitempty"`
	BatchesPerRun int `json:"batches_per_run,omitempty"`
}

// DistributeResult is what a distribution did, over all its runs.
type DistributeResult struct {
	DistributionID string `json:"distribution_id"`
	Slot           string `json:"slot"`
	Total          int    `json:"total"`       // pending when it began
	Distributed    int    `json:"distributed"` // assigned at the org
	PassedDown     int    `json:"passed_down"` // passed to sub-agencies, whose own routing places them
	Batches        int    `json:"batches"`
	// AlreadyDone: an earlier run distributed this slot; this one moved
	// nothing and reports what that one did.
	AlreadyDone bool `json:"already_done,omitempty"`
	Done        bool `json:"done"`
}

// distributeHopOptions give the hop starts of a batch (up to 500 starts)
// time, with heartbeats so a lost worker is noticed early.
var distributeHopOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 5 * time.Minute,
	HeartbeatTimeout:    30 * time.Second,
	RetryPolicy:         bookkeepingOptions.RetryPolicy,
}

// DistributeWorkflow distributes an org's pending leads of one source
// (SPEC §5.5): on a Temporal Schedule's slot or on demand, once per slot. It
// records the slot's distribution first — a slot already distributed moves
// nothing — then takes the pending leads in batches of one transaction
// each; a lead passed down to a sub-agency gets that sub-agency's own hop
// run. It continues as new every BatchesPerRun batches, so its history
// stays small for any number of leads.
func DistributeWorkflow(ctx workflow.Context, in DistributeInput) (DistributeResult, error) {
	size, perRun := orDefault(in.BatchSize, DistributeBatchSize), orDefault(in.BatchesPerRun, DistributeBatchesPerRun)
	logger := log.With(workflow.GetLogger(ctx), "OrgID", in.OrgID, "Slug", in.Slug)
	res := in.Done
	if err := workflow.SetQueryHandler(ctx, QueryDistributionProgress, func() (DistributeResult, error) { return res, nil }); err != nil {
		return res, err
	}
	var a *activities.Activities
	bctx := workflow.WithActivityOptions(ctx, bookkeepingOptions)
	if in.DistributionID == "" {
		slot, err := distributionSlot(ctx, in)
		if err != nil {
			return res, err
		}
		var d activities.Distribution
		err = workflow.ExecuteActivity(named(bctx, "record the slot "+slot), a.BeginDistribution, activities.DistributionStart{OrgID: in.OrgID, Slug: in.Slug,
			Mode: in.Mode, Schedule: in.Schedule, Slot: slot}).Get(ctx, &d)
		if err != nil {
			logger.Error("distribution not begun", "Slot", slot, "Error", err)
			return res, err
		}
		res = DistributeResult{DistributionID: d.DistributionID, Slot: slot, Total: d.Total}
		if d.Completed {
			res.Distributed, res.PassedDown, res.Batches = d.Distributed, d.PassedDown, d.Batches
			res.AlreadyDone, res.Done = true, true
			workflow.SetCurrentDetails(ctx, distributionNow(res))
			logger.Info("slot already distributed: nothing to do", "Slot", slot, "DistributionID", d.DistributionID)
			return res, nil
		}
		in.DistributionID, in.Slot = d.DistributionID, slot
	}
	actx := workflow.WithActivityOptions(ctx, batchOptions)
	hctx := workflow.WithActivityOptions(ctx, distributeHopOptions)
	after := in.After
	for i := 0; ; i++ {
		if i == perRun {
			next := in
			next.Next, next.After, next.Done = in.Next+i, after, res
			logger.Info("distribution continues as new", "Distributed", res.Distributed, "Batches", res.Batches)
			return res, workflow.NewContinueAsNewError(ctx, DistributeWorkflow, next)
		}
		b := activities.DistributionBatch{DistributionID: in.DistributionID, Seq: in.Next + i, After: after, Size: size}
		var r activities.DistributionBatchResult
		if err := workflow.ExecuteActivity(named(actx, fmt.Sprintf("distribute batch %d (up to %d leads)", b.Seq+1, size)), a.DistributeBatch, b).Get(ctx, &r); err != nil {
			logger.Error("distribution batch failed", "Batch", b.Seq, "Error", err)
			return res, err
		}
		res.Batches++
		res.Distributed += r.Distributed
		res.PassedDown += r.PassedDown
		workflow.SetCurrentDetails(ctx, distributionNow(res))
		if r.PassedDown > 0 {
			if err := workflow.ExecuteActivity(named(hctx, fmt.Sprintf("start %d sub-agency hop runs, batch %d", r.PassedDown, b.Seq+1)),
				a.StartDistributionHops, b).Get(ctx, nil); err != nil {
				return res, err
			}
		}
		if !r.More {
			break
		}
		after = r.Last
	}
	var d activities.Distribution
	if err := workflow.ExecuteActivity(named(bctx, "mark the distribution completed"), a.FinishDistribution, in.DistributionID).Get(ctx, &d); err != nil {
		return res, err
	}
	res.Done = true
	workflow.SetCurrentDetails(ctx, distributionNow(res))
	logger.Info("distribution done", "DistributionID", in.DistributionID, "Distributed", res.Distributed,
		"PassedDown", res.PassedDown, "Batches", res.Batches)
	return res, nil
}

// distributionSlot is the run's idempotency key: the one it was given, or,
// for a schedule's run, its nominal time, which Temporal appends to the
// schedule's workflow ID ("<schedule id>-2026-01-05T15:00:00Z"). Two firings
// of one slot carry the same time, so they share the slot.
func distributionSlot(ctx workflow.Context, in DistributeInput) (string, error) {
	if in.Slot != "" {
		return in.Slot, nil
	}
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	at, ok := strings.CutPrefix(id, DistributionScheduleID(in.OrgID, in.Slug, in.Schedule)+"-")
	nominal, err := time.Parse(time.RFC3339, at)
	if in.Schedule == "" || !ok || err != nil {
		return "", failure.New(domain.EInvalid, "a distribution needs a slot: its schedule's nominal time in the workflow ID, or a key", nil)
	}
	return ScheduledSlot(in.Schedule, nominal), nil
}
