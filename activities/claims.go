package activities

import (
	"context"

	"go.temporal.io/sdk/activity"

	"github.com/leadrelay/leadrelay/internal/failure"
)

// ClaimRef names one claim of a queued lead: the lead and which of its
// claims. Ids and a number only.
type ClaimRef struct {
	LeadID string `json:"lead_id"`
	Seq    int    `json:"seq"`
}

// ClaimOutcome is how a claim ended, in the words of domain.Claim*:
// expired (back in the queue), worked, released, invalid or ended.
type ClaimOutcome struct {
	Outcome string `json:"outcome"`
}

// ExpireClaim runs once a claim's window has passed: the lead goes back to
// the queue only if the claim is still open and the lead still the
// claimer's (store.ExpireClaim, one transaction), so a retry, or a run
// started twice, changes nothing twice.
func (a *Activities) ExpireClaim(ctx context.Context, c ClaimRef) (ClaimOutcome, error) {
	outcome, err := a.Store.ExpireClaim(ctx, c.LeadID, c.Seq)
	if err != nil {
		return ClaimOutcome{}, failure.FromDomain(err)
	}
	a.Metrics.ClaimClosed(outcome)
	activity.GetLogger(ctx).Info("claim window passed", "LeadID", c.LeadID, "Seq", c.Seq, "Outcome", outcome)
	return ClaimOutcome{Outcome: outcome}, nil
}
