package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/workflows"
)

// An SMTP outage fails the email's attempts; the run retries them until one
// goes through, and then completes.
func TestSignInWorkflowRetriesTheEmail(t *testing.T) {
	t.Parallel()
	env := newTestEnv()
	env.RegisterWorkflow(workflows.SignInWorkflow)
	var a *activities.Activities
	env.RegisterActivity(a)
	attempts := 0
	env.OnActivity(a.SendSignInEmail, mock.Anything, "link-1").Return(func(context.Context, string) error {
		attempts++
		if attempts < 3 {
			return errors.New("signin email not sent, will retry: 421")
		}
		return nil
	})
	env.ExecuteWorkflow(workflows.SignInWorkflow, workflows.SignInInput{LinkID: "link-1"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, 3, attempts, "the email is retried until it goes out")
}

// An outage longer than the link's life gives up: an email arriving after
// the link expired would be no use.
func TestSignInWorkflowGivesUpWhenTheLinkHasExpired(t *testing.T) {
	t.Parallel()
	env := newTestEnv()
	env.RegisterWorkflow(workflows.SignInWorkflow)
	var a *activities.Activities
	env.RegisterActivity(a)
	env.OnActivity(a.SendSignInEmail, mock.Anything, mock.Anything).Return(errors.New("signin email not sent, will retry: 421"))
	start := env.Now()
	env.ExecuteWorkflow(workflows.SignInWorkflow, workflows.SignInInput{LinkID: "link-2"})
	require.True(t, env.IsWorkflowCompleted())
	require.Error(t, env.GetWorkflowError())
	require.LessOrEqual(t, env.Now().Sub(start), workflows.SignInLinkTTL+time.Minute)
}

// A real run against PostgreSQL and the mail catcher: the email carries a
// token, and nothing the run records — its input, the activity's input and
// result — holds it.
func TestSignInWorkflowNeverRecordsTheToken(t *testing.T) {
	t.Parallel()
	env, s, sink := realEnv(t)
	env.RegisterWorkflow(workflows.SignInWorkflow)
	email := fmt.Sprintf("sig%d@signin.example", time.Now().UnixNano())
	if _, _, _, err := s.CreateOrg(ctx, "Signin Agency", "UTC", email, "Sig Owner"); err != nil {
		t.Fatal(err)
	}
	ask, err := s.AskSignInLink(ctx, email, workflows.SignInLinkTTL, 5, 15*time.Minute)
	require.NoError(t, err)
	require.NotEmpty(t, ask.LinkID)
	var recorded []string
	dc := converter.GetDefaultDataConverter()
	env.SetOnActivityStartedListener(func(_ *activity.Info, _ context.Context, args converter.EncodedValues) {
		var id string
		require.NoError(t, args.Get(&id))
		recorded = append(recorded, id)
	})
	env.SetOnActivityCompletedListener(func(_ *activity.Info, result converter.EncodedValue, err error) {
		if result != nil && result.HasValue() {
			var v any
			_ = result.Get(&v)
			recorded = append(recorded, fmt.Sprint(v))
		}
	})
	in := workflows.SignInInput{LinkID: ask.LinkID}
	payload, err := dc.ToPayloads(in)
	require.NoError(t, err)
	recorded = append(recorded, payload.String())
	env.ExecuteWorkflow(workflows.SignInWorkflow, in)
	require.NoError(t, env.GetWorkflowError())

	var token string
	for _, m := range sink.Messages() {
		if m.To[0] == email {
			token = regexp.MustCompile(`/app/signin/(lrl_[A-Za-z0-9_-]+)`).FindStringSubmatch(m.Text)[1]
		}
	}
	require.NotEmpty(t, token, "the email carries the link")
	require.NotEmpty(t, recorded)
	for _, r := range recorded {
		require.False(t, strings.Contains(r, token) || strings.Contains(r, "lrl_"), "the run recorded a token: %q", r)
	}
}
