package workflows_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// A returned lead's run, with the real activities: each return address gets
// its email once, and the return is dealt with.
func TestReturnWorkflowEmailsTheSourcesReturnAddresses(t *testing.T) {
	t.Parallel()
	env, s, sink := realEnv(t)
	env.RegisterWorkflow(workflows.ReturnWorkflow)
	to := []string{"vendor@eq.example", "billing@eq.example"}
	o, src := seedOrg(t, s, 1, domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteOwner},
		ReturnNotificationEmails: to})
	in := postLead(t, s, o, src, "ret-1")
	_, err := s.RouteLead(ctx, store.RouteRequest{LeadID: in.LeadID})
	require.NoError(t, err)
	_, err = s.ReturnLead(ctx, o.id, domain.Changer{}, in.LeadID, domain.ReturnInput{Reason: "duplicate"}, workflows.ReturnWorkflowID(in.LeadID))
	require.NoError(t, err)

	env.ExecuteWorkflow(workflows.ReturnWorkflow, workflows.ReturnInput{LeadID: in.LeadID, OrgID: o.id})
	require.NoError(t, env.GetWorkflowError())
	var res workflows.ReturnResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, workflows.ReturnResult{Addresses: 2}, res)
	msgs := sink.Messages()
	require.Len(t, msgs, 2)
	require.ElementsMatch(t, to, []string{msgs[0].To[0], msgs[1].To[0]})
	require.Equal(t, "Lead returned by Org: Ada Lovelace", msgs[0].Subject)
}

// A week of SMTP outage (or a failure no retry mends) ends with the unsent
// emails recorded failed and a completed run: the lead is returned anyway.
func TestReturnWorkflowRecordsEmailsGivenUpOn(t *testing.T) {
	t.Parallel()
	env, a := mockEnv()
	env.RegisterWorkflow(workflows.ReturnWorkflow)
	env.OnActivity(a.NotifyReturn, mock.Anything, activities.ReturnRun{LeadID: "L1"}).
		Return(activities.ReturnNotified{}, errors.New("return email not sent, will retry: SMTP 451"))
	var recorded []activities.ReturnFailure
	env.OnActivity(a.RecordReturnFailure, mock.Anything, mock.Anything).Return(func(_ context.Context, f activities.ReturnFailure) error {
		recorded = append(recorded, f)
		return nil
	}).Once()
	env.ExecuteWorkflow(workflows.ReturnWorkflow, workflows.ReturnInput{LeadID: "L1", OrgID: "O1"})
	require.NoError(t, env.GetWorkflowError())
	var res workflows.ReturnResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.True(t, res.Failed)
	require.Len(t, recorded, 1)
	require.Equal(t, "L1", recorded[0].LeadID)
	require.Equal(t, "return email not sent, will retry: SMTP 451", recorded[0].Reason, "the last attempt's words")
}

func TestReturnWorkflowIDFitsEveryPersistence(t *testing.T) {
	t.Parallel()
	id := workflows.ReturnWorkflowID(domain.NewID())
	require.True(t, workflows.ValidWorkflowID(id))
	require.Len(t, id, 43)
}
