package app

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/runs"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// maxFailuresInARow ends a pass early when Temporal is unreachable.
const maxFailuresInARow = 20

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
		if err != nil && ctx.Err() == nil {
			d.Log.Warn("reconcile pass failed", zap.Error(err))
		}
		if r.Unrouted > 0 || r.Invitations > 0 || r.Expired > 0 || r.Reroutes > 0 {
			d.Log.Warn("reconciled stranded work", zap.Int("unrouted", r.Unrouted), zap.Int("restarted", r.Restarted),
				zap.Int("failed", r.Failed), zap.Int("invitations", r.Invitations), zap.Int("expired_invitations", r.Expired),
				zap.Int("reroutes", r.Reroutes))
		}
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

// reconcileTransfers starts the run of every transfer recorded but not
// completed (a crash between the row and the start, a run terminated by an
// operator): moving a batch again changes nothing that moved, so the new run
// finishes what the old one did not.
func reconcileTransfers(ctx context.Context, d *Deps, cutoff time.Time, r *Reconciled) error {
	running, err := d.Store.RunningTransfers(ctx, cutoff, ReconcilePage)
	if err != nil {
		return err
	}
	for _, t := range running {
		err := withTimeout(ctx, func(ctx context.Context) error {
			return d.Starter().Transfer(ctx, workflows.TransferInput{TransferID: t.ID, Mode: t.Mode, Total: t.Total}, t.OrgID, t.ToOrgID)
		})
		if err != nil {
			d.Log.Warn("reconcile: could not start a transfer's run", zap.String("transfer_id", t.ID), zap.Error(err))
			continue
		}
		r.Transfers++
	}
	return nil
}

// startTimeout bounds each start of a pass, so an unresponsive Temporal
// cannot hold a pass for ever.
const startTimeout = 10 * time.Second

func withTimeout(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	return f(ctx)
}

func reconcileLeads(ctx context.Context, d *Deps, cutoff time.Time, r *Reconciled) error {
	var after store.UnroutedLead
	failedInARow := 0
	for {
		page, err := d.Store.Unrouted(ctx, cutoff, after, ReconcilePage)
		if err != nil {
			return err
		}
		r.Unrouted += len(page)
		for _, l := range page {
			if !workflows.ValidWorkflowID(l.WorkflowID) {
				l.WorkflowID = workflows.LeadWorkflowID(l.LeadID)
				if err := d.Store.SetWorkflowID(ctx, l.LeadID, l.WorkflowID); err != nil {
					return err
				}
			}
			err := withTimeout(ctx, func(ctx context.Context) error {
				return d.Starter().Lead(ctx, l.WorkflowID,
					workflows.LeadInput{LeadID: l.LeadID, OrgID: l.OrgID, Slug: l.Slug, ExternalID: l.ExternalID}, runs.RestartClosed)
			})
			if err != nil {
				r.Failed++
				failedInARow++
				d.Log.Warn("reconcile: could not start the run of an unrouted lead", zap.String("lead_id", l.LeadID),
					zap.String("workflow_id", l.WorkflowID), zap.Error(err))
				if failedInARow >= maxFailuresInARow {
					// Temporal is down or refusing: a pass over a large backlog
					// would only pile up time-outs. The next pass starts over.
					return fmt.Errorf("reconcile: %d starts failed in a row, pass stopped: %w", failedInARow, err)
				}
				continue
			}
			failedInARow = 0
			r.Restarted++
			d.Log.Info("reconcile: run of an unrouted lead started or found", zap.String("lead_id", l.LeadID),
				zap.String("workflow_id", l.WorkflowID))
		}
		if len(page) < ReconcilePage {
			return nil
		}
		after = page[len(page)-1]
	}
}

// InvitationRecheck is how long the reconciler leaves a pending invitation
// it checked alone: its run was started or found then, and invitations wait
// days. One whose start failed is tried again after it too, which for a
// backstop of a run that waits a week is soon enough.
var InvitationRecheck = 15 * time.Minute

// reconcileInvitations makes sure every pending invitation due for a check
// (store.DueInvitations) has its run, and closes those past their expiry.
func reconcileInvitations(ctx context.Context, d *Deps, cutoff time.Time, r *Reconciled) error {
	now := time.Now()
	for {
		page, err := d.Store.DueInvitations(ctx, cutoff, now, InvitationRecheck, ReconcilePage)
		if err != nil {
			return err
		}
		for _, inv := range page {
			reconcileInvitation(ctx, d, inv, r)
		}
		if len(page) < ReconcilePage {
			return nil
		}
	}
}

func reconcileInvitation(ctx context.Context, d *Deps, inv store.Invitation, r *Reconciled) {
	if !time.Now().Before(inv.ExpiresAt) {
		if err := d.Store.CloseInvitation(ctx, inv.ID, domain.InviteExpired); err == nil {
			r.Expired++
		}
		return
	}
	err := withTimeout(ctx, func(ctx context.Context) error {
		return d.Starter().Invitation(ctx, workflows.InvitationInput{
			InvitationID: inv.ID, MasterOrgID: inv.OrgID, ExpiresAt: inv.ExpiresAt})
	})
	if err != nil {
		d.Log.Warn("reconcile: could not start an invitation's run", zap.String("invitation_id", inv.ID), zap.Error(err))
		return
	}
	r.Invitations++
}

// reconcileReroutes starts the reroute of every user deactivated before
// cutoff who still has team-owned leads assigned: the API crashed between
// the PATCH and the start, or a lead was routed to them while the
// deactivation committed. RestartClosed: a run that completed is run again,
// and only finds what it missed.
func reconcileReroutes(ctx context.Context, d *Deps, cutoff time.Time, r *Reconciled) error {
	return eachPage(func(after string) ([]store.StrandedDeactivation, error) {
		return d.Store.StrandedDeactivations(ctx, cutoff, after, ReconcilePage)
	}, func(u store.StrandedDeactivation) string { return u.UserID }, func(u store.StrandedDeactivation) {
		err := withTimeout(ctx, func(ctx context.Context) error {
			return d.Starter().Reroute(ctx, workflows.RerouteInput{
				UserID: u.UserID, OrgID: u.OrgID, Deactivation: u.Deactivations}, runs.RestartClosed)
		})
		if err != nil {
			d.Log.Warn("reconcile: could not start a deactivated user's reroute", zap.String("user_id", u.UserID), zap.Error(err))
			return
		}
		r.Reroutes++
	})
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
