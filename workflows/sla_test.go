package workflows_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
	"github.com/leadrelay/leadrelay/workflows"
)

// slaLead routes a lead of a staff_evenly source with the SLA to its first
// member and returns the SLA's run input.
func slaLead(t *testing.T, s *store.Store, sla domain.SLA, staff int) (org, workflows.SLAInput, store.SLAState) {
	t.Helper()
	o, src := seedOrg(t, s, staff, domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteStaffEvenly}, SLA: &sla})
	in := postLead(t, s, o, src, "sla-1")
	_, err := s.RouteLead(ctx, store.RouteRequest{LeadID: in.LeadID})
	require.NoError(t, err)
	st, err := s.LeadSLA(ctx, in.LeadID)
	require.NoError(t, err)
	return o, workflows.SLAInput{SLAID: st.ID, LeadID: in.LeadID, OrgID: o.id}, st
}

func slaEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *store.Store, *pgxpool.Pool) {
	env, s, _ := realEnv(t)
	env.RegisterWorkflow(workflows.SLAWorkflow)
	pool, _ := testenv.DB(t)
	return env, s, pool
}

func slaKinds(t *testing.T, s *store.Store, o org, leadID string) []string {
	t.Helper()
	l, err := s.GetLead(ctx, o.id, leadID)
	require.NoError(t, err)
	var kinds []string
	for _, e := range l.Timeline {
		if e.Kind == "sla_breached" || e.Kind == "sla_escalated" {
			kinds = append(kinds, e.Kind)
		}
	}
	return kinds
}

// A lead nobody works goes down the rotation at each deadline, K times,
// then to the owner; the run waits on durable timers (15 minutes a step).
func TestSLARunEscalatesThenFallsBack(t *testing.T) {
	t.Parallel()
	env, s, _ := slaEnv(t)
	o, in, first := slaLead(t, s, domain.SLA{Within: "15m", MaxEscalations: 2}, 3)
	start := env.Now()
	env.ExecuteWorkflow(workflows.SLAWorkflow, in)
	require.NoError(t, env.GetWorkflowError())
	var res workflows.SLAResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, workflows.SLAResult{Status: store.SLADone, Outcome: "owner", Escalations: 2}, res)
	require.GreaterOrEqual(t, env.Now().Sub(start), 45*time.Minute-time.Minute, "three deadlines of 15 minutes")
	l, err := s.GetLead(ctx, o.id, in.LeadID)
	require.NoError(t, err)
	require.Equal(t, o.owner, *l.AssignedTo)
	require.Equal(t, []string{"sla_breached", "sla_escalated", "sla_breached", "sla_escalated", "sla_breached", "sla_escalated"},
		slaKinds(t, s, o, in.LeadID))
	require.Equal(t, o.staff[0], first.UserID)
}

// Worked before the deadline: the stop signal ends the run at once, and
// nothing is escalated.
func TestSLARunStopsWhenWorked(t *testing.T) {
	t.Parallel()
	env, s, _ := slaEnv(t)
	o, in, first := slaLead(t, s, domain.SLA{Within: "15m", MaxEscalations: 2}, 2)
	start := env.Now()
	env.RegisterDelayedCallback(func() {
		changed, err := s.MarkWorked(ctx, o.id, first.UserID, in.LeadID)
		require.NoError(t, err)
		require.True(t, changed)
		env.SignalWorkflow(workflows.SLAStopSignal, nil)
	}, 5*time.Minute)
	env.ExecuteWorkflow(workflows.SLAWorkflow, in)
	require.NoError(t, env.GetWorkflowError())
	var res workflows.SLAResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, workflows.SLAResult{Status: store.SLAStopped, Outcome: "worked"}, res)
	require.Less(t, env.Now().Sub(start), 10*time.Minute, "the run ends when told, not at the deadline")
	require.Empty(t, slaKinds(t, s, o, in.LeadID))
}

// With business hours, the clock stops outside them: a step that runs out
// on a Friday evening in New York gives the next assignee 30 minutes of
// Monday morning, across the weekend and the spring-forward night.
func TestSLARunCountsBusinessHoursAcrossDST(t *testing.T) {
	t.Parallel()
	env, s, pool := slaEnv(t)
	o, in, st := slaLead(t, s, domain.SLA{Within: "30m", MaxEscalations: 1, BusinessHours: true}, 2)
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE orgs SET timezone = 'America/New_York',
		business_hours = '{"hours":[{"days":["mon","tue","wed","thu","fri"],"from":"09:00","to":"17:00"}],"holidays":[]}' WHERE id = $1`, o.id)
	require.NoError(t, err)
	friday := time.Date(2026, 3, 6, 16, 40, 0, 0, ny)
	_, err = pool.Exec(ctx, `UPDATE lead_slas SET deadline = $2 WHERE id = $1`, st.ID, friday.Add(10*time.Minute))
	require.NoError(t, err)
	env.SetStartTime(friday)
	env.ExecuteWorkflow(workflows.SLAWorkflow, in)
	require.NoError(t, env.GetWorkflowError())
	var res workflows.SLAResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, workflows.SLAResult{Status: store.SLADone, Outcome: "owner", Escalations: 1}, res)
	// 16:50 Friday + 10 minutes that day + 20 on Monday from 09:00 EDT.
	monday := time.Date(2026, 3, 9, 9, 20, 0, 0, ny)
	var escalatedAt time.Time
	require.NoError(t, pool.QueryRow(ctx, `SELECT deadline FROM lead_slas WHERE id = $1`, st.ID).Scan(&escalatedAt))
	require.True(t, escalatedAt.Equal(monday), "second step's deadline %s, want %s", escalatedAt.In(ny), monday)
	require.False(t, env.Now().Before(monday), "the run waited until Monday: %s", env.Now().In(ny))
}
