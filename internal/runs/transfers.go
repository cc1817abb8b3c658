package runs

import (
	"context"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/workflows"
)

// Transfer starts a transfer's run, or finds it (a repeated request with the
// same Idempotency-Key, the reconciler after a crash). The summary names the
// sending org (orgID, also what the run is found by) and the receiving one.
func (s Starter) Transfer(ctx context.Context, in workflows.TransferInput, orgID, toOrgID string) error {
	names := s.Store.RunNames(ctx, domain.RunRef{OrgID: orgID, ToOrgID: toOrgID})
	return s.start(ctx, client.StartWorkflowOptions{
		ID:                    workflows.TransferWorkflowID(in.TransferID),
		StaticSummary:         workflows.TransferSummary(in.Total, in.Mode, names),
		StaticDetails:         workflows.TransferDetails(in, names),
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.OrgIDKey.ValueSet(orgID)),
	}, RestartFailed, workflows.TransferWorkflow, in)
}
