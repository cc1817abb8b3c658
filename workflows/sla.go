package workflows

import (
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
)

// SLAWorkflowID names a lead's SLA run: the SLA's id is its business key
// (one per routing decision that gave the lead to a person), under its lead
// so a lead's runs list together. At most 4+36+1+19 = 60 bytes.
func SLAWorkflowID(leadID string, slaID int64) string {
	return "sla/" + leadID + "/" + strconv.FormatInt(slaID, 10)
}

// SLAInput starts a lead's SLA run. Ids only: the SLA's steps, whom it
// tried and its deadlines stay in PostgreSQL.
type SLAInput struct {
	SLAID  int64  `json:"sla_id"`
	LeadID string `json:"lead_id"`
	OrgID  string `json:"org_id"`
}

// SLAResult is how the SLA ended: stopped (Outcome: worked, returned,
// invalid, moved, reassigned, removed) or done (Outcome: the fallback it
// ended with), after Escalations steps.
type SLAResult struct {
	Status      string `json:"status"`
	Outcome     string `json:"outcome"`
	Escalations int    `json:"escalations"`
}

// SLAStopSignal tells an SLA's run that the SLA ended (the lead was worked,
// returned, moved or given to someone): it ends now, not at its deadline.
// The worker's SLA pump sends it once the change has committed.
const SLAStopSignal = "stop"

// slaEarlyWait is how long a run waits again when its escalation found the
// deadline not yet passed.
const slaEarlyWait = time.Second

// SLAWorkflow is a lead's SLA (SPEC §5.7): a durable timer to each step's
// deadline, then one activity that records the breach and gives the lead to
// the next member of its rotation not yet tried, or to the fallback after
// the last escalation. A stop signal ends the wait at once. The history is
// bounded by the SLA's escalations (at most domain.MaxSLAEscalations).
func SLAWorkflow(ctx workflow.Context, in SLAInput) (SLAResult, error) {
	logger := log.With(workflow.GetLogger(ctx), "LeadID", in.LeadID, "SLAID", in.SLAID)
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, bookkeepingOptions)
	stop := workflow.GetSignalChannel(ctx, SLAStopSignal)
	var st activities.SLAState
	if err := workflow.ExecuteActivity(named(ctx, "read the SLA"), a.ReadSLA, in.SLAID).Get(ctx, &st); err != nil {
		return SLAResult{}, err
	}
	for st.Running() {
		workflow.SetCurrentDetails(ctx, slaWaiting(st))
		if wait := st.Deadline.Sub(workflow.Now(ctx)); wait > 0 {
			stopped, err := slaWait(ctx, stop, wait)
			if err != nil {
				return SLAResult{}, err
			}
			if stopped {
				if err := workflow.ExecuteActivity(named(ctx, "told the SLA ended: read it"), a.ReadSLA, in.SLAID).Get(ctx, &st); err != nil {
					return SLAResult{}, err
				}
				continue
			}
		}
		before := st
		err := workflow.ExecuteActivity(named(ctx, fmt.Sprintf("deadline of step %d: escalate unless worked", st.Step)), a.EscalateSLA,
			activities.SLAStep{ID: in.SLAID, Step: st.Step, At: workflow.Now(ctx)}).Get(ctx, &st)
		if err != nil {
			return SLAResult{}, err
		}
		if st.Running() && st.Step == before.Step {
			// Not yet due (the deadline moved): wait a little more.
			if _, err := slaWait(ctx, stop, slaEarlyWait); err != nil {
				return SLAResult{}, err
			}
		}
	}
	workflow.SetCurrentDetails(ctx, slaEnded(st))
	logger.Info("SLA ended", "Status", st.Status, "Outcome", st.Outcome, "Escalations", st.Step)
	return SLAResult{Status: st.Status, Outcome: st.Outcome, Escalations: st.Step}, nil
}

// slaWait sleeps for d unless the stop signal comes first (true).
func slaWait(ctx workflow.Context, stop workflow.ReceiveChannel, d time.Duration) (bool, error) {
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	timer := workflow.NewTimer(tctx, d)
	stopped := false
	var err error
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(timer, func(f workflow.Future) { err = f.Get(ctx, nil) })
	sel.AddReceive(stop, func(c workflow.ReceiveChannel, _ bool) {
		c.Receive(ctx, nil)
		stopped = true
	})
	sel.Select(ctx)
	if stopped {
		return true, nil
	}
	return false, err
}

func slaWaiting(st activities.SLAState) string {
	return fmt.Sprintf("**Waiting** for user %s to work the lead by %s (escalations so far: %d)", code(st.UserID),
		st.Deadline.UTC().Format(time.RFC3339), st.Step)
}

func slaEnded(st activities.SLAState) string {
	switch {
	case st.Status == "stopped":
		return fmt.Sprintf("**Stopped**: %s, after %d escalations", st.Outcome, st.Step)
	case st.UserID == "":
		return fmt.Sprintf("**Done**: fallback %s after %d escalations: the lead is pending", st.Outcome, st.Step)
	}
	return fmt.Sprintf("**Done**: fallback %s after %d escalations: with user %s", st.Outcome, st.Step, code(st.UserID))
}
