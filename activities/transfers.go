package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
	"github.com/leadrelay/leadrelay/internal/mail"
	"github.com/leadrelay/leadrelay/internal/store"
)

// TransferBatch names one batch of a transfer's leads: the slice
// [Index*Size, (Index+1)*Size) of the request, in order.
type TransferBatch struct {
	TransferID string `json:"transfer_id"`
	Index      int    `json:"index"`
	Size       int    `json:"size"`
}

func (b TransferBatch) store() store.TransferBatch {
	return store.TransferBatch{TransferID: b.TransferID, Index: b.Index, Size: b.Size}
}

// BatchResult counts what a batch did.
type BatchResult struct {
	Moved       int `json:"moved"`
	Failed      int `json:"failed"`
	TeamMembers int `json:"team_members"` // moved team members, owed a retention update
}

// MoveTransferBatch moves one batch in one PostgreSQL transaction (see
// store.MoveTransferBatch). A retry after the commit returns the same counts
// and moves nothing, so the workflow's sums are exact.
func (a *Activities) MoveTransferBatch(ctx context.Context, b TransferBatch) (BatchResult, error) {
	out, err := a.Store.MoveTransferBatch(ctx, b.store())
	if err != nil {
		return BatchResult{}, failure.FromDomain(err)
	}
	a.Metrics.TransferLeads(out.NewlyMoved, out.NewlyFailed)
	activity.GetLogger(ctx).Info("transfer batch moved", "TransferID", b.TransferID, "Batch", b.Index,
		"Moved", out.Moved, "Failed", out.Failed)
	return BatchResult{Moved: out.Moved, Failed: out.Failed, TeamMembers: out.TeamMembers}, nil
}

// HandoverRun names the run that waits for one handed-over lead's review.
type HandoverRun struct {
	LeadID, TransferID, FromOrgID, ToOrgID string
	// Deadline is the handover's own (store.Handover.Deadline), for a
	// run being started; the run's activities do not need it.
	Deadline time.Time `json:",omitzero"`
}

// StartHandovers starts the review run of every lead a manager_review batch
// handed over. Starting an existing run finds it, so a retry starts none twice.
func (a *Activities) StartHandovers(ctx context.Context, b TransferBatch) error {
	ids, _, err := a.Store.BatchLeads(ctx, b.store())
	if err != nil {
		return err
	}
	for _, id := range ids {
		h, err := a.Store.PendingHandover(ctx, id)
		if domain.ErrorCode(err) == domain.ENotFound {
			continue // decided already (a manager was quicker than this retry)
		}
		if err != nil {
			return err
		}
		if err := a.StartHandover(ctx, HandoverRun{LeadID: id, TransferID: h.TransferID, FromOrgID: h.FromOrgID, ToOrgID: h.ToOrgID, Deadline: h.Deadline}); err != nil {
			return err
		}
		activity.RecordHeartbeat(ctx)
	}
	return nil
}

// SendRetentionUpdates emails the receiving org's admins and staff about
// each team member a batch moved. Each (lead, recipient) email has its own
// key, so a retry or a crash never sends one twice.
func (a *Activities) SendRetentionUpdates(ctx context.Context, b TransferBatch) error {
	_, members, err := a.Store.BatchLeads(ctx, b.store())
	if err != nil || len(members) == 0 {
		return err
	}
	notices, err := a.Store.RetentionNotices(ctx, b.TransferID, members)
	if err != nil {
		return failure.FromDomain(err)
	}
	var refused []error
	for _, n := range notices {
		for _, to := range n.To {
			no, err := a.deliverOrRecord(ctx, mail.Email{Template: "retention", Key: "retention:" + b.TransferID + ":" + n.LeadID + ":" + to.ID,
				Kind: "retention", To: to.Email, OrgID: n.OrgID, LeadID: n.LeadID,
				Data: map[string]string{"MemberName": n.MemberName, "OrgName": n.OrgName, "FromName": n.FromName,
					"RecipientName": to.Name, "LeadURL": a.PublicBaseURL + "/v1/leads/" + n.LeadID}})
			if no {
				// Refused for good: recorded on the lead's timeline; the
				// others still get theirs.
				refused = append(refused, err)
				continue
			}
			if err != nil {
				return err
			}
		}
	}
	return errors.Join(refused...)
}

// FinishTransfer marks the transfer completed.
func (a *Activities) FinishTransfer(ctx context.Context, transferID string) error {
	return a.Store.FinishTransfer(ctx, transferID)
}
