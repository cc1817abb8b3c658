package app

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

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
