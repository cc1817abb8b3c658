package runs

import (
	"context"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/workflows"
)

// Reroute starts the run that reroutes a deactivated user's team-owned
// leads, or finds the one running. The API calls it once the deactivation
// has committed (RestartFailed: a repeated PATCH finds the run that did the
// work); the reconciler for a deactivated user whose leads are still
// assigned to them (RestartClosed: rerouting is idempotent in PostgreSQL, so
// a second run only finishes what the first did not).
func (s Starter) Reroute(ctx context.Context, in workflows.RerouteInput, restart Restart) error {
	names := s.Store.RunNames(ctx, domain.RunRef{OrgID: in.OrgID})
	return s.start(ctx, client.StartWorkflowOptions{
		ID:                    workflows.RerouteWorkflowID(in.UserID, in.Deactivation),
		StaticSummary:         workflows.RerouteSummary(in, names.Org),
		StaticDetails:         workflows.RerouteDetails(in),
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.OrgIDKey.ValueSet(in.OrgID)),
	}, restart, workflows.RerouteWorkflow, in)
}
