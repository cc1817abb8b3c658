package distribution

import (
	"context"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/runs"
	"github.com/leadrelay/leadrelay/workflows"
)

// OnDemand is a distribution to run now: `starter distribute`.
type OnDemand struct {
	OrgID, Slug string
	Mode        domain.RoutingMode
	// Key is the run's slot: the same key finds the same run (or, past
	// Temporal's retention, the recorded distribution) and distributes
	// nothing twice. "" makes one from the time: now-20260105T150405Z.
	Key string
}

// RunNow starts the on-demand distribution (or finds its run), waits for it
// and returns what it did, calling progress with (done, total) as it goes.
// Bad input is an EInvalid error naming the flag; an org or source that does
// not exist is not found. Nothing starts in either case.
func (e Env) RunNow(ctx context.Context, o OnDemand, progress func(done, total int)) (workflows.DistributeResult, string, error) {
	var res workflows.DistributeResult
	if o.Key == "" {
		o.Key = "now-" + time.Now().UTC().Format("20060102T150405Z")
	}
	f := domain.FieldErrors{}
	if !domain.ValidUUID(o.OrgID) {
		f.Add("org", "an org id")
	}
	if !domain.ValidSlug(o.Slug) {
		f.Add("source", "a source slug")
	}
	if !domain.ValidDistributionMode(o.Mode) {
		f.Add("mode", domain.DistributionModeRule)
	}
	if !domain.ValidDistributionKey(o.Key) {
		f.Add("key", domain.DistributionKeyRule)
	}
	if err := f.Err("invalid distribution"); err != nil {
		return res, "", err
	}
	if _, err := e.Store.GetOrg(ctx, o.OrgID); err != nil {
		return res, "", err
	}
	if _, err := e.Store.GetSourceBySlug(ctx, o.OrgID, o.Slug); err != nil {
		return res, "", err
	}
	id := workflows.OnDemandDistributionID(o.OrgID, o.Slug, o.Key)
	in := workflows.DistributeInput{OrgID: o.OrgID, Slug: o.Slug, Mode: o.Mode, Slot: workflows.OnDemandSlot(o.Key)}
	starter := runs.Starter{Temporal: e.Temporal, Store: e.Store, Queue: e.TaskQueue}
	if err := starter.Distribution(ctx, id, in, runs.RestartFailed); err != nil {
		return res, id, err
	}
	done := make(chan error, 1)
	go func() { done <- e.Temporal.GetWorkflow(ctx, id, "").Get(ctx, &res) }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err == nil && progress != nil {
				progress(res.Distributed+res.PassedDown, res.Total)
			}
			return res, id, err
		case <-tick.C:
			if progress == nil {
				continue
			}
			// Best effort: a query that fails (the run between tasks, a
			// continue-as-new) only skips one progress line.
			if q, err := e.Temporal.QueryWorkflow(ctx, id, "", workflows.QueryDistributionProgress); err == nil {
				var p workflows.DistributeResult
				if q.Get(&p) == nil {
					progress(p.Distributed+p.PassedDown, p.Total)
				}
			}
		}
	}
}
