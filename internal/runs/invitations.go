package runs

import (
	"context"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/workflows"
)

// Invitation starts an invitation's run, or finds the one running. The API
// calls it when the owner invites; the reconciler for a pending invitation
// whose run was never started (a crash between row and run) or died. The
// summary names the inviting org.
func (s Starter) Invitation(ctx context.Context, in workflows.InvitationInput) error {
	names := s.Store.RunNames(ctx, domain.RunRef{OrgID: in.MasterOrgID})
	return s.start(ctx, client.StartWorkflowOptions{
		ID:                    workflows.InvitationWorkflowID(in.InvitationID),
		StaticSummary:         workflows.InvitationSummary(names.Org, in.MasterOrgID),
		StaticDetails:         workflows.InvitationDetails(in),
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.OrgIDKey.ValueSet(in.MasterOrgID)),
	}, RestartFailed, workflows.InvitationWorkflow, in)
}
