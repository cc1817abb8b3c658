package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/mail"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
	"github.com/leadrelay/leadrelay/workflows"
)

type fanOutFixture struct {
	master, sub, rep string
	in               workflows.LeadInput
	dom              string
}

// fanOutSetup links one sub-agency (one rep, its own purchase address) under
// a master whose source fans out to it (with the master's purchase address).
func fanOutSetup(t *testing.T, s *store.Store, ext string) fanOutFixture {
	t.Helper()
	dom := fmt.Sprintf("f%d.example", time.Now().UnixNano())
	m, _, _, err := s.CreateOrg(ctx, "Master", "UTC", "m@"+dom, "M")
	require.NoError(t, err)
	sub, _, _, err := s.CreateOrg(ctx, "North", "UTC", "n@"+dom, "N")
	require.NoError(t, err)
	require.NoError(t, s.LinkOrgs(ctx, m.ID, sub.ID))
	rep, _, err := s.CreateUser(ctx, sub.ID, "rep@"+dom, "Rep", domain.RoleStaff, false)
	require.NoError(t, err)
	_, _, _, err = s.PutSource(ctx, sub.ID, "everquote", domain.SourceConfig{Name: "EQ North", Priority: "normal",
		Routing: domain.Routing{Mode: domain.RouteStaffEvenly}, PurchaseNotificationEmails: []string{"north@" + dom}}, 0)
	require.NoError(t, err)
	src, _, _, err := s.PutSource(ctx, m.ID, "everquote", domain.SourceConfig{Name: "EQ", Priority: "normal",
		Routing: domain.Routing{Mode: domain.RouteSubAgencies, SubAgencies: []string{sub.ID}}, PurchaseNotificationEmails: []string{"master@" + dom}}, 0)
	require.NoError(t, err)
	return fanOutFixture{master: m.ID, sub: sub.ID, rep: rep.ID, in: postLead(t, s, org{id: m.ID}, src, ext), dom: dom}
}

func timelineKinds(t *testing.T, s *store.Store, orgID, leadID string) (kinds []string, msgs []string) {
	t.Helper()
	l, err := s.GetLead(ctx, orgID, leadID)
	require.NoError(t, err)
	for _, e := range l.Timeline {
		kinds = append(kinds, e.Kind)
		msgs = append(msgs, e.Message)
	}
	return kinds, msgs
}

// TestFanOutNeverWaitsForEmail: with SMTP down, the master's hop passes the
// lead on and the sub-agency assigns it at once; the emails keep retrying
// beside it and, when they give up, are recorded as failed on the timeline.
func TestFanOutNeverWaitsForEmail(t *testing.T) {
	t.Parallel()
	env, s, sink := realEnv(t)
	require.NoError(t, sink.Stop())
	f := fanOutSetup(t, s, "fan-smtp-down")
	var assignedEarly bool
	env.RegisterDelayedCallback(func() {
		l, err := s.GetLead(ctx, f.sub, f.in.LeadID)
		assignedEarly = err == nil && l.AssignedTo != nil && *l.AssignedTo == f.rep
	}, time.Minute)

	env.ExecuteWorkflow(workflows.LeadWorkflow, f.in)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError(), "an email that fails for good does not fail the lead's run")
	require.True(t, assignedEarly, "one minute into an SMTP outage the lead must already be assigned at the sub-agency")
	require.Empty(t, sink.Messages())
	kinds, msgs := timelineKinds(t, s, f.sub, f.in.LeadID)
	var failed []string
	for i, k := range kinds {
		if k == "email_failed" {
			failed = append(failed, msgs[i])
		}
	}
	require.Len(t, failed, 2, "each hop's purchase email is recorded failed once: %v", msgs)
	require.Contains(t, strings.Join(failed, "\n"), "master@"+f.dom)
	require.Contains(t, strings.Join(failed, "\n"), "north@"+f.dom)
}

// TestPermanentSMTPRefusalIsRecordedAtOnce: a 550 is not retried for a week;
// the lead is routed and the email is failed on the timeline within seconds.
func TestPermanentSMTPRefusalIsRecordedAtOnce(t *testing.T) {
	t.Parallel()
	env, s, sink := realEnv(t)
	sink.Refuse(550)
	f := fanOutSetup(t, s, "fan-550")
	start := env.Now()
	env.ExecuteWorkflow(workflows.LeadWorkflow, f.in)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Less(t, env.Now().Sub(start), time.Minute, "a permanent refusal is not retried")
	l, err := s.GetLead(ctx, f.sub, f.in.LeadID)
	require.NoError(t, err)
	require.Equal(t, f.rep, *l.AssignedTo)
	kinds, msgs := timelineKinds(t, s, f.sub, f.in.LeadID)
	n := 0
	for i, k := range kinds {
		if k == "email_failed" {
			n++
			require.Contains(t, msgs[i], "550")
		}
	}
	require.Equal(t, 2, n, "timeline: %v", msgs)
	pool, _ := testenv.DB(t)
	var status string
	require.NoError(t, pool.QueryRow(ctx, `SELECT status FROM email_deliveries WHERE key = $1`,
		"purchase:"+f.in.LeadID+":"+f.sub+":north@"+f.dom).Scan(&status))
	require.Equal(t, "failed", status)
}

// TestLongDatabaseOutageMovesRoutingOffTheLocalActivity: a local activity's
// retries past the workflow task timeout add events to the history for as
// long as they last; after a minute routing becomes a regular activity, whose
// retries add none. Three minutes of refused connections (the test suite
// caps an unlimited policy at 10 attempts, so no longer): the local activity
// is tried only within its first minute, the rest are regular attempts, and
// the lead is routed once the database answers.
func TestLongDatabaseOutageMovesRoutingOffTheLocalActivity(t *testing.T) {
	t.Parallel()
	env, a := mockEnv()
	start := env.Now()
	var local, regular int
	env.SetOnLocalActivityStartedListener(func(*activity.Info, context.Context, []interface{}) { local++ })
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == "Route" {
			regular++
		}
	})
	dec := activities.RouteResult{LeadID: "L1", OrgID: "O1", AssignedTo: "U1"}
	env.OnActivity(a.Route, mock.Anything, mock.Anything).Return(func(context.Context, activities.RouteInput) (activities.RouteResult, error) {
		if env.Now().Sub(start) < 3*time.Minute {
			return activities.RouteResult{}, errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
		}
		return dec, nil
	})
	env.ExecuteWorkflow(workflows.LeadWorkflow, workflows.LeadInput{LeadID: "L1", OrgID: "O1", Slug: "s", ExternalID: "e", Shape: workflows.LeadShape})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var got workflows.LeadResult
	require.NoError(t, env.GetWorkflowResult(&got))
	require.Equal(t, "U1", got.AssignedTo)
	require.LessOrEqual(t, local, 20, "local attempts are bounded by the first minute (every 5 s at most)")
	require.GreaterOrEqual(t, regular, 3, "the rest of the outage is retried as a regular activity")
}

// TestEachHopNotifiesTheSameAddressOnce: a master and its sub-agency that
// both notify one address send it two emails, one per hop (the key names the
// sub-agency's hop), never more.
func TestEachHopNotifiesTheSameAddressOnce(t *testing.T) {
	t.Parallel()
	env, s, sink := realEnv(t)
	f := fanOutSetup(t, s, "fan-shared-addr")
	shared := "master@" + f.dom
	_, _, _, err := s.PutSource(ctx, f.sub, "everquote", domain.SourceConfig{Name: "EQ North", Priority: "normal",
		Routing: domain.Routing{Mode: domain.RouteStaffEvenly}, PurchaseNotificationEmails: []string{shared}}, 0)
	require.NoError(t, err)
	env.ExecuteWorkflow(workflows.LeadWorkflow, f.in)
	require.NoError(t, env.GetWorkflowError())
	var ids []string
	for _, m := range sink.Messages() {
		require.Equal(t, shared, m.To[0])
		ids = append(ids, m.MessageID)
	}
	require.ElementsMatch(t, []string{
		mail.MessageID("purchase:"+f.in.LeadID+":"+shared, testenv.MailDomain),
		mail.MessageID("purchase:"+f.in.LeadID+":"+f.sub+":"+shared, testenv.MailDomain),
	}, ids)
}
