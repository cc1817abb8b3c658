package activities

import (
	"context"

	"go.temporal.io/sdk/activity"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
)

// HandoverDecision is how an answer decided a handover.
type HandoverDecision struct {
	Status string `json:"status"` // accepted, rejected
}

// ApplyHandoverAnswer applies a manager's recorded answer (see
// store.ApplyHandoverAnswer); the workflow carries only the answer's id, not
// the manager's words. A refusal (the handover was decided otherwise, an
// assignee who cannot take it) comes back typed.
func (a *Activities) ApplyHandoverAnswer(ctx context.Context, answerID string) (HandoverDecision, error) {
	status, err := a.Store.ApplyHandoverAnswer(ctx, answerID)
	if err != nil {
		return HandoverDecision{}, failure.FromDomain(err)
	}
	a.Metrics.Handover(status)
	activity.GetLogger(ctx).Info("handover decided", "AnswerID", answerID, "Status", status)
	return HandoverDecision{Status: status}, nil
}

// ExpireHandover sends an unreviewed lead back to its sender.
func (a *Activities) ExpireHandover(ctx context.Context, h HandoverRun) error {
	if err := a.Store.ExpireHandover(ctx, h.LeadID, h.TransferID); err != nil {
		return failure.FromDomain(err)
	}
	a.Metrics.Handover(domain.HandoverExpired)
	return nil
}
