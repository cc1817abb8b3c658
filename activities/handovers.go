package activities

import (
	"context"

	"go.temporal.io/sdk/activity"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
)

// HandoverDecision is how an answer decided a handover.
type HandoverDecision struct {
	Status string `json:"status"` // pending, accepted, rejected, expired, withdrawn
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

// ExpireHandover sends an unreviewed lead back to its sender, and returns
// what PostgreSQL decided: expired, or the answer or withdrawal that
// committed first. Only the decision this call made is counted; the
// answer counted its own.
func (a *Activities) ExpireHandover(ctx context.Context, h HandoverRun) (HandoverDecision, error) {
	status, decided, err := a.Store.ExpireHandover(ctx, h.LeadID, h.TransferID)
	if err != nil {
		return HandoverDecision{}, failure.FromDomain(err)
	}
	if decided {
		a.Metrics.Handover(status)
	}
	return HandoverDecision{Status: status}, nil
}

// HandoverOutcome reads what PostgreSQL decided of a handover (pending when
// nothing yet), for a run told that it was decided elsewhere. A withdrawal
// is decided by the request that changed the link or setting, which has no
// metrics of its own: it is counted here, where its run learns it.
func (a *Activities) HandoverOutcome(ctx context.Context, h HandoverRun) (HandoverDecision, error) {
	status, err := a.Store.HandoverStatus(ctx, h.LeadID, h.TransferID)
	if err != nil {
		return HandoverDecision{}, failure.FromDomain(err)
	}
	if status == domain.HandoverWithdrawn {
		a.Metrics.Handover(status)
	}
	return HandoverDecision{Status: status}, nil
}
