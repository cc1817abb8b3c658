package runs

import (
	"context"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// Claim starts the run of a recorded claim, or finds it, and records that
// Temporal took it (store.ClaimRunStarted). The API calls it once the claim
// has committed; the reconciler for an open claim whose run Temporal never
// took or lost (a failed run is started again; a completed one settled the
// claim).
func (s Starter) Claim(ctx context.Context, c store.Claim) error {
	in := workflows.ClaimInput{LeadID: c.LeadID, OrgID: c.OrgID, Seq: c.Seq, Deadline: c.ExpiresAt}
	names := s.Store.RunNames(ctx, domain.RunRef{OrgID: c.OrgID, LeadID: c.LeadID})
	err := s.start(ctx, client.StartWorkflowOptions{
		ID:            workflows.ClaimWorkflowID(c.LeadID, c.Seq),
		StaticSummary: workflows.ClaimSummary(in, c.UserID, names),
		StaticDetails: workflows.ClaimDetails(in),
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.OrgIDKey.ValueSet(c.OrgID), workflows.LeadIDKey.ValueSet(c.LeadID),
			workflows.LeadStatusKey.ValueSet("claimed")),
	}, RestartFailed, workflows.ClaimWorkflow, in)
	if err != nil {
		return err
	}
	return s.Store.ClaimRunStarted(ctx, c.LeadID, c.Seq)
}
