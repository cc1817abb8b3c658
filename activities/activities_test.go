package activities_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/mail"
	"github.com/leadrelay/leadrelay/internal/mailcatcher"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func setup(t *testing.T) (*testsuite.TestActivityEnvironment, *mailcatcher.Catcher, *store.Store) {
	t.Helper()
	pool, _ := testenv.DB(t)
	sink, sender := testenv.MailSink(t)
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	s := store.New(pool)
	env.RegisterActivity(&activities.Activities{Store: s, Outbox: &mail.Outbox{Store: s, Sender: sender}})
	return env, sink, s
}

func email(key string) activities.Email {
	return activities.Email{Template: "purchase", Key: key, Kind: "purchase", To: "buyer@agency.example",
		Data: map[string]string{"SourceName": "EverQuote", "LeadName": "Ada", "LeadURL": "http://x/v1/leads/1"}}
}

func TestSendEmailTwiceWithOneKeySendsOnce(t *testing.T) {
	env, sink, _ := setup(t)
	var a *activities.Activities
	for i := 0; i < 3; i++ {
		_, err := env.ExecuteActivity(a.SendEmail, email("k-once-"+t.Name()))
		require.NoError(t, err)
	}
	msgs := sink.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, "New lead from EverQuote: Ada", msgs[0].Subject)
	require.Equal(t, mail.MessageID("k-once-"+t.Name(), "leadrelay.test"), msgs[0].MessageID)
	require.Contains(t, msgs[0].HTML, "<b>Ada</b>")
}

func TestSendEmailDuringAnOutageFailsThenSendsOnce(t *testing.T) {
	env, sink, _ := setup(t)
	var a *activities.Activities
	require.NoError(t, sink.Stop())
	key := "k-outage-" + t.Name()
	_, err := env.ExecuteActivity(a.SendEmail, email(key))
	require.Error(t, err, "an unreachable SMTP server must fail the attempt so Temporal retries it")
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		require.False(t, appErr.NonRetryable(), "an outage must stay retryable")
	}
	var lastErr *string
	pool, _ := testenv.DB(t)
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT last_error FROM email_deliveries WHERE key = $1`, key).Scan(&lastErr))
	require.NotNil(t, lastErr)

	require.NoError(t, sink.Resume())
	_, err = env.ExecuteActivity(a.SendEmail, email(key))
	require.NoError(t, err)
	_, err = env.ExecuteActivity(a.SendEmail, email(key))
	require.NoError(t, err)
	require.Len(t, sink.Messages(), 1)
}

func TestBadTemplateIsNotRetried(t *testing.T) {
	env, _, _ := setup(t)
	var a *activities.Activities
	e := email("k-bad")
	e.Template = "no-such-template"
	_, err := env.ExecuteActivity(a.SendEmail, e)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	require.True(t, appErr.NonRetryable())
}

// A 5xx to the recipient is about this message: not retried. A 5xx to MAIL
// FROM is about our configuration (a wrong MAIL_FROM, missing credentials):
// retried, so fixing it sends everything that waited.
func TestOnlyARecipientRefusalIsPermanent(t *testing.T) {
	env, sink, _ := setup(t)
	var a *activities.Activities

	sink.RefuseSender(530)
	_, err := env.ExecuteActivity(a.SendEmail, email("k-from-"+t.Name()))
	var appErr *temporal.ApplicationError
	require.Error(t, err)
	require.False(t, errors.As(err, &appErr) && appErr.NonRetryable(), "a refused sender must stay retryable: %v", err)
	sink.RefuseSender(0)

	sink.Refuse(550, "buyer@agency.example")
	_, err = env.ExecuteActivity(a.SendEmail, email("k-rcpt-"+t.Name()))
	require.True(t, errors.As(err, &appErr), "%v", err)
	require.True(t, appErr.NonRetryable(), "a refused recipient is permanent")
	require.Equal(t, "EmailRefused", appErr.Type())
	require.Contains(t, appErr.Error(), "550")
	require.Empty(t, sink.Messages())
}
