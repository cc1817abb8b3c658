package runs

import (
	"context"

	"go.temporal.io/sdk/client"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/workflows"
)

// Distribution starts an on-demand distribution under workflowID, or finds
// its run (the same key again). The reconciler uses it too, with
// RestartClosed, for a distribution recorded but never completed. The
// summary names the org and its source.
func (s Starter) Distribution(ctx context.Context, workflowID string, in workflows.DistributeInput, restart Restart) error {
	names := s.Store.RunNames(ctx, domain.RunRef{OrgID: in.OrgID, Slug: in.Slug})
	return s.start(ctx, client.StartWorkflowOptions{
		ID:                    workflowID,
		StaticSummary:         workflows.DistributionSummary(in.Mode, in.Schedule, names),
		StaticDetails:         workflows.DistributionDetails(in.OrgID, in.Slug, in.Mode),
		TypedSearchAttributes: workflows.DistributionSearchAttributes(in.OrgID, in.Slug),
	}, restart, workflows.DistributeWorkflow, in)
}
