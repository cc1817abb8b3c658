package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/leadrelay/leadrelay/internal/failure"
	"github.com/leadrelay/leadrelay/internal/store"
)

// SLAStep names one step of a lead's SLA: the SLA and how many escalations
// it had when the step began, and the run's time at its deadline.
type SLAStep struct {
	ID   int64     `json:"id"`
	Step int       `json:"step"`
	At   time.Time `json:"at"`
}

// SLAState is an SLA as its run sees it: running at Step until Deadline,
// or ended (stopped by whatever settled the lead, or done at its
// fallback). UserID has the lead now ("" : nobody, in pending).
type SLAState struct {
	Status   string    `json:"status"`
	Outcome  string    `json:"outcome,omitempty"`
	Step     int       `json:"step"`
	Deadline time.Time `json:"deadline"`
	UserID   string    `json:"user_id,omitempty"`
}

// Running reports whether the SLA still waits on a deadline.
func (s SLAState) Running() bool { return s.Status == store.SLARunning }

func slaState(s store.SLAState) SLAState {
	return SLAState{Status: s.Status, Outcome: s.Outcome, Step: s.Step, Deadline: s.Deadline, UserID: s.UserID}
}

// ReadSLA reads the SLA as it stands: where its run begins, or resumes.
func (a *Activities) ReadSLA(ctx context.Context, id int64) (SLAState, error) {
	s, err := a.Store.SLA(ctx, id)
	if err != nil {
		return SLAState{}, failure.FromDomain(err)
	}
	return slaState(s), nil
}

// EscalateSLA runs at a step's deadline: the breach and the next assignee,
// or the fallback, in one transaction (store.EscalateSLA), which a retry or
// a run started twice finds taken and does not take again.
func (a *Activities) EscalateSLA(ctx context.Context, in SLAStep) (SLAState, error) {
	s, err := a.Store.EscalateSLA(ctx, in.ID, in.Step, in.At)
	if err != nil {
		return SLAState{}, failure.FromDomain(err)
	}
	switch {
	case s.Step > in.Step && s.Status == store.SLARunning:
		a.Metrics.SLAStep("escalated")
	case s.Status == store.SLADone && s.Step == in.Step:
		a.Metrics.SLAStep("fallback")
	}
	if s.Step != in.Step || s.Status != store.SLARunning {
		activity.GetLogger(ctx).Info("SLA step over", "LeadID", s.LeadID, "SLAID", in.ID, "Step", s.Step,
			"Status", s.Status, "Outcome", s.Outcome)
	}
	return slaState(s), nil
}
