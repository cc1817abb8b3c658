package activities

import (
	"context"

	"go.temporal.io/sdk/activity"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
	"github.com/leadrelay/leadrelay/internal/store"
)

// DistributionStart asks for one slot's distribution to be recorded (or
// found): ids, the slug, the mode and the slot only.
type DistributionStart struct {
	OrgID    string             `json:"org_id"`
	Slug     string             `json:"slug"`
	Mode     domain.RoutingMode `json:"mode"`
	Schedule string             `json:"schedule,omitempty"` // the schedule's name; "" on demand
	Slot     string             `json:"slot"`
}

// Distribution is a slot's distribution as recorded, in counts.
type Distribution struct {
	DistributionID string `json:"distribution_id"`
	Total          int    `json:"total"` // pending when the first run began
	Distributed    int    `json:"distributed"`
	PassedDown     int    `json:"passed_down"`
	Batches        int    `json:"batches"`
	Completed      bool   `json:"completed,omitempty"` // an earlier run finished this slot
}

func distributionOf(d store.Distribution) Distribution {
	return Distribution{DistributionID: d.ID, Total: d.Total, Distributed: d.Distributed, PassedDown: d.PassedDown,
		Batches: d.Batches, Completed: d.Completed}
}

// BeginDistribution records the slot's distribution under the calling run's
// workflow ID (what the reconciler restarts), or finds the one recorded: a
// slot distributed before comes back Completed.
func (a *Activities) BeginDistribution(ctx context.Context, in DistributionStart) (Distribution, error) {
	d, err := a.Store.BeginDistribution(ctx, store.DistributionRequest{OrgID: in.OrgID, Slug: in.Slug, Mode: in.Mode,
		Schedule: in.Schedule, Slot: in.Slot, WorkflowID: activity.GetInfo(ctx).WorkflowExecution.ID})
	if err != nil {
		return Distribution{}, failure.FromDomain(err)
	}
	activity.GetLogger(ctx).Info("distribution begun", "DistributionID", d.ID, "OrgID", in.OrgID, "Slot", in.Slot,
		"Total", d.Total, "Completed", d.Completed)
	return distributionOf(d), nil
}

// DistributionBatch names one batch of a distribution: the Seq-th, taking up
// to Size pending leads after the lead id After.
type DistributionBatch struct {
	DistributionID string `json:"distribution_id"`
	Seq            int    `json:"seq"`
	After          string `json:"after,omitempty"`
	Size           int    `json:"size"`
}

// DistributionBatchResult counts what a batch did, and says where the next
// one starts.
type DistributionBatchResult struct {
	Distributed int    `json:"distributed"`           // assigned at the org
	PassedDown  int    `json:"passed_down,omitempty"` // passed to a sub-agency, whose hop run places them
	Last        string `json:"last,omitempty"`
	More        bool   `json:"more,omitempty"`
}

// DistributeBatch distributes one batch in one transaction (see
// store.DistributeBatch). A retry after the commit returns the same counts
// and moves nothing, so the workflow's sums are exact.
func (a *Activities) DistributeBatch(ctx context.Context, b DistributionBatch) (DistributionBatchResult, error) {
	r, err := a.Store.DistributeBatch(ctx, store.DistributionBatch{DistributionID: b.DistributionID, Seq: b.Seq, After: b.After, Size: b.Size})
	if err != nil {
		return DistributionBatchResult{}, failure.FromDomain(err)
	}
	activity.GetLogger(ctx).Info("distribution batch done", "DistributionID", b.DistributionID, "Batch", b.Seq,
		"Distributed", r.Distributed, "PassedDown", r.PassedDown)
	return DistributionBatchResult{Distributed: r.Distributed, PassedDown: r.PassedDown, Last: r.Last, More: r.More}, nil
}

// HopRun names the run of one sub-agency hop of a lead's routing.
type HopRun struct {
	LeadID, OrgID, Slug, ExternalID string
}

// StartDistributionHops starts the hop run of every lead a batch passed down
// and that is still in flight: the sub-agency's own routing for the slug, as
// a fan-out would. Starting a run that exists finds it, and a lead already
// placed is skipped, so a retry starts none twice.
func (a *Activities) StartDistributionHops(ctx context.Context, b DistributionBatch) error {
	hops, err := a.Store.DistributionHops(ctx, b.DistributionID, b.Seq)
	if err != nil {
		return err
	}
	for _, h := range hops {
		if err := a.StartLeadHop(ctx, HopRun{LeadID: h.LeadID, OrgID: h.SubOrgID, Slug: h.Slug, ExternalID: h.ExternalID}); err != nil {
			return err
		}
		activity.RecordHeartbeat(ctx)
	}
	activity.GetLogger(ctx).Info("distribution hops started", "DistributionID", b.DistributionID, "Batch", b.Seq, "Hops", len(hops))
	return nil
}

// FinishDistribution marks the distribution completed with its batches'
// totals.
func (a *Activities) FinishDistribution(ctx context.Context, distributionID string) (Distribution, error) {
	d, err := a.Store.FinishDistribution(ctx, distributionID)
	if err != nil {
		return Distribution{}, failure.FromDomain(err)
	}
	return distributionOf(d), nil
}
