package runs

import (
	"context"

	"go.temporal.io/sdk/client"

	"github.com/leadrelay/leadrelay/workflows"
)

// SignIn starts the run that emails a sign-in link, or finds it running.
// The console calls it when a person asks for a link. The run belongs to
// an address rather than an org, so it carries no org search attribute,
// and its summary names no one.
func (s Starter) SignIn(ctx context.Context, in workflows.SignInInput) error {
	return s.start(ctx, client.StartWorkflowOptions{
		ID:            workflows.SignInWorkflowID(in.LinkID),
		StaticSummary: workflows.SignInSummary(),
		StaticDetails: workflows.SignInDetails(in),
	}, RestartFailed, workflows.SignInWorkflow, in)
}
