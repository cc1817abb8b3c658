package runs

import (
	"context"
	"errors"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/workflows"
)

// SLA starts a lead's SLA run, or finds the one running. The worker's SLA
// pump calls it for each SLA recorded by routing; a failed run is started
// again, and its escalation (one transaction per step) is not taken twice.
func (s Starter) SLA(ctx context.Context, in workflows.SLAInput, userID string) error {
	names := s.Store.RunNames(ctx, domain.RunRef{OrgID: in.OrgID, LeadID: in.LeadID})
	return s.start(ctx, client.StartWorkflowOptions{
		ID:            workflows.SLAWorkflowID(in.LeadID, in.SLAID),
		StaticSummary: workflows.SLASummary(in, userID, names),
		StaticDetails: workflows.SLADetails(in),
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.OrgIDKey.ValueSet(in.OrgID),
			workflows.LeadIDKey.ValueSet(in.LeadID), workflows.LeadSourceKey.ValueSet(names.Slug)),
	}, RestartFailed, workflows.SLAWorkflow, in)
}

// StopSLA tells a lead's SLA run that the SLA ended. A run that already
// completed (or never started) needs no telling.
func (s Starter) StopSLA(ctx context.Context, leadID string, slaID int64) error {
	err := s.Temporal.SignalWorkflow(ctx, workflows.SLAWorkflowID(leadID, slaID), "", workflows.SLAStopSignal, nil)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil
	}
	return err
}
