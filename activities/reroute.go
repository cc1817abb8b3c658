package activities

import (
	"context"

	"go.temporal.io/sdk/activity"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
)

// RerouteBatchInput asks for one page of a deactivated user's team-owned
// leads to be routed again: ids and a page size only.
type RerouteBatchInput struct {
	UserID string `json:"user_id"`
	After  string `json:"after,omitempty"` // the last lead id the previous page handled; "" from the start
	Limit  int    `json:"limit"`
}

// RerouteBatchResult is what one page did, in counts and a lead id.
type RerouteBatchResult struct {
	Rerouted int    `json:"rerouted"`
	Skipped  int    `json:"skipped,omitempty"` // no longer the user's to lose when their turn came
	Last     string `json:"last,omitempty"`    // the page's last lead id: where the next page starts
	More     bool   `json:"more,omitempty"`    // the page was full: ask for the next one
	// Reactivated: the user is active again, so their leads stay with them
	// and the reroute ends.
	Reactivated bool `json:"reactivated,omitempty"`
}

// RerouteBatch reroutes one page of the team-owned leads assigned to a
// deactivated user (store.RerouteLead, one transaction per lead, so a lock
// is never held for a whole page). A retry of the page is harmless: a lead
// already rerouted is no longer assigned to the user and is skipped.
func (a *Activities) RerouteBatch(ctx context.Context, in RerouteBatchInput) (RerouteBatchResult, error) {
	var res RerouteBatchResult
	if in.Limit <= 0 {
		// LIMIT 0 would return a "full" empty page for ever.
		return res, failure.New(domain.EInvalid, "a reroute page needs a limit above zero", nil)
	}
	active, err := a.Store.UserActive(ctx, in.UserID)
	if err != nil {
		return res, failure.FromDomain(err)
	}
	if active {
		res.Reactivated = true
		return res, nil
	}
	ids, err := a.Store.ReroutePage(ctx, in.UserID, in.After, in.Limit)
	if err != nil {
		return res, failure.FromDomain(err)
	}
	for _, id := range ids {
		_, done, err := a.Store.RerouteLead(ctx, id, in.UserID)
		if err != nil {
			return res, failure.FromDomain(err)
		}
		if done {
			res.Rerouted++
		} else {
			res.Skipped++
		}
		res.Last = id
	}
	res.More = len(ids) == in.Limit
	activity.GetLogger(ctx).Info("rerouted a page of a deactivated user's leads", "UserID", in.UserID,
		"Rerouted", res.Rerouted, "Skipped", res.Skipped, "More", res.More)
	return res, nil
}
