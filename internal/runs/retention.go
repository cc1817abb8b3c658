package runs

import (
	"context"
	"errors"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/leadrelay/leadrelay/workflows"
)

// RetentionHour is the hour (UTC) the retention purge runs each day: a
// quiet hour for most US and European orgs, whose leads it touches.
const RetentionHour = 3

// EnsureRetentionSchedule creates the daily Temporal Schedule of the
// retention purge (workflows.RetentionPurgeWorkflow) on s's queue, or
// leaves the one there alone, so an operator's pause or changed time
// survives every worker's start. A day whose run is still going skips its
// slot: the running one pages on, and the next day's finishes what it
// left. A slot missed while Temporal was down runs when it returns, up to
// a day late, as the distributions' do.
func (s Starter) EnsureRetentionSchedule(ctx context.Context) error {
	spec := client.ScheduleSpec{Calendars: []client.ScheduleCalendarSpec{{
		Second: []client.ScheduleRange{{Start: 0}}, Minute: []client.ScheduleRange{{Start: 0}},
		Hour: []client.ScheduleRange{{Start: RetentionHour}}, Comment: "daily"}}, TimeZoneName: "UTC"}
	_, err := s.Temporal.ScheduleClient().Create(ctx, client.ScheduleOptions{ID: workflows.RetentionScheduleID, Spec: spec,
		Action: &client.ScheduleWorkflowAction{
			ID:            workflows.RetentionScheduleID,
			Workflow:      workflows.RetentionPurgeWorkflow,
			Args:          []any{workflows.RetentionInput{}},
			TaskQueue:     s.Queue,
			StaticSummary: "Remove closed leads' timeline and feed events past their org's retention_days",
		},
		Overlap: overlap, CatchupWindow: catchupWindow})
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return nil
	}
	return err
}
