package workflows_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// deactivatedWithLeads makes an org rotating over three staff, gives the
// first of them `team` routed team-owned leads and one agent-owned lead, and
// deactivates them. It returns the org, the team leads and the agent-owned one.
func deactivatedWithLeads(t *testing.T, s *store.Store, team int) (org, []string, string) {
	t.Helper()
	o, src := seedOrg(t, s, 3, domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteStaffEvenly}})
	var ids []string
	for i := 0; i <= team; i++ {
		in := postLead(t, s, o, src, fmt.Sprintf("rr-%d", i))
		_, err := s.RouteLead(ctx, store.RouteRequest{LeadID: in.LeadID})
		require.NoError(t, err)
		ids = append(ids, in.LeadID)
	}
	_, err := s.AssignLeads(ctx, o.id, domain.Changer{}, o.staff[0], ids)
	require.NoError(t, err)
	mine := ids[team]
	require.NoError(t, s.TransferOwnership(ctx, o.id, domain.Changer{}, mine, &o.staff[0]))
	off := false
	_, err = s.UpdateUser(ctx, o.id, o.staff[0], store.UserPatch{Active: &off})
	require.NoError(t, err)
	return o, ids[:team], mine
}

func rerouteEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *store.Store) {
	env, s, _ := realEnv(t)
	env.RegisterWorkflow(workflows.RerouteWorkflow)
	return env, s
}

// wantRerouted checks that every team lead left the deactivated user and
// the agent-owned one stayed.
func wantRerouted(t *testing.T, s *store.Store, o org, team []string, mine string) {
	t.Helper()
	for _, id := range team {
		l, err := s.GetLead(ctx, o.id, id)
		require.NoError(t, err)
		require.NotEqual(t, o.staff[0], *l.AssignedTo, "lead %s still with the deactivated user", id)
		require.Contains(t, l.Timeline[len(l.Timeline)-1].Message, "rerouted because Staff 0 was deactivated")
	}
	l, err := s.GetLead(ctx, o.id, mine)
	require.NoError(t, err)
	require.Equal(t, o.staff[0], *l.AssignedTo)
	require.Equal(t, store.Owner{Type: "user", ID: o.staff[0]}, l.Owner)
}

// Seven team-owned leads in pages of two: four activities, every lead
// rerouted, the agent-owned lead left alone.
func TestRerouteWorkflowPagesThroughEveryLead(t *testing.T) {
	t.Parallel()
	env, s := rerouteEnv(t)
	o, team, mine := deactivatedWithLeads(t, s, 7)
	env.ExecuteWorkflow(workflows.RerouteWorkflow, workflows.RerouteInput{UserID: o.staff[0], OrgID: o.id, Deactivation: 1, BatchSize: 2})
	require.Equal(t, workflows.RerouteResult{Rerouted: 7, Batches: 4}, rerouteResult(t, env))
	wantRerouted(t, s, o, team, mine)
}

// rerouteResult is the result of a run that completed.
func rerouteResult(t *testing.T, env *testsuite.TestWorkflowEnvironment) workflows.RerouteResult {
	t.Helper()
	return resultOf[workflows.RerouteResult](t, env)
}

// Past BatchesPerRun pages a run continues as new with its place and
// totals; the continued run finishes the work and reports the whole.
func TestRerouteWorkflowContinuesAsNew(t *testing.T) {
	t.Parallel()
	env, s := rerouteEnv(t)
	o, team, mine := deactivatedWithLeads(t, s, 7)
	first := workflows.RerouteInput{UserID: o.staff[0], OrgID: o.id, Deactivation: 1, BatchSize: 2, BatchesPerRun: 2}
	env.ExecuteWorkflow(workflows.RerouteWorkflow, first)
	require.True(t, env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "want continue-as-new, got %v", env.GetWorkflowError())
	var next workflows.RerouteInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Equal(t, workflows.RerouteResult{Rerouted: 4, Batches: 2}, next.Done)
	require.NotEmpty(t, next.After)
	require.Equal(t, first.UserID, next.UserID)
	require.Equal(t, 2, next.BatchesPerRun)

	cont, _ := rerouteEnv(t)
	cont.ExecuteWorkflow(workflows.RerouteWorkflow, next)
	require.Equal(t, workflows.RerouteResult{Rerouted: 7, Batches: 4}, rerouteResult(t, cont))
	wantRerouted(t, s, o, team, mine)
}

// A user reactivated while the reroute runs keeps the rest of their leads:
// the run stops at the page that sees it.
func TestRerouteWorkflowStopsWhenTheUserIsBack(t *testing.T) {
	t.Parallel()
	env, a := mockEnv()
	env.RegisterWorkflow(workflows.RerouteWorkflow)
	env.OnActivity(a.RerouteBatch, mock.Anything, activities.RerouteBatchInput{UserID: "u", Limit: workflows.RerouteBatchSize}).
		Return(activities.RerouteBatchResult{Rerouted: 100, Last: "l100", More: true}, nil).Once()
	env.OnActivity(a.RerouteBatch, mock.Anything, activities.RerouteBatchInput{UserID: "u", After: "l100", Limit: workflows.RerouteBatchSize}).
		Return(activities.RerouteBatchResult{Reactivated: true}, nil).Once()
	env.ExecuteWorkflow(workflows.RerouteWorkflow, workflows.RerouteInput{UserID: "u", OrgID: "o", Deactivation: 3})
	require.Equal(t, workflows.RerouteResult{Rerouted: 100, Batches: 2, Reactivated: true}, rerouteResult(t, env))
	env.AssertExpectations(t)
}

func TestRerouteWorkflowIDFitsEveryPersistence(t *testing.T) {
	t.Parallel()
	id := workflows.RerouteWorkflowID(domain.NewID(), 1<<62)
	require.True(t, workflows.ValidWorkflowID(id), id)
	require.Equal(t, "reroute/u/2", workflows.RerouteWorkflowID("u", 2))
}
