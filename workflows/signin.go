package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
)

// SignInLinkTTL is how long a console sign-in link works (issue 17).
const SignInLinkTTL = 15 * time.Minute

// SignInWorkflowID is derived from the link, so a start is idempotent and
// each link has one run.
func SignInWorkflowID(linkID string) string { return "signin/" + linkID }

// SignInInput starts a sign-in link's run: the link's id only. The address
// is read by the activity, and the token is minted there, so neither enters
// the history.
type SignInInput struct {
	LinkID string
}

// signInEmailOptions retry an SMTP outage only while the link could still be
// used: an email arriving after the link expired would only disappoint.
var signInEmailOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    time.Minute,
	ScheduleToCloseTimeout: SignInLinkTTL,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    time.Minute,
	},
}

// SignInWorkflow emails a sign-in link: one activity, which mints the token,
// stores its hash on the link and sends it through the outbox.
func SignInWorkflow(ctx workflow.Context, in SignInInput) error {
	var a *activities.Activities
	err := workflow.ExecuteActivity(act(ctx, signInEmailOptions, "sign-in email with a fresh link"), a.SendSignInEmail, in.LinkID).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Error("sign-in email failed for good", "LinkID", in.LinkID, "Error", err)
	}
	return err
}
