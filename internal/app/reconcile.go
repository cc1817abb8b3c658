package app

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// ReconcilePage is how many rows one query of a pass reads.
var ReconcilePage = 500

// Reconciled is what one pass found.
type Reconciled struct {
	Unrouted    int // leads past the cutoff and still unrouted, as the pass paged through them
	Restarted   int // of those, runs started again (or found running)
	Failed      int // starts that failed this pass (tried again next pass)
	Invitations int // pending invitations whose run was started or found
	Expired     int // pending invitations past their expiry closed directly
	Transfers   int // running transfers whose run was started or found
	Reroutes    int // deactivated users with team-owned leads still assigned whose reroute was started or found
	Returns     int // returns whose emails were never dealt with whose run was started or found
	Claims      int // open claims whose run was started or found (never started, or lost past the window)
	// Handovers counts pending handovers whose run was started again (lost
	// or terminated) and runs told that their handover was decided
	// without them (withdrawn).
	Handovers int

	// Distributions counts distributions not completed, and leads they
	// passed down still in flight, whose run was started or found.
	Distributions int
	Digests       int // digest batches whose run was started or found
}

// reconcileLoop runs a pass every 30 s until ctx ends.
func reconcileLoop(ctx context.Context, d *Deps) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r, err := Reconcile(ctx, d, domain.UnroutedAfter)
		recordReconciled(ctx, d, r, err)
		logRound(ctx, d.Log, r, err)
	}
}

// logRound writes a round's one log line with every counter, so an operator
// reads all a pass did from one line: a warning when the pass failed or found
// stranded leads, invitations or deactivated users (as before the counters
// were joined), otherwise information. A pass cut short by the worker
// stopping is not a failure.
func logRound(ctx context.Context, log *zap.Logger, r Reconciled, err error) {
	fields := r.logFields()
	switch {
	case err != nil && ctx.Err() == nil:
		log.Warn("reconcile pass failed", append(fields, zap.Error(err))...)
	case r.Unrouted > 0 || r.Invitations > 0 || r.Expired > 0 || r.Reroutes > 0:
		log.Warn("reconciled stranded work", fields...)
	case r == (Reconciled{}):
		// A pass that found nothing is every worker's line every 30 s:
		// kept for LOG_LEVEL=debug, out of the way otherwise.
		log.Debug("reconcile pass", fields...)
	default:
		log.Info("reconcile pass", fields...)
	}
}

// logFields are r's counters as log fields, one for each field of
// Reconciled: TestTheLogLineReportsEveryCounter fails when a counter is
// added without its field here.
func (r Reconciled) logFields() []zap.Field {
	return []zap.Field{
		zap.Int("unrouted", r.Unrouted), zap.Int("restarted", r.Restarted), zap.Int("failed", r.Failed),
		zap.Int("invitations", r.Invitations), zap.Int("expired_invitations", r.Expired),
		zap.Int("transfers", r.Transfers), zap.Int("reroutes", r.Reroutes), zap.Int("returns", r.Returns),
		zap.Int("claims", r.Claims), zap.Int("handovers", r.Handovers),
		zap.Int("distributions", r.Distributions), zap.Int("digests", r.Digests),
	}
}

// Reconcile enforces the one invariant in one place: every lead recorded more
// than olderThan ago ends assigned, pending or queued. Whatever happened to
// its run — never started (an API crash), failed, terminated, closed without
// a decision, or recorded under an ID a production server refuses — it pages
// through all such leads and starts the run again; a run still going is
// found by its ID and left alone. Routing is idempotent in PostgreSQL, so a
// second run only finishes what the first did not. Pending invitations get
// the same care, and so do users deactivated more than olderThan ago whose
// team-owned leads are still assigned to them.
func Reconcile(ctx context.Context, d *Deps, olderThan time.Duration) (Reconciled, error) {
	var r Reconciled
	cutoff := time.Now().Add(-olderThan)
	for _, pass := range reconcilePasses {
		if err := pass(ctx, d, cutoff, &r); err != nil {
			return r, err
		}
	}
	return r, nil
}

// reconcilePasses run in this order; a pass that fails ends the pass list
// (the next tick tries again), so the digests' sweep, whose query depends
// on every org's timezone name, goes last.
var reconcilePasses = []func(context.Context, *Deps, time.Time, *Reconciled) error{
	reconcileLeads, reconcileInvitations, reconcileTransfers, reconcileReturns, reconcileClaims, reconcileHandovers,
	reconcileDistributions, reconcileReroutes,
	func(ctx context.Context, d *Deps, _ time.Time, r *Reconciled) error {
		return reconcileDigests(ctx, d, r)
	},
}

// startTimeout bounds each start of a pass, so an unresponsive Temporal
// cannot hold a pass for ever.
const startTimeout = 10 * time.Second

func withTimeout(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	return f(ctx)
}

// eachPage reads rows a page at a time (ReconcilePage rows, after the key of
// the previous page's last row; "" for the first) and visits each of them.
func eachPage[T any](fetch func(after string) ([]T, error), key func(T) string, visit func(T)) error {
	after := ""
	for {
		page, err := fetch(after)
		if err != nil {
			return err
		}
		for _, row := range page {
			visit(row)
		}
		if len(page) < ReconcilePage {
			return nil
		}
		after = key(page[len(page)-1])
	}
}
