package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
	"github.com/leadrelay/leadrelay/internal/mail"
	"github.com/leadrelay/leadrelay/internal/mailcatcher"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
	"github.com/leadrelay/leadrelay/workflows"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

var ctx = context.Background()

// realEnv is a workflow test environment whose activities are the real ones,
// on the test database and an SMTP sink on loopback.
func realEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *store.Store, *mailcatcher.Catcher) {
	t.Helper()
	pool, _ := testenv.DB(t)
	sink, sender := testenv.MailSink(t)
	s := store.New(pool)
	env := newTestEnv()
	env.RegisterWorkflow(workflows.LeadWorkflow)
	env.RegisterActivity(&activities.Activities{Store: s, Outbox: &mail.Outbox{Store: s, Sender: sender}, PublicBaseURL: "http://api.test"})
	return env, s, sink
}

// newTestEnv is the SDK's test environment with a deadlock detector that
// tolerates a loaded machine: `go test ./...` runs the packages' tests side
// by side on two cores, and a workflow task starved of CPU for a second is
// not a deadlock (TestHandoverRunReportsWhatTheDatabaseDecided failed so).
func newTestEnv() *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: time.Minute})
	return env
}

// mockEnv is a workflow test environment whose activities the test mocks
// (through the returned nil *Activities).
func mockEnv() (*testsuite.TestWorkflowEnvironment, *activities.Activities) {
	env := newTestEnv()
	env.RegisterWorkflow(workflows.LeadWorkflow)
	var a *activities.Activities
	env.RegisterActivity(a)
	return env, a
}

type org struct {
	id, owner string
	staff     []string
}

func seedOrg(t *testing.T, s *store.Store, staff int, cfg domain.SourceConfig) (org, store.Source) {
	t.Helper()
	dom := fmt.Sprintf("w%d.example", time.Now().UnixNano())
	o, owner, _, err := s.CreateOrg(ctx, "Org", "UTC", "owner@"+dom, "Olivia Owner")
	require.NoError(t, err)
	out := org{id: o.ID, owner: owner.ID}
	for i := 0; i < staff; i++ {
		u, _, err := s.CreateUser(ctx, o.ID, fmt.Sprintf("s%d@%s", i, dom), fmt.Sprintf("Staff %d", i), domain.RoleStaff, false)
		require.NoError(t, err)
		out.staff = append(out.staff, u.ID)
	}
	delay, err := cfg.Validate()
	require.NoError(t, err)
	src, _, _, err := s.PutSource(ctx, o.ID, "everquote", cfg, delay)
	require.NoError(t, err)
	return out, src
}

func postLead(t *testing.T, s *store.Store, o org, src store.Source, ext string) workflows.LeadInput {
	t.Helper()
	in, err := s.InsertLead(ctx, store.NewLead{SourceID: src.ID, OrgID: o.id, Slug: src.Slug, WorkflowID: "wf", ReceivedAt: time.Now(),
		In: domain.LeadInput{ExternalID: ext, FirstName: "Ada", LastName: "Lovelace", Email: "ada-" + ext + "@example.com"}})
	require.NoError(t, err)
	return workflows.LeadInput{LeadID: in.LeadID, OrgID: o.id, Slug: src.Slug, ExternalID: ext, Shape: workflows.LeadShape}
}

func TestEachRoutingModeThroughTheWorkflow(t *testing.T) {
	t.Parallel()
	cases := []struct {
		mode     domain.RoutingMode
		staff    int
		wantLoc  string
		toOwner  bool
		inReason string
	}{
		{domain.RouteOwner, 2, "", true, "source routing is owner"},
		{domain.RouteStaffEvenly, 3, "", false, "position 1 of 3"},
		{domain.RouteStaffEvenly, 0, "", true, "no active staff"},
		{domain.RoutePending, 2, "pending", false, "pending"},
		{domain.RouteQueue, 2, "queue", false, "claimable after 10m0s"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%dstaff", tc.mode, tc.staff), func(t *testing.T) {
			env, s, sink := realEnv(t)
			cfg := domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: tc.mode},
				PurchaseNotificationEmails: []string{"buyer@agency.example", "ops@agency.example"}}
			if tc.mode == domain.RouteQueue {
				cfg.Routing.QueueDelay = "10m"
			}
			o, src := seedOrg(t, s, tc.staff, cfg)
			in := postLead(t, s, o, src, "m1")

			env.ExecuteWorkflow(workflows.LeadWorkflow, in)
			require.True(t, env.IsWorkflowCompleted())
			require.NoError(t, env.GetWorkflowError())
			var d workflows.LeadResult
			require.NoError(t, env.GetWorkflowResult(&d))
			require.Equal(t, tc.wantLoc, d.Location)

			l, err := s.GetLead(ctx, o.id, in.LeadID)
			require.NoError(t, err)
			switch {
			case tc.wantLoc != "":
				require.Nil(t, l.AssignedTo)
				require.Equal(t, tc.wantLoc, *l.Location)
				require.Equal(t, tc.wantLoc, d.Status)
			case tc.toOwner:
				require.Equal(t, o.owner, *l.AssignedTo)
				require.Equal(t, o.owner, d.AssignedTo)
			default:
				require.Contains(t, o.staff, *l.AssignedTo)
				require.Equal(t, *l.AssignedTo, d.AssignedTo)
			}
			var reasons []string
			for _, e := range l.Timeline {
				if e.Kind == "routed" {
					reasons = append(reasons, e.Message)
				}
			}
			require.Len(t, reasons, 1, "one decision, explained on the lead's timeline")
			require.Contains(t, reasons[0], tc.inReason)

			q, err := env.QueryWorkflow(workflows.QueryDecision)
			require.NoError(t, err)
			var qd workflows.LeadResult
			require.NoError(t, q.Get(&qd))
			require.Equal(t, d, qd)

			msgs := sink.Messages()
			require.Len(t, msgs, 2, "one purchase email per address")
			for _, m := range msgs {
				require.Equal(t, "New lead from EverQuote: Ada Lovelace", m.Subject)
				require.Equal(t, mail.MessageID("purchase:"+in.LeadID+":"+m.To[0], "leadrelay.test"), m.MessageID)
				require.Contains(t, m.Text, "http://api.test/v1/leads/"+in.LeadID)
			}
		})
	}
}

func TestRoutingAndEmailFailuresAreRetried(t *testing.T) {
	t.Parallel()
	env, a := mockEnv()

	in := activities.RouteInput{LeadID: "L1", OrgID: "O1"}
	env.OnActivity(a.Route, mock.Anything, in).Return(activities.RouteResult{}, errors.New("connection refused")).Twice()
	env.OnActivity(a.Route, mock.Anything, in).Return(activities.RouteResult{LeadID: "L1", OrgID: "O1", AssignedTo: "U1", Notify: 1}, nil).Once()
	smtpDown := errors.New("purchase email not sent, will retry: dial tcp 127.0.0.1:25: connect: connection refused")
	env.OnActivity(a.NotifyPurchase, mock.Anything, mock.Anything).Return(smtpDown).Times(3)
	var sent []activities.PurchaseNotice
	env.OnActivity(a.NotifyPurchase, mock.Anything, mock.Anything).Return(func(_ context.Context, n activities.PurchaseNotice) error {
		sent = append(sent, n)
		return nil
	}).Once()

	env.ExecuteWorkflow(workflows.LeadWorkflow, workflows.LeadInput{LeadID: "L1", OrgID: "O1", Slug: "s", ExternalID: "e", Shape: workflows.LeadShape})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	env.AssertExpectations(t)
	require.Equal(t, []activities.PurchaseNotice{{LeadID: "L1", OrgID: "O1", Hop: 0, ExternalID: "e"}}, sent,
		"the email activity gets ids; it reads the lead and the addresses itself")
}

// TestAHopWithoutAddressesSchedulesNoEmail: no purchase addresses, no email
// activity in the history.
func TestAHopWithoutAddressesSchedulesNoEmail(t *testing.T) {
	t.Parallel()
	env, a := mockEnv()
	env.OnActivity(a.Route, mock.Anything, mock.Anything).Return(activities.RouteResult{LeadID: "L1", OrgID: "O1", Location: "queue"}, nil).Once()
	env.ExecuteWorkflow(workflows.LeadWorkflow, workflows.LeadInput{LeadID: "L1", OrgID: "O1", Slug: "s", ExternalID: "e", Shape: workflows.LeadShape})
	require.NoError(t, env.GetWorkflowError())
	env.AssertExpectations(t)
	env.AssertNotCalled(t, "NotifyPurchase", mock.Anything, mock.Anything)
	var d workflows.LeadResult
	require.NoError(t, env.GetWorkflowResult(&d))
	require.Equal(t, "queue", d.Status)
}

func TestLeadNotFoundFailsTheRunWithoutRetrying(t *testing.T) {
	t.Parallel()
	env, _, _ := realEnv(t)
	env.ExecuteWorkflow(workflows.LeadWorkflow, workflows.LeadInput{LeadID: "00000000-0000-0000-0000-000000000001", OrgID: "x", Slug: "s", ExternalID: "e", Shape: workflows.LeadShape})
	require.True(t, env.IsWorkflowCompleted())
	err := env.GetWorkflowError()
	require.Error(t, err)
	require.Equal(t, domain.ENotFound, failure.Code(err), "%v", err)
}

// Workflow IDs never carry vendor data: they must fit every persistence
// (255 bytes, printable ASCII) at any depth, and a crafted external id cannot
// make two leads' IDs collide.
func TestWorkflowIDsFitEveryPersistence(t *testing.T) {
	t.Parallel()
	lead, org := "0b7e6c1e-8f5a-4c8e-9d7a-3f1e2d4c5b6a", "5d2c4b1a-7e6f-4a3b-8c9d-0e1f2a3b4c5d"
	require.Equal(t, "lead/"+lead, workflows.LeadWorkflowID(lead))
	hop := workflows.HopWorkflowID(lead, org)
	require.Equal(t, "lead/"+lead+"/via/"+org, hop)
	require.Len(t, hop, 82)
	require.True(t, workflows.ValidWorkflowID(hop))
	for _, bad := range []string{"", "lead/ext-é-1", "lead/x\ny", "lead/a b", strings.Repeat("x", 256)} {
		require.False(t, workflows.ValidWorkflowID(bad), "%q", bad)
	}
	require.True(t, workflows.ValidWorkflowID(strings.Repeat("x", 255)))
}

// TestFanOutRunsTheSubAgencysRoutingAsAChild: the master's run passes the
// lead down to a child of its own shape, and answers with where it ended.
func TestFanOutRunsTheSubAgencysRoutingAsAChild(t *testing.T) {
	t.Parallel()
	env, s, sink := realEnv(t)
	f := fanOutSetup(t, s, "fan-1")
	sub, in, dom := org{id: f.sub}, f.in, f.dom
	var children []workflows.LeadInput
	env.SetOnChildWorkflowStartedListener(func(_ *workflow.Info, _ workflow.Context, args converter.EncodedValues) {
		var c workflows.LeadInput
		require.NoError(t, args.Get(&c))
		children = append(children, c)
	})

	env.ExecuteWorkflow(workflows.LeadWorkflow, in)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var d workflows.LeadResult
	require.NoError(t, env.GetWorkflowResult(&d))
	require.Equal(t, sub.id, d.OrgID, "the result is the sub-agency's decision")
	require.Equal(t, f.rep, d.AssignedTo)
	require.Equal(t, []workflows.LeadInput{{LeadID: in.LeadID, OrgID: sub.id, Slug: in.Slug, ExternalID: in.ExternalID, Hop: 1,
		Shape: workflows.LeadShape}}, children, "one child: the sub-agency's routing, one level down, of the same shape")
	l, err := s.GetLead(ctx, sub.id, in.LeadID)
	require.NoError(t, err)
	require.Equal(t, f.rep, *l.AssignedTo)
	var tos []string
	for _, m := range sink.Messages() {
		tos = append(tos, m.To[0])
	}
	require.ElementsMatch(t, []string{"master@" + dom, "north@" + dom}, tos, "each hop's source notifies its own addresses")
}
