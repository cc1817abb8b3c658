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

// Restart says how StartLead treats a closed run under the lead's ID.
type Restart int

const (
	// RestartFailed starts a new run only when the last one failed, was
	// terminated, cancelled or timed out: a completed run routed the lead.
	// The API uses it, so a vendor's retry revives a lead whose run died.
	RestartFailed Restart = iota
	// RestartClosed starts a new run after any closed one. The reconciler
	// uses it for leads it found unrouted: routing is idempotent in
	// PostgreSQL, so a second run only finishes what the first did not.
	RestartClosed
)

// reusePolicy is the ID reuse policy that treats a closed run as r says.
func (r Restart) reusePolicy() enums.WorkflowIdReusePolicy {
	if r == RestartClosed {
		return enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
	}
	return enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY
}

// StartLead starts a lead's first run (client side, not workflow code) under
// workflowID (the lead's recorded one, LeadWorkflowID for every new lead),
// or finds the one running under it. The API calls it for each new post, the
// reconciler for leads recorded but not routed in time. names name the
// run's org (in.OrgID) and source in its summary.
func StartLead(ctx context.Context, tc client.Client, queue, workflowID string, in LeadInput, restart Restart, names store.RunNames) error {
	in.Shape = LeadShape
	return startOrFind(ctx, tc, client.StartWorkflowOptions{
		ID:                       workflowID,
		StaticSummary:            LeadSummary(in, names),
		StaticDetails:            leadDetails(in),
		TaskQueue:                queue,
		WorkflowIDReusePolicy:    restart.reusePolicy(),
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		// When the worker shares this process (starter dev), the first workflow
		// task comes back in the start response: one round trip fewer.
		EnableEagerStart:      true,
		TypedSearchAttributes: leadSearchAttributes(in.OrgID, in.Slug, in.LeadID, "new", in.ExternalID),
	}, LeadWorkflow, in)
}

// StartInvitation starts an invitation's run, or finds the one running. The
// API calls it when the owner invites; the reconciler for a pending
// invitation whose run was never started (a crash between row and run) or
// died. masterName is the inviting org's name, for the run's summary.
func StartInvitation(ctx context.Context, tc client.Client, queue string, in InvitationInput, masterName string) error {
	return startOrFind(ctx, tc, client.StartWorkflowOptions{
		ID:                       InvitationWorkflowID(in.InvitationID),
		StaticSummary:            InvitationSummary(masterName, in.MasterOrgID),
		StaticDetails:            invitationDetails(in),
		TaskQueue:                queue,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    temporal.NewSearchAttributes(OrgIDKey.ValueSet(in.MasterOrgID)),
	}, InvitationWorkflow, in)
}

// StartReroute starts the run that reroutes a deactivated user's team-owned
// leads, or finds the one running. The API calls it once the deactivation
// has committed (RestartFailed: a repeated PATCH finds the run that did the
// work); the reconciler for a deactivated user whose leads are still
// assigned to them (RestartClosed: rerouting is idempotent in PostgreSQL, so
// a second run only finishes what the first did not). orgName is the
// org's name, for the run's summary.
func StartReroute(ctx context.Context, tc client.Client, queue string, in RerouteInput, restart Restart, orgName string) error {
	return startOrFind(ctx, tc, client.StartWorkflowOptions{
		ID:                       RerouteWorkflowID(in.UserID, in.Deactivation),
		StaticSummary:            RerouteSummary(in, orgName),
		StaticDetails:            rerouteDetails(in),
		TaskQueue:                queue,
		WorkflowIDReusePolicy:    restart.reusePolicy(),
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    temporal.NewSearchAttributes(OrgIDKey.ValueSet(in.OrgID)),
	}, RerouteWorkflow, in)
}

// startOrFind starts a run; with USE_EXISTING a running one is found, and the
// only refusal left is a closed run the reuse policy keeps: a completed one,
// which did its work.
func startOrFind(ctx context.Context, tc client.Client, opts client.StartWorkflowOptions, wf any, arg any) error {
	_, err := tc.ExecuteWorkflow(ctx, opts, wf, arg)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return nil
	}
	return err
}

// StartTransfer starts a transfer's run, or finds it (a repeated request with
// the same Idempotency-Key, the reconciler after a crash). names name the
// sending org (OrgID, also what the run is found by) and the receiving one.
func StartTransfer(ctx context.Context, tc client.Client, queue string, in TransferInput, names store.RunNames) error {
	orgID := names.OrgID
	return startOrFind(ctx, tc, client.StartWorkflowOptions{
		ID:                       TransferWorkflowID(in.TransferID),
		StaticSummary:            TransferSummary(in.Total, in.Mode, names),
		StaticDetails:            transferDetails(in, names),
		TaskQueue:                queue,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    temporal.NewSearchAttributes(OrgIDKey.ValueSet(orgID)),
	}, TransferWorkflow, in)
}

// StartHandover starts the review run of a handed-over lead, or finds it.
// The transfer's activities call it through activities.Activities.StartHandover.
// names name the lead and both orgs in the run's summary.
func StartHandover(ctx context.Context, tc client.Client, queue string, in HandoverInput, names store.RunNames) error {
	return startOrFind(ctx, tc, client.StartWorkflowOptions{
		ID:                       HandoverWorkflowID(in.LeadID, in.TransferID),
		StaticSummary:            HandoverSummary(names),
		StaticDetails:            handoverDetails(in),
		TaskQueue:                queue,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes: temporal.NewSearchAttributes(OrgIDKey.ValueSet(in.ToOrgID), LeadIDKey.ValueSet(in.LeadID),
			LeadStatusKey.ValueSet("handover")),
	}, HandoverWorkflow, in)
}

// HandoverWorkflowID names the run that waits for a handed-over lead's
// review: one per lead and transfer, 82 bytes.
func HandoverWorkflowID(leadID, transferID string) string {
	return "handover/" + leadID + "/" + transferID
}
