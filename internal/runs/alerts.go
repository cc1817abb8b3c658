package runs

import (
	"context"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/workflows"
)

// Alert starts an instant alert's run, or finds the one running. The
// worker's alert pump calls it for each recorded alert not yet dealt with;
// a completed run dealt with it, so only a failed one is started again (and
// the outbox would not send its email twice anyway).
func (s Starter) Alert(ctx context.Context, in workflows.AlertInput) error {
	names := s.Store.RunNames(ctx, domain.RunRef{OrgID: in.OrgID, LeadID: in.LeadID})
	return s.start(ctx, client.StartWorkflowOptions{
		ID:            workflows.AlertWorkflowID(in.LeadID, in.AlertID),
		StaticSummary: workflows.AlertSummary(in, names),
		StaticDetails: workflows.AlertDetails(in),
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.OrgIDKey.ValueSet(in.OrgID),
			workflows.LeadIDKey.ValueSet(in.LeadID), workflows.LeadSourceKey.ValueSet(names.Slug)),
	}, RestartFailed, workflows.AlertWorkflow, in)
}
