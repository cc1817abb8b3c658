package workflows_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
	"github.com/leadrelay/leadrelay/workflows"
)

// routedAlert routes a new lead of an owner-mode source and returns the
// alert its assignment recorded.
func routedAlert(t *testing.T, s *store.Store, ext string) (org, workflows.AlertInput) {
	t.Helper()
	o, src := seedOrg(t, s, 0, domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteOwner}})
	in := postLead(t, s, o, src, ext)
	_, err := s.RouteLead(ctx, store.RouteRequest{LeadID: in.LeadID})
	require.NoError(t, err)
	as, err := s.AlertsFor(ctx, in.LeadID)
	require.NoError(t, err)
	require.Len(t, as, 1, "one alert for the one assignment")
	a := as[0]
	return o, workflows.AlertInput{AlertID: a.ID, LeadID: a.LeadID, OrgID: a.OrgID, UserID: a.UserID}
}

// An alert's run, with the real activities: the assignee gets one email
// with the lead's essentials and its console link.
func TestAlertWorkflowEmailsTheAssigneeOnce(t *testing.T) {
	t.Parallel()
	env, s, sink := realEnv(t)
	env.RegisterWorkflow(workflows.AlertWorkflow)
	o, in := routedAlert(t, s, "alert-1")
	require.Equal(t, o.owner, in.UserID)

	env.ExecuteWorkflow(workflows.AlertWorkflow, in)
	require.NoError(t, env.GetWorkflowError())
	var res workflows.AlertResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, activities.AlertSent, res.Outcome)
	msgs := sink.Messages()
	require.Len(t, msgs, 1)
	require.True(t, strings.HasPrefix(msgs[0].To[0], "owner@"), msgs[0].To)
	require.Equal(t, "Lead assigned to you: Ada Lovelace from EverQuote", msgs[0].Subject)
	require.Contains(t, msgs[0].Text, "http://api.test/app/leads/"+in.LeadID)
	require.Contains(t, msgs[0].Text, "ada-alert-1@example.com")
	require.Contains(t, msgs[0].Text, "Priority: normal")
}

// A user who turned instant alerts off after the alert was recorded gets
// nothing: the setting is read again when the email would go out.
func TestAlertWorkflowSkipsWhenAlertsWereTurnedOff(t *testing.T) {
	t.Parallel()
	env, s, sink := realEnv(t)
	env.RegisterWorkflow(workflows.AlertWorkflow)
	_, in := routedAlert(t, s, "alert-off")
	pool, _ := testenv.DB(t)
	_, err := pool.Exec(ctx, `UPDATE users SET instant_alerts = false WHERE id = $1`, in.UserID)
	require.NoError(t, err)

	env.ExecuteWorkflow(workflows.AlertWorkflow, in)
	require.NoError(t, env.GetWorkflowError())
	var res workflows.AlertResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, activities.AlertSkipped, res.Outcome)
	require.Empty(t, sink.Messages())
}

// A week of SMTP outage (or a refusal) ends with the failure recorded and a
// completed run: the lead stays assigned.
func TestAlertWorkflowRecordsAnEmailGivenUpOn(t *testing.T) {
	t.Parallel()
	env, a := mockEnv()
	env.RegisterWorkflow(workflows.AlertWorkflow)
	env.OnActivity(a.SendAlert, mock.Anything, activities.AlertRun{AlertID: 7}).
		Return("", errors.New("alert email not sent, will retry: SMTP 451"))
	var recorded []activities.AlertFailure
	env.OnActivity(a.RecordAlertFailure, mock.Anything, mock.Anything).Return(func(_ context.Context, f activities.AlertFailure) error {
		recorded = append(recorded, f)
		return nil
	}).Once()
	env.ExecuteWorkflow(workflows.AlertWorkflow, workflows.AlertInput{AlertID: 7, LeadID: "L1", OrgID: "O1", UserID: "U1"})
	require.NoError(t, env.GetWorkflowError())
	var res workflows.AlertResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, activities.AlertFailed, res.Outcome)
	require.Equal(t, []activities.AlertFailure{{AlertID: 7, Reason: "alert email not sent, will retry: SMTP 451"}}, recorded)
}

func TestAlertWorkflowIDFitsEveryPersistence(t *testing.T) {
	t.Parallel()
	id := workflows.AlertWorkflowID(domain.NewID(), 1<<62)
	require.True(t, workflows.ValidWorkflowID(id), id)
	require.LessOrEqual(t, len(id), 62)
}

func TestAlertSummaryNamesNoPerson(t *testing.T) {
	t.Parallel()
	in := workflows.AlertInput{AlertID: 3, LeadID: "L1", OrgID: "O1", UserID: "U1"}
	got := workflows.AlertSummary(in, domain.RunNames{Org: "Acme", Source: "EverQuote", ExternalID: "ext-9"})
	require.Equal(t, "Instant alert: lead ext-9 of EverQuote assigned to user U1 in Acme", got)
}
