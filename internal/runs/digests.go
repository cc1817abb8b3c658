package runs

import (
	"context"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/leadrelay/leadrelay/workflows"
)

// Digest starts a digest batch's run, or finds it running (USE_EXISTING
// adds nothing to its history). The worker's sweep calls it for every batch
// it records, and again now and then for batches not yet sent, so a crash
// between the row and the start, or a run terminated by an operator, only
// delays the digest. A completed run is not started again: it sent. Its
// run has no summary, so nothing is read.
func (s Starter) Digest(ctx context.Context, in workflows.DigestInput) error {
	return s.start(ctx, client.StartWorkflowOptions{
		ID:                    workflows.DigestWorkflowID(in.OrgID, in.Day, in.Batch),
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.OrgIDKey.ValueSet(in.OrgID)),
	}, RestartFailed, workflows.DigestWorkflow, in)
}
