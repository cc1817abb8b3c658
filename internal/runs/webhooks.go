package runs

import (
	"context"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/workflows"
)

// Webhook tells the run of one (endpoint, lead) pair that it has a
// delivery to send, starting it if none is running (signal-with-start):
// a run about to finish sees the signal and looks again, so no delivery
// waits for the pump's restart. Any closed run is followed by a new one:
// what a run does is keyed in PostgreSQL.
func (s Starter) Webhook(ctx context.Context, in workflows.WebhookInput) error {
	names := s.Store.RunNames(ctx, domain.RunRef{OrgID: in.OrgID, LeadID: in.LeadID})
	opts := client.StartWorkflowOptions{
		ID:                    workflows.WebhookWorkflowID(in.EndpointID, in.LeadID),
		TaskQueue:             s.Queue,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:         workflows.WebhookSummary(in, names),
		StaticDetails:         workflows.WebhookDetails(in),
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.OrgIDKey.ValueSet(in.OrgID),
			workflows.LeadIDKey.ValueSet(in.LeadID), workflows.LeadSourceKey.ValueSet(names.Slug)),
	}
	once := func(ctx context.Context) error {
		_, err := s.Temporal.SignalWithStartWorkflow(ctx, opts.ID, workflows.WebhookSignal, nil, opts, workflows.WebhookWorkflow, in)
		return err
	}
	if s.Retry == nil {
		return once(ctx)
	}
	return s.Retry(ctx, once)
}
