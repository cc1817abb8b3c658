package workflows

import (
	"context"
	"errors"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/leadrelay/leadrelay/internal/store"
)

// StartLead starts a lead's workflow (client side, not workflow code), or
// finds the one already started under its ID. The API calls it for each post,
// the worker's sweep for leads recorded without a workflow.
func StartLead(ctx context.Context, tc client.Client, queue string, l store.UnroutedLead) error {
	_, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       l.WorkflowID,
		TaskQueue:                queue,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		// When the worker shares this process (starter dev), the first workflow
		// task comes back in the start response: one round trip fewer.
		EnableEagerStart: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			OrgIDKey.ValueSet(l.OrgID), LeadSourceKey.ValueSet(l.Slug),
			LeadIDKey.ValueSet(l.LeadID), LeadStatusKey.ValueSet("new")),
	}, LeadWorkflow, LeadInput{LeadID: l.LeadID, OrgID: l.OrgID, Slug: l.Slug, ExternalID: l.ExternalID})
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return nil // closed but still retained: it ran
	}
	return err
}
