package runs

import (
	"context"

	"go.temporal.io/sdk/client"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/workflows"
)

// Lead starts a lead's first run under workflowID (the lead's recorded one,
// workflows.LeadWorkflowID for every new lead), or finds the one running
// under it. The reconciler calls it for leads recorded but not routed in
// time; the names of in.OrgID and the lead's source are read here.
func (s Starter) Lead(ctx context.Context, workflowID string, in workflows.LeadInput, restart Restart) error {
	return s.LeadNamed(ctx, workflowID, in, restart, s.Store.RunNames(ctx, domain.RunRef{OrgID: in.OrgID, LeadID: in.LeadID}))
}

// LeadNamed is Lead with the names already in hand: the API has them with
// the vendor key that authenticated the post, so a post costs no query more.
func (s Starter) LeadNamed(ctx context.Context, workflowID string, in workflows.LeadInput, restart Restart, names domain.RunNames) error {
	in.Shape = workflows.LeadShape
	return s.start(ctx, client.StartWorkflowOptions{
		ID:            workflowID,
		StaticSummary: workflows.LeadSummary(in, names),
		StaticDetails: workflows.LeadDetails(in),
		// When the worker shares this process (starter dev), the first workflow
		// task comes back in the start response: one round trip fewer.
		EnableEagerStart:      true,
		TypedSearchAttributes: workflows.LeadSearchAttributes(in.OrgID, in.Slug, in.LeadID, "new", in.ExternalID),
	}, restart, workflows.LeadWorkflow, in)
}

// LeadHop starts the sub-agency hop of a lead a distribution passed down:
// the run a fan-out would start, under the same ID (workflows.HopWorkflowID),
// counted as the first hop below the distributing org. The distribution
// activities call it (activities.Activities.StartLeadHop), and the
// reconciler for a hop left stranded. RestartClosed: an earlier run under
// that ID (the lead visited the sub-agency before) must not stop this one;
// routing is idempotent, so a run for a lead already placed only reads its
// decision.
func (s Starter) LeadHop(ctx context.Context, h activities.HopRun) error {
	return s.Lead(ctx, workflows.HopWorkflowID(h.LeadID, h.OrgID),
		workflows.LeadInput{LeadID: h.LeadID, OrgID: h.OrgID, Slug: h.Slug, ExternalID: h.ExternalID, Hop: 1}, RestartClosed)
}
