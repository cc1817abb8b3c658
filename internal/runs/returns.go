package runs

import (
	"context"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/workflows"
)

// Return starts a return's run, or finds the one running. The API calls it
// once the return has committed; the reconciler for a return whose emails
// were never dealt with (a crash between the commit and the start, a run
// terminated). A completed run dealt with every address, so only a failed
// one is started again. slug is the lead's source, which the run is found
// by; the summary names the lead, its source and the returning org.
func (s Starter) Return(ctx context.Context, in workflows.ReturnInput, slug string) error {
	names := s.Store.RunNames(ctx, domain.RunRef{OrgID: in.OrgID, LeadID: in.LeadID})
	return s.start(ctx, client.StartWorkflowOptions{
		ID:            workflows.ReturnWorkflowID(in.LeadID),
		StaticSummary: workflows.ReturnSummary(in, names),
		StaticDetails: workflows.ReturnDetails(in),
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.OrgIDKey.ValueSet(in.OrgID), workflows.LeadIDKey.ValueSet(in.LeadID),
			workflows.LeadSourceKey.ValueSet(slug), workflows.LeadStatusKey.ValueSet(domain.StatusReturned)),
	}, RestartFailed, workflows.ReturnWorkflow, in)
}
