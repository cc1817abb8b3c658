package workflows_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/mail"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
	"github.com/leadrelay/leadrelay/internal/webhook"
	"github.com/leadrelay/leadrelay/workflows"
)

// receiver is an HTTP endpoint that verifies every request with the
// Standard Webhooks library and answers 500 to the first failFirst.
type receiver struct {
	t         *testing.T
	verify    *standardwebhooks.Webhook
	mu        sync.Mutex
	failFirst int
	attempts  []string // the webhook-id of every attempt
	accepted  []accepted
}

type accepted struct {
	ID, Type string
}

func newReceiver(t *testing.T, secret string, failFirst int) (*receiver, *httptest.Server) {
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	r := &receiver{t: t, verify: wh, failFirst: failFirst}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if err := r.verify.Verify(body, req.Header); err != nil {
		r.t.Errorf("signature does not verify: %v", err)
		w.WriteHeader(400)
		return
	}
	var ev struct {
		Type string `json:"type"`
		Data struct {
			SchemaVersion int `json:"schema_version"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.Data.SchemaVersion != 1 {
		r.t.Errorf("body %s: %v", body, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, req.Header.Get("webhook-id"))
	if len(r.attempts) <= r.failFirst {
		w.WriteHeader(500)
		return
	}
	r.accepted = append(r.accepted, accepted{req.Header.Get("webhook-id"), ev.Type})
	w.WriteHeader(204)
}

// testSealer is the tests' WEBHOOK_SECRET_KEY: what the API seals with
// and the worker opens with.
var testSealer = func() *webhook.Sealer {
	s, err := webhook.NewSealer([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		panic(err)
	}
	return s
}()

// createWebhook registers an endpoint as the API does: its secret sealed.
func createWebhook(t *testing.T, s *store.Store, orgID, url string, events []string, secret string) store.WebhookEndpoint {
	t.Helper()
	sealed, err := testSealer.Seal(secret)
	require.NoError(t, err)
	e, err := s.CreateWebhook(ctx, orgID, url, events, sealed, webhook.Mask(secret))
	require.NoError(t, err)
	return e
}

// webhookEnv is a test environment with the real activities, a store and a
// client allowed to reach the local receiver.
func webhookEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *store.Store) {
	t.Helper()
	pool, _ := testenv.DB(t)
	_, sender := testenv.MailSink(t)
	s := store.New(pool)
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.WebhookWorkflow)
	env.RegisterActivity(&activities.Activities{Store: s, Outbox: &mail.Outbox{Store: s, Sender: sender}, PublicBaseURL: "http://api.test",
		Webhooks: webhook.Guard{AllowPrivate: true}.Client(5 * time.Second), Sealer: testSealer})
	return env, s
}

// A lead's deliveries go one at a time, in the order of its timeline: the
// first is retried through two 500s before the second is tried at all;
// each is recorded delivered, signed so the Standard Webhooks library
// verifies it, and a second run sends nothing again.
func TestWebhookWorkflowRetriesThenDeliversInOrder(t *testing.T) {
	t.Parallel()
	env, s := webhookEnv(t)
	o, src := seedOrg(t, s, 0, domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteOwner}})
	secret := webhook.NewSecret()
	rcv, srv := newReceiver(t, secret, 2)
	e := createWebhook(t, s, o.id, srv.URL+"/hooks", []string{"lead.received", "lead.assigned"}, secret)
	in := postLead(t, s, o, src, "hook-1")
	_, err := s.RouteLead(ctx, store.RouteRequest{LeadID: in.LeadID})
	require.NoError(t, err)
	ds, err := s.WebhookDeliveriesForLead(ctx, in.LeadID)
	require.NoError(t, err)
	require.Len(t, ds, 2)

	env.ExecuteWorkflow(workflows.WebhookWorkflow, workflows.WebhookInput{EndpointID: e.ID, LeadID: in.LeadID, OrgID: o.id})
	require.NoError(t, env.GetWorkflowError())
	var res workflows.WebhookResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, workflows.WebhookResult{Delivered: 2}, res)
	require.Equal(t, []string{ds[0].MsgID, ds[0].MsgID, ds[0].MsgID, ds[1].MsgID}, rcv.attempts)
	require.Equal(t, []accepted{{ds[0].MsgID, "lead.received"}, {ds[1].MsgID, "lead.assigned"}}, rcv.accepted)
	log, err := s.WebhookDeliveries(ctx, e.ID, 10)
	require.NoError(t, err)
	require.Equal(t, "delivered", log[1].Status)
	require.Equal(t, 3, log[1].Attempts)
	require.Equal(t, 204, *log[1].LastStatus)
	require.Equal(t, "delivered", log[0].Status)

	// Recorded delivered: a run started again sends nothing.
	var suite testsuite.WorkflowTestSuite
	again := suite.NewTestWorkflowEnvironment()
	again.RegisterActivity(&activities.Activities{Store: s, Webhooks: webhook.Guard{AllowPrivate: true}.Client(5 * time.Second), Sealer: testSealer})
	again.ExecuteWorkflow(workflows.WebhookWorkflow, workflows.WebhookInput{EndpointID: e.ID, LeadID: in.LeadID, OrgID: o.id})
	require.NoError(t, again.GetWorkflowError())
	require.Len(t, rcv.attempts, 4)
}

// A delivery whose day of retries ends is recorded failed and the lead's
// next one goes; a signal that a delivery was added while the run had
// found none makes it look again instead of finishing.
func TestWebhookWorkflowGivesUpAfterADayThenGoesOn(t *testing.T) {
	t.Parallel()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.WebhookWorkflow)
	var a *activities.Activities
	env.RegisterActivity(a)
	in := workflows.WebhookInput{EndpointID: "e", LeadID: "l", OrgID: "o"}
	pair := activities.WebhookPair{EndpointID: "e", LeadID: "l"}
	env.OnActivity(a.NextWebhook, mock.Anything, pair).Return(int64(1), nil).Once()
	env.OnActivity(a.NextWebhook, mock.Anything, pair).Return(int64(2), nil).Once()
	env.OnActivity(a.NextWebhook, mock.Anything, pair).Return(int64(0), nil).Once()
	env.OnActivity(a.NextWebhook, mock.Anything, pair).Return(int64(3), nil).Once()
	env.OnActivity(a.NextWebhook, mock.Anything, pair).Return(int64(0), nil).Once()
	attempts := 0
	env.OnActivity(a.DeliverWebhook, mock.Anything, activities.WebhookSend{DeliveryID: 1}).Return(
		func(_ context.Context, _ activities.WebhookSend) (activities.WebhookOutcome, error) {
			attempts++
			return activities.WebhookOutcome{}, temporal.NewApplicationError("HTTP 500", "webhook_attempt")
		})
	env.OnActivity(a.DeliverWebhook, mock.Anything, activities.WebhookSend{DeliveryID: 2}).Return(
		activities.WebhookOutcome{Outcome: activities.WebhookDelivered}, nil).Once()
	env.OnActivity(a.DeliverWebhook, mock.Anything, activities.WebhookSend{DeliveryID: 3}).Return(
		activities.WebhookOutcome{Outcome: activities.WebhookDelivered}, nil).Once()
	var failed []activities.WebhookFailure
	env.OnActivity(a.FailWebhook, mock.Anything, mock.Anything).Return(func(_ context.Context, f activities.WebhookFailure) error {
		failed = append(failed, f)
		return nil
	})
	// The pump's signal arrives while the run retries its first delivery:
	// when it then finds none left, it looks once more (and finds 3).
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.WebhookSignal, nil)
	}, time.Minute)
	start := env.Now()
	env.ExecuteWorkflow(workflows.WebhookWorkflow, in)
	require.NoError(t, env.GetWorkflowError())
	var res workflows.WebhookResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, workflows.WebhookResult{Delivered: 2, Failed: 1}, res)
	require.Len(t, failed, 1)
	require.Equal(t, int64(1), failed[0].DeliveryID)
	require.Greater(t, attempts, 10, "retried with backoff")
	require.Less(t, attempts, 60, "backoff, not a busy loop")
	// Retries stop when the next backoff would end past the day.
	require.Greater(t, env.Now().Sub(start), 22*time.Hour)
	require.LessOrEqual(t, env.Now().Sub(start), 25*time.Hour)
}

// An endpoint failing for a day is disabled by the attempt that finds the
// day over: that delivery and the lead's next are recorded failed at once,
// and the org's owner gets one email about it.
func TestWebhookWorkflowDisablesAnEndpointAfterADayAndEmailsTheOwner(t *testing.T) {
	t.Parallel()
	pool, _ := testenv.DB(t)
	sink, sender := testenv.MailSink(t)
	s := store.New(pool)
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.Activities{Store: s, Outbox: &mail.Outbox{Store: s, Sender: sender}, PublicBaseURL: "http://api.test",
		Webhooks: webhook.Guard{AllowPrivate: true}.Client(5 * time.Second), Sealer: testSealer})
	o, src := seedOrg(t, s, 0, domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteOwner}})
	secret := webhook.NewSecret()
	rcv, srv := newReceiver(t, secret, 1000)
	e := createWebhook(t, s, o.id, srv.URL+"/down", []string{"lead.received", "lead.assigned"}, secret)
	in := postLead(t, s, o, src, "hook-down")
	_, err := s.RouteLead(ctx, store.RouteRequest{LeadID: in.LeadID})
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE webhook_endpoints SET failing_since = now() - interval '25 hours' WHERE id = $1`, e.ID)
	require.NoError(t, err)

	env.ExecuteWorkflow(workflows.WebhookWorkflow, workflows.WebhookInput{EndpointID: e.ID, LeadID: in.LeadID, OrgID: o.id})
	require.NoError(t, env.GetWorkflowError())
	var res workflows.WebhookResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, workflows.WebhookResult{Failed: 2}, res)
	require.Len(t, rcv.attempts, 1, "one attempt, then disabled")
	got, err := s.Webhook(ctx, o.id, e.ID)
	require.NoError(t, err)
	require.NotNil(t, got.DisabledAt)
	ds, err := s.WebhookDeliveriesForLead(ctx, in.LeadID)
	require.NoError(t, err)
	for _, d := range ds {
		require.Equal(t, "failed", d.Status)
	}
	msgs := sink.Messages()
	require.Len(t, msgs, 1, "one email to the owner for both deliveries")
	require.True(t, strings.HasPrefix(msgs[0].To[0], "owner@"), msgs[0].To)
	require.Equal(t, "Webhook endpoint disabled: "+srv.URL+"/down", msgs[0].Subject)
	require.NotContains(t, msgs[0].Text, secret)
}

// Without WEBHOOK_ALLOW_PRIVATE the delivery's own dial refuses a
// loopback receiver, whatever was checked when the endpoint was saved: the
// attempt is recorded with the guard's reason and the receiver never hears.
func TestWebhookDeliveryRefusesAPrivateAddressAtDialTime(t *testing.T) {
	t.Parallel()
	pool, _ := testenv.DB(t)
	s := store.New(pool)
	a := &activities.Activities{Store: s, Webhooks: webhook.Guard{}.Client(5 * time.Second), Sealer: testSealer}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	o, src := seedOrg(t, s, 0, domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteOwner}})
	secret := webhook.NewSecret()
	rcv, srv := newReceiver(t, secret, 0)
	e := createWebhook(t, s, o.id, srv.URL+"/inside", []string{"lead.received"}, secret)
	in := postLead(t, s, o, src, "hook-inside")
	ds, err := s.WebhookDeliveriesForLead(ctx, in.LeadID)
	require.NoError(t, err)
	_, err = env.ExecuteActivity(a.DeliverWebhook, activities.WebhookSend{DeliveryID: ds[0].ID})
	require.Error(t, err)
	require.Empty(t, rcv.attempts)
	log, err := s.WebhookDeliveries(ctx, e.ID, 1)
	require.NoError(t, err)
	require.Equal(t, "pending", log[0].Status)
	require.Nil(t, log[0].LastStatus)
	require.Contains(t, log[0].LastError, "loopback")
	require.NotContains(t, log[0].LastError, srv.URL)
}

// An endpoint's secret is in the database only sealed. A worker without
// the key (or with another one) sends nothing and says why in the
// delivery log, never quoting the secret; with the key it signs. A secret
// saved in the clear before secrets were sealed still signs, until the
// sealing pass seals it.
func TestWebhookSecretIsSealedAndOpensOnlyUnderTheKey(t *testing.T) {
	t.Parallel()
	pool, _ := testenv.DB(t)
	s := store.New(pool)
	o, src := seedOrg(t, s, 0, domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteOwner}})
	secret := webhook.NewSecret()
	rcv, srv := newReceiver(t, secret, 0)
	e := createWebhook(t, s, o.id, srv.URL+"/sealed", []string{"lead.received"}, secret)
	var row string
	require.NoError(t, pool.QueryRow(ctx, `SELECT w::text FROM webhook_endpoints w WHERE id = $1`, e.ID).Scan(&row))
	require.NotContains(t, row, strings.TrimPrefix(secret, webhook.SecretPrefix))
	key, err := webhook.SecretKey(secret)
	require.NoError(t, err)
	require.NotContains(t, row, fmt.Sprintf("%x", key))
	require.Equal(t, webhook.Mask(secret), e.SecretHint)

	deliver := func(sealer *webhook.Sealer, ext string) (store.WebhookDelivery, error) {
		t.Helper()
		a := &activities.Activities{Store: s, Webhooks: webhook.Guard{AllowPrivate: true}.Client(5 * time.Second), Sealer: sealer}
		var suite testsuite.WorkflowTestSuite
		env := suite.NewTestActivityEnvironment()
		env.RegisterActivity(a)
		in := postLead(t, s, o, src, ext)
		ds, err := s.WebhookDeliveriesForLead(ctx, in.LeadID)
		require.NoError(t, err)
		_, err = env.ExecuteActivity(a.DeliverWebhook, activities.WebhookSend{DeliveryID: ds[0].ID})
		log, lerr := s.WebhookDeliveries(ctx, e.ID, 1)
		require.NoError(t, lerr)
		return log[0], err
	}
	other, err := webhook.NewSealer([]byte("another key, 32 bytes long......"))
	require.NoError(t, err)
	for name, sealer := range map[string]*webhook.Sealer{"no key": nil, "another key": other} {
		d, err := deliver(sealer, "sealed-"+strings.ReplaceAll(name, " ", "-"))
		require.Error(t, err, name)
		require.Equal(t, "pending", d.Status, name)
		require.Contains(t, d.LastError, "WEBHOOK_SECRET_KEY", name)
		require.NotContains(t, d.LastError, secret, name)
	}
	require.Empty(t, rcv.attempts)
	d, err := deliver(testSealer, "sealed-key")
	require.NoError(t, err)
	require.Equal(t, "delivered", d.Status)
	require.Len(t, rcv.accepted, 1)

	// Saved in the clear before migration 00021: signs, then is sealed.
	_, err = pool.Exec(ctx, `UPDATE webhook_endpoints SET secret = $2, secret_sealed = NULL WHERE id = $1`, e.ID, secret)
	require.NoError(t, err)
	d, err = deliver(nil, "clear-key")
	require.NoError(t, err)
	require.Equal(t, "delivered", d.Status)
	n, err := s.SealWebhookSecrets(ctx, testSealer)
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 1)
	require.NoError(t, pool.QueryRow(ctx, `SELECT w::text FROM webhook_endpoints w WHERE id = $1`, e.ID).Scan(&row))
	require.NotContains(t, row, strings.TrimPrefix(secret, webhook.SecretPrefix))
	d, err = deliver(testSealer, "resealed-key")
	require.NoError(t, err)
	require.Equal(t, "delivered", d.Status)
	require.Len(t, rcv.accepted, 3)
}
