package activities_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
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
	t.Parallel()
	env, sink, _ := setup(t)
	var a *activities.Activities
	key := "k-once-" + domain.NewID() // a key of its own on every run: -count=N reuses the database
	for i := 0; i < 3; i++ {
		_, err := env.ExecuteActivity(a.SendEmail, email(key))
		require.NoError(t, err)
	}
	msgs := sink.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, "New lead from EverQuote: Ada", msgs[0].Subject)
	require.Equal(t, mail.MessageID(key, "leadrelay.test"), msgs[0].MessageID)
	require.Contains(t, msgs[0].HTML, "<b>Ada</b>")
}

func TestSendEmailDuringAnOutageFailsThenSendsOnce(t *testing.T) {
	t.Parallel()
	env, sink, _ := setup(t)
	var a *activities.Activities
	require.NoError(t, sink.Stop())
	key := "k-outage-" + domain.NewID()
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
	t.Parallel()
	env, _, _ := setup(t)
	var a *activities.Activities
	e := email("k-bad")
	e.Template = "no-such-template"
	_, err := env.ExecuteActivity(a.SendEmail, e)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	require.True(t, appErr.NonRetryable())
	require.Equal(t, domain.EInternal, failure.Code(err))
}

// A 5xx to the recipient is about this message: not retried. A 5xx to MAIL
// FROM is about our configuration (a wrong MAIL_FROM, missing credentials):
// retried, so fixing it sends everything that waited.
func TestOnlyARecipientRefusalIsPermanent(t *testing.T) {
	t.Parallel()
	env, sink, _ := setup(t)
	var a *activities.Activities

	sink.RefuseSender(530)
	_, err := env.ExecuteActivity(a.SendEmail, email("k-from-"+domain.NewID()))
	var appErr *temporal.ApplicationError
	require.Error(t, err)
	require.False(t, errors.As(err, &appErr) && appErr.NonRetryable(), "a refused sender must stay retryable: %v", err)
	sink.RefuseSender(0)

	sink.Refuse(550, "buyer@agency.example")
	_, err = env.ExecuteActivity(a.SendEmail, email("k-rcpt-"+domain.NewID()))
	require.True(t, errors.As(err, &appErr), "%v", err)
	require.True(t, appErr.NonRetryable(), "a refused recipient is permanent")
	require.Equal(t, domain.ERefused, failure.Code(err))
	require.Contains(t, appErr.Error(), "550")
	require.Empty(t, sink.Messages())
}

// routedLead is a lead routed at an org whose source notifies two addresses.
func routedLead(t *testing.T, s *store.Store) (activities.PurchaseNotice, []string) {
	t.Helper()
	ctx := context.Background()
	dom := fmt.Sprintf("p%d.example", time.Now().UnixNano())
	o, _, _, err := s.CreateOrg(ctx, "Org", "UTC", "owner@"+dom, "Olivia Owner")
	require.NoError(t, err)
	to := []string{"buyer@" + dom, "ops@" + dom}
	src, _, _, err := s.PutSource(ctx, o.ID, "everquote", domain.SourceConfig{Name: "EverQuote", Priority: "normal",
		Routing: domain.Routing{Mode: domain.RouteOwner}, PurchaseNotificationEmails: to}, 0)
	require.NoError(t, err)
	in, err := s.InsertLead(ctx, store.NewLead{SourceID: src.ID, OrgID: o.ID, Slug: src.Slug, WorkflowID: "wf", ReceivedAt: time.Now(),
		In: domain.LeadInput{ExternalID: "ext-1", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com", Phone: "+15551234567"}})
	require.NoError(t, err)
	_, err = s.RouteLead(ctx, store.RouteRequest{LeadID: in.LeadID, OrgID: o.ID})
	require.NoError(t, err)
	return activities.PurchaseNotice{LeadID: in.LeadID, OrgID: o.ID, ExternalID: "ext-1"}, to
}

// TestNotifyPurchaseReadsWhatTheWorkflowDoesNotCarry: from ids alone, each
// address gets the lead's data once, however often the activity runs.
func TestNotifyPurchaseReadsWhatTheWorkflowDoesNotCarry(t *testing.T) {
	t.Parallel()
	env, sink, s := setup(t)
	var a *activities.Activities
	n, to := routedLead(t, s)
	for i := 0; i < 2; i++ {
		_, err := env.ExecuteActivity(a.NotifyPurchase, n)
		require.NoError(t, err)
	}
	msgs := sink.Messages()
	require.Len(t, msgs, 2)
	for _, m := range msgs {
		require.Equal(t, "New lead from EverQuote: Ada Lovelace", m.Subject)
		require.Contains(t, m.Text, "ada@example.com")
		require.Equal(t, mail.MessageID(activities.PurchaseKey(n.LeadID, n.OrgID, 0, m.To[0]), "leadrelay.test"), m.MessageID)
	}
	require.ElementsMatch(t, to, []string{msgs[0].To[0], msgs[1].To[0]})
}

// TestNotifyPurchaseRecordsARefusedAddressAndGoesOn: one address refused for
// good is on the timeline once; the other gets its email; nothing is retried.
func TestNotifyPurchaseRecordsARefusedAddressAndGoesOn(t *testing.T) {
	t.Parallel()
	env, sink, s := setup(t)
	var a *activities.Activities
	n, to := routedLead(t, s)
	sink.Refuse(550, to[0])
	for i := 0; i < 2; i++ {
		_, err := env.ExecuteActivity(a.NotifyPurchase, n)
		require.NoError(t, err, "a refused address does not fail the others")
	}
	msgs := sink.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, to[1], msgs[0].To[0])
	l, err := s.GetLead(context.Background(), n.OrgID, n.LeadID)
	require.NoError(t, err)
	var failed []string
	for _, e := range l.Timeline {
		if e.Kind == "email_failed" {
			failed = append(failed, e.Message)
		}
	}
	require.Len(t, failed, 1)
	require.Contains(t, failed[0], to[0])
	require.Contains(t, failed[0], "550")
}

// TestNotifyPurchaseOutageErrorNamesNoAddress: the last attempt's error is
// recorded in Temporal's history, so it carries no address and no lead data.
func TestNotifyPurchaseOutageErrorNamesNoAddress(t *testing.T) {
	t.Parallel()
	env, sink, s := setup(t)
	var a *activities.Activities
	n, to := routedLead(t, s)
	for _, outage := range []func(){func() { require.NoError(t, sink.Stop()) }, func() { require.NoError(t, sink.Resume()); sink.Refuse(451) }} {
		outage()
		_, err := env.ExecuteActivity(a.NotifyPurchase, n)
		require.Error(t, err)
		var appErr *temporal.ApplicationError
		require.False(t, errors.As(err, &appErr) && appErr.NonRetryable(), "an outage stays retryable: %v", err)
		for _, secret := range append(to, "Ada", "ada@example.com", "5551234567") {
			require.NotContains(t, err.Error(), secret)
		}
	}
}
