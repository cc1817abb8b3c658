package runs

import (
	"context"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/workflows"
)

// Handover starts the review run of a handed-over lead, or finds it. The
// transfer's activities call it (activities.Activities.StartHandover), the
// reconciler for a pending handover without a run. The summary names the
// lead and both orgs.
func (s Starter) Handover(ctx context.Context, h activities.HandoverRun) error {
	in := workflows.HandoverInput{LeadID: h.LeadID, TransferID: h.TransferID, FromOrgID: h.FromOrgID, ToOrgID: h.ToOrgID, Deadline: h.Deadline}
	names := s.Store.RunNames(ctx, domain.RunRef{OrgID: h.FromOrgID, ToOrgID: h.ToOrgID, LeadID: h.LeadID})
	return s.start(ctx, client.StartWorkflowOptions{
		ID:            workflows.HandoverWorkflowID(in.LeadID, in.TransferID),
		StaticSummary: workflows.HandoverSummary(names),
		StaticDetails: workflows.HandoverDetails(in),
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.OrgIDKey.ValueSet(in.ToOrgID), workflows.LeadIDKey.ValueSet(in.LeadID),
			workflows.LeadStatusKey.ValueSet("handover")),
	}, RestartFailed, workflows.HandoverWorkflow, in)
}
