package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/leadrelay/leadrelay/workflows"
)

// TestRetentionPurgeSchedule: the worker created the daily retention-purge
// Schedule at start (03:00 UTC); triggered, its run purges an org's lead
// returned 100 days ago under a 30-day retention_days, whose timeline then
// ends with the purged event and keeps its routing decision, and leaves the
// same lead of an org without the setting alone. The run's history
// replays and holds no token.
func TestRetentionPurgeSchedule(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	h := s.deps.Temporal.ScheduleClient().GetHandle(ctx, workflows.RetentionScheduleID)
	var d *client.ScheduleDescription
	// The worker creates it as it starts, beside the API's readiness.
	waitFor(t, 30*time.Second, "the retention schedule", func() bool {
		var err error
		d, err = h.Describe(ctx)
		return err == nil
	})
	if cal := d.Schedule.Spec.Calendars; len(cal) != 1 || len(cal[0].Hour) != 1 || cal[0].Hour[0].Start != 3 || d.Schedule.Spec.TimeZoneName != "UTC" {
		t.Fatalf("retention schedule's calendar: %+v", d.Schedule.Spec)
	}
	source := map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"}}
	kept, plain := s.newTenant(t, "retention", 1, source), s.newTenant(t, "retention-off", 1, source)
	if r := s.do(t, "PATCH", "/v1/orgs/"+kept.id, kept.ownerToken, map[string]any{"retention_days": 30}); r.status != 200 {
		t.Fatalf("retention_days: %d %s", r.status, r.raw)
	}
	ids := map[string]string{kept.id: s.postRouted(t, kept, "ret", 1)[0], plain.id: s.postRouted(t, plain, "ret", 1)[0]}
	for _, id := range ids {
		// Returned 100 days ago, with a claim that expired then.
		for _, q := range []string{
			`INSERT INTO timeline_events (lead_id, org_id, kind, actor, message) SELECT id, org_id, 'claim_expired', 'leadrelay', 'back to the queue' FROM leads WHERE id = $1`,
			`UPDATE leads SET status = 'returned', updated_at = now() - interval '100 days' WHERE id = $1`,
			`UPDATE timeline_events SET at = at - interval '100 days' WHERE lead_id = $1`,
		} {
			if _, err := s.deps.Pool.Exec(ctx, q, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := h.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		t.Fatal(err)
	}
	runID := triggeredRun(t, s, workflows.RetentionScheduleID)
	var res workflows.RetentionResult
	if err := s.deps.Temporal.GetWorkflow(ctx, runID, "").Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.Timeline < 1 || res.Leads < 1 {
		t.Fatalf("the purge removed nothing: %+v", res)
	}
	_, msgs := s.timeline(t, kept, ids[kept.id])
	if len(msgs) != 3 || !strings.HasSuffix(msgs[2], "removed by retention") || !strings.HasPrefix(msgs[2], "1 event older than ") {
		t.Fatalf("purged lead's timeline: %q", msgs)
	}
	if _, msgs := s.timeline(t, plain, ids[plain.id]); len(msgs) != 3 || msgs[2] != "back to the queue" {
		t.Fatalf("the org without retention lost events: %q", msgs)
	}
	checkHistories(t, s, map[string]string{"retention_history.json": runID}, []string{kept.vendorKey, kept.ownerToken, s.admin})
}
