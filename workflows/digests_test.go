package workflows_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
	"github.com/leadrelay/leadrelay/internal/mailcatcher"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// digestAt runs a digest planned as the sweep plans it (the schedule, the
// org's zone, its day's first arrival) with mocked activities and time
// skipping from that arrival, and returns the instant the digest was built.
func digestAt(t *testing.T, sched domain.DigestSchedule, zone string, first time.Time) (time.Time, *time.Location) {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	require.NoError(t, err)
	y, m, d := first.In(loc).Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	plan := sched.Plan(loc, day, first, time.Time{})
	env, a := mockEnv()
	env.RegisterWorkflow(workflows.DigestWorkflow)
	env.SetStartTime(first.Add(30 * time.Second)) // the sweep found it a little later
	var built time.Time
	env.OnActivity(a.SendDigest, mock.Anything, mock.Anything).Return(func(_ context.Context, r activities.DigestRef) (activities.DigestSent, error) {
		built = env.Now()
		require.Equal(t, day.Format(time.DateOnly), r.Day)
		return activities.DigestSent{Leads: 3, Recipients: 2}, nil
	}).Once()
	env.ExecuteWorkflow(workflows.DigestWorkflow, workflows.DigestInput{OrgID: "org", Day: day.Format(time.DateOnly), FireAt: plan.FireAt})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res workflows.DigestResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, workflows.DigestResult{Leads: 3, Recipients: 2}, res)
	env.AssertExpectations(t)
	return built, loc
}

// TestDigestGoesOutAtEightLocalAcrossDaylightSaving: a day's digest is built
// at 08:00 org-local the next morning — the morning after Chicago springs
// forward (13:00Z) and after it falls back (14:00Z), and in Kolkata, which
// has no such nights — the durable timer skipped through in test time.
func TestDigestGoesOutAtEightLocalAcrossDaylightSaving(t *testing.T) {
	t.Parallel()
	at8 := domain.DigestSchedule{At: 8 * 60}
	for _, c := range []struct {
		zone, first, want string
	}{
		{"America/Chicago", "2026-03-07T18:00:00Z", "2026-03-08T13:00:00Z"}, // noon CST on the 7th; 08:00 CDT
		{"America/Chicago", "2026-10-31T17:00:00Z", "2026-11-01T14:00:00Z"}, // noon CDT on the 31st; 08:00 CST
		{"America/Chicago", "2026-03-08T05:59:00Z", "2026-03-08T13:00:00Z"}, // 23:59 CST on the 7th: still the 7th's
		{"Asia/Kolkata", "2026-03-07T18:00:00Z", "2026-03-08T02:30:00Z"},    // 23:30 IST on the 7th
	} {
		t.Run(c.zone+"/"+c.first, func(t *testing.T) {
			built, loc := digestAt(t, at8, c.zone, utc(c.first))
			require.Equal(t, utc(c.want), built.UTC())
			require.Equal(t, "08:00", built.In(loc).Format("15:04"))
		})
	}
}

// TestDigestAfterDelay: with NEW_LEAD_DIGEST_DELAY the digest is built that
// long after the batch's first lead (and the settling seconds).
func TestDigestAfterDelay(t *testing.T) {
	t.Parallel()
	first := utc("2026-03-08T07:30:00Z") // 01:30 CST, half an hour before the clocks jump
	built, _ := digestAt(t, domain.DigestSchedule{At: 8 * 60, Delay: time.Hour}, "America/Chicago", first)
	require.Equal(t, first.Add(time.Hour+domain.DigestSettle), built.UTC())
}

// TestDigestFailedForGoodIsRecorded: when the email activity gives up, the
// run records the failure (so the sweep does not start it again) and ends.
func TestDigestFailedForGoodIsRecorded(t *testing.T) {
	t.Parallel()
	env, a := mockEnv()
	env.RegisterWorkflow(workflows.DigestWorkflow)
	env.OnActivity(a.SendDigest, mock.Anything, mock.Anything).Return(activities.DigestSent{},
		failure.New(domain.EInternal, "template broken", nil)).Once()
	env.OnActivity(a.FailDigest, mock.Anything, mock.MatchedBy(func(f activities.DigestFailure) bool {
		return f.DigestRef == activities.DigestRef{OrgID: "o", Day: "2026-03-07"} && strings.Contains(f.Reason, "template broken")
	})).Return(nil).Once()
	env.ExecuteWorkflow(workflows.DigestWorkflow, workflows.DigestInput{OrgID: "o", Day: "2026-03-07", FireAt: env.Now().Add(time.Hour)})
	require.NoError(t, env.GetWorkflowError())
	var res workflows.DigestResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.True(t, res.Failed)
	env.AssertExpectations(t)
}

func utc(v string) time.Time {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		panic(err)
	}
	return t
}

// digestDay is an org with three leads routed today, two subscribers who
// get its digest (an admin and a staff user) and two who do not (an
// unsubscribed staff user and a subscribed manager), and today's batch
// recorded as the sweep records it under a one-minute delay.
type digestDay struct {
	mailed []string // the subscribers' addresses
	dom    string
	leads  []string
	in     workflows.DigestInput
	day    time.Time
	org    string
}

func newDigestDay(t *testing.T, s *store.Store) digestDay {
	t.Helper()
	o, src := seedOrg(t, s, 0, domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteOwner}})
	dd := digestDay{dom: fmt.Sprintf("d%d.example", time.Now().UnixNano()), org: o.id}
	for _, u := range []struct {
		role   domain.Role
		notify bool
		name   string
	}{{domain.RoleAdmin, true, "ann"}, {domain.RoleStaff, true, "sam"}, {domain.RoleStaff, false, "quiet"}, {domain.RoleManager, true, "meg"}} {
		_, _, err := s.CreateUser(ctx, o.id, u.name+"@"+dd.dom, u.name, u.role, u.notify)
		require.NoError(t, err)
		if u.notify && u.role != domain.RoleManager {
			dd.mailed = append(dd.mailed, u.name+"@"+dd.dom)
		}
	}
	for i := 0; i < 3; i++ {
		in := postLead(t, s, o, src, fmt.Sprintf("dg-%d", i))
		_, err := s.RouteLead(ctx, store.RouteRequest{LeadID: in.LeadID})
		require.NoError(t, err)
		dd.leads = append(dd.leads, in.LeadID)
	}
	days, err := s.UncoveredDays(ctx, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	var d store.UncoveredDay
	for _, u := range days {
		if u.OrgID == o.id {
			d = u
		}
	}
	require.Equal(t, o.id, d.OrgID, "today is uncovered for the org")
	plan := domain.DigestSchedule{Delay: time.Minute}.Plan(time.UTC, d.Day, d.First, d.PrevUntil)
	dd.day = d.Day
	day := d.Day.Format(time.DateOnly)
	_, err = s.CreateDigest(ctx, store.Digest{OrgID: o.id, Day: d.Day, From: plan.From, Until: plan.Until, FireAt: plan.FireAt,
		WorkflowID: workflows.DigestWorkflowID(o.id, day, 0)})
	require.NoError(t, err)
	dd.in = workflows.DigestInput{OrgID: o.id, Day: day, FireAt: plan.FireAt}
	return dd
}

// received is the sink's digests to the org's users.
func (dd digestDay) received(sink *mailcatcher.Catcher) []mailcatcher.Message {
	var out []mailcatcher.Message
	for _, m := range sink.Messages() {
		if strings.HasSuffix(m.To[0], "@"+dd.dom) {
			out = append(out, m)
		}
	}
	return out
}

func runDigest(t *testing.T, env *testsuite.TestWorkflowEnvironment, in workflows.DigestInput) workflows.DigestResult {
	t.Helper()
	env.RegisterWorkflow(workflows.DigestWorkflow)
	env.ExecuteWorkflow(workflows.DigestWorkflow, in)
	require.NoError(t, env.GetWorkflowError())
	var res workflows.DigestResult
	require.NoError(t, env.GetWorkflowResult(&res))
	return res
}

// TestDigestWithRealActivities: the run waits for its time, then each
// subscriber gets one email listing the three leads with their links.
// Running the same batch again sends nothing.
func TestDigestWithRealActivities(t *testing.T) {
	t.Parallel()
	env, s, sink := realEnv(t)
	dd := newDigestDay(t, s)
	require.Equal(t, workflows.DigestResult{Leads: 3, Recipients: 2}, runDigest(t, env, dd.in))
	var got []string
	for _, m := range dd.received(sink) {
		got = append(got, m.To[0])
		require.Contains(t, m.Subject, "3 new leads for Org")
		for _, id := range dd.leads {
			require.Contains(t, m.Text, "http://api.test/v1/leads/"+id)
		}
		require.Contains(t, m.Text, "Ada Lovelace")
	}
	require.ElementsMatch(t, dd.mailed, got)
	g, err := s.GetDigest(ctx, dd.org, dd.day, 0)
	require.NoError(t, err)
	require.Equal(t, "sent", g.Status)

	// Again, as a crash after the emails but before the run closed would:
	// the outbox knows every key, so the fresh sink gets nothing.
	again, _, sink2 := realEnv(t)
	runDigest(t, again, dd.in)
	require.Empty(t, sink2.Messages(), "a second run of the same batch sends nothing again")
}

// TestDigestRefusedRecipientIsRecorded: a mail server refusing one
// subscriber for good (550) does not hold up the other, and the refusal is
// recorded failed rather than retried.
func TestDigestRefusedRecipientIsRecorded(t *testing.T) {
	t.Parallel()
	env, s, sink := realEnv(t)
	dd := newDigestDay(t, s)
	sink.Refuse(550, dd.mailed[0])
	require.Equal(t, workflows.DigestResult{Leads: 3, Recipients: 2, Refused: 1}, runDigest(t, env, dd.in))
	got := dd.received(sink)
	require.Len(t, got, 1)
	require.Equal(t, dd.mailed[1], got[0].To[0])
	u, err := s.DigestRecipients(ctx, dd.org)
	require.NoError(t, err)
	sent, err := s.DeliverySent(ctx, activities.DigestKey(dd.org, dd.in.Day, 0, u[0].ID))
	require.NoError(t, err)
	require.False(t, sent)
}
