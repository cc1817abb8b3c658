package workflows

import (
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
)

// UpdateHandoverAnswer is the handover's one Update: a manager's answer,
// recorded in PostgreSQL first, named by its id (HandoverAnswer).
const UpdateHandoverAnswer = "answer"

// SignalHandoverDecided tells a handover's run that PostgreSQL decided the
// handover without it (withdrawn when the orgs' link or setting went away):
// the run reads the decision and ends with it. No payload; a signal that
// finds the handover still pending changes nothing.
const SignalHandoverDecided = "decided"

// HandoverInput starts the run that waits for one handed-over lead's review.
type HandoverInput struct {
	LeadID     string
	TransferID string
	FromOrgID  string
	ToOrgID    string
	// Deadline is when nobody answering sends the lead back: HandoverTTL
	// after the handover was recorded, kept when the reconciler starts a
	// lost run again. Zero (runs started before it existed): HandoverTTL
	// from the run's start.
	Deadline time.Time `json:",omitzero"`
}

// HandoverAnswer is the answer Update's argument: the id of the answer the
// API recorded (accept with an assignee, or reject with a reason), so the
// manager's words stay out of the history.
type HandoverAnswer struct {
	AnswerID string `json:"answer_id"`
}

// HandoverResult is how a handover ended, as PostgreSQL decided it:
// accepted, rejected, expired or withdrawn.
type HandoverResult struct {
	Status string `json:"status"`
}

// HandoverLeadStatus is the LeadStatus a handover's run ends with: its own
// outcome, handover_accepted, handover_rejected, handover_expired or
// handover_withdrawn (while it waits: "handover").
func HandoverLeadStatus(status string) string { return "handover_" + status }

type handoverRun struct {
	oneAnswer
	in  HandoverInput
	log log.Logger
	// told: SignalHandoverDecided arrived since the run last read the
	// database.
	told bool
}

// HandoverWorkflow waits, durably and visibly in the Web UI, for a manager of
// the receiving org to accept a handed-over lead (and assign it) or reject it
// back to the sender (SPEC §5.3). Nobody answering by the deadline sends it
// back by itself; a withdrawal ends it too. Its result, its LeadStatus and
// the handovers metric say what PostgreSQL decided, never what the run
// guessed: an answer and the expiry may race, and the database picks one.
func HandoverWorkflow(ctx workflow.Context, in HandoverInput) (HandoverResult, error) {
	r := &handoverRun{in: in, oneAnswer: oneAnswer{what: "handover", status: domain.HandoverPending}}
	r.log = log.With(workflow.GetLogger(ctx), "LeadID", in.LeadID, "TransferID", in.TransferID)
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (string, error) { return r.status, nil }); err != nil {
		return HandoverResult{}, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateHandoverAnswer, r.answer,
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, a HandoverAnswer) error { return r.open() }}); err != nil {
		return HandoverResult{}, err
	}
	workflow.SetCurrentDetails(ctx, "**Waiting** for a manager of org "+code(in.ToOrgID)+" to accept or reject")
	// Runs started before the database decided every ending keep their
	// recorded path: the expiry assumed, nothing signalled.
	if workflow.GetVersion(ctx, "handover-decided-by-db", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return r.runAssumingExpiry(ctx)
	}
	return r.run(ctx)
}

func (r *handoverRun) run(ctx workflow.Context) (HandoverResult, error) {
	in := r.in
	decided := workflow.GetSignalChannel(ctx, SignalHandoverDecided)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for decided.Receive(ctx, nil) {
			r.told = true
		}
	})
	deadline := in.Deadline
	if deadline.IsZero() {
		deadline = workflow.Now(ctx).Add(domain.HandoverTTL)
	}
	var a *activities.Activities
	ref := activities.HandoverRun{LeadID: in.LeadID, TransferID: in.TransferID, FromOrgID: in.FromOrgID, ToOrgID: in.ToOrgID}
	for r.status == domain.HandoverPending {
		woken := true
		if wait := deadline.Sub(workflow.Now(ctx)); wait > 0 {
			var err error
			woken, err = workflow.AwaitWithTimeout(ctx, wait, func() bool { return r.status != domain.HandoverPending || r.told })
			if err != nil {
				return HandoverResult{}, err
			}
		} else {
			woken = false
		}
		if err := workflow.Await(ctx, func() bool { return !r.busy }); err != nil {
			return HandoverResult{}, err
		}
		if r.status != domain.HandoverPending {
			break
		}
		// Busy while the database decides: an answer arriving now is
		// refused (409) instead of racing the expiry in PostgreSQL.
		r.busy = true
		var d activities.HandoverDecision
		var err error
		if !woken {
			err = workflow.ExecuteActivity(act(ctx, bookkeepingOptions, "no answer: back with the sender"), a.ExpireHandover, ref).Get(ctx, &d)
		} else {
			r.told = false
			err = workflow.ExecuteActivity(act(ctx, bookkeepingOptions, "decided elsewhere: read the decision"), a.HandoverOutcome, ref).Get(ctx, &d)
		}
		r.busy = false
		if err != nil {
			return HandoverResult{}, err
		}
		r.status = d.Status
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return HandoverResult{}, err
	}
	switch r.status {
	case domain.HandoverExpired, domain.HandoverWithdrawn:
		workflow.SetCurrentDetails(ctx, "**"+r.status+"**: back with org "+code(in.FromOrgID))
	}
	r.log.Info("handover ended", "Status", r.status)
	if err := workflow.UpsertTypedSearchAttributes(ctx, LeadStatusKey.ValueSet(HandoverLeadStatus(r.status))); err != nil {
		return HandoverResult{}, err
	}
	return HandoverResult{Status: r.status}, nil
}

// runAssumingExpiry is the first shape, kept for the runs that started in
// it: after HandoverTTL with no answer it expires the handover and reports
// expired, whatever the database kept.
func (r *handoverRun) runAssumingExpiry(ctx workflow.Context) (HandoverResult, error) {
	in := r.in
	answered, err := workflow.AwaitWithTimeout(ctx, domain.HandoverTTL, func() bool { return r.status != domain.HandoverPending })
	if err != nil {
		return HandoverResult{}, err
	}
	if !answered {
		if err := workflow.Await(ctx, func() bool { return !r.busy }); err != nil {
			return HandoverResult{}, err
		}
		if r.status == domain.HandoverPending {
			var a *activities.Activities
			err := workflow.ExecuteActivity(act(ctx, bookkeepingOptions, "no answer: back with the sender"), a.ExpireHandover,
				activities.HandoverRun{LeadID: in.LeadID, TransferID: in.TransferID, FromOrgID: in.FromOrgID, ToOrgID: in.ToOrgID}).Get(ctx, nil)
			if err != nil {
				return HandoverResult{}, err
			}
			r.status = domain.HandoverExpired
			workflow.SetCurrentDetails(ctx, "**expired**: back with org "+code(in.FromOrgID))
			r.log.Info("handover expired: back with the sender")
		}
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return HandoverResult{}, err
	}
	return HandoverResult{Status: r.status}, nil
}

func (r *handoverRun) answer(ctx workflow.Context, a HandoverAnswer) (HandoverResult, error) {
	if err := r.open(); err != nil {
		return HandoverResult{}, err
	}
	r.busy = true
	defer func() { r.busy = false }()
	var acts *activities.Activities
	var d activities.HandoverDecision
	err := workflow.ExecuteActivity(act(ctx, answerOptions, "apply the manager's answer "+code(a.AnswerID)), acts.ApplyHandoverAnswer, a.AnswerID).Get(ctx, &d)
	if err != nil {
		return HandoverResult{}, err // a refusal keeps its domain code (internal/failure)
	}
	r.status = d.Status
	workflow.SetCurrentDetails(ctx, "**"+d.Status+"** by a manager of org "+code(r.in.ToOrgID)+" (answer "+code(a.AnswerID)+")")
	r.log.Info("handover decided", "Status", d.Status)
	return HandoverResult{Status: d.Status}, nil
}

// HandoverWorkflowID names the run that waits for a handed-over lead's
// review: one per lead and transfer, 82 bytes.
func HandoverWorkflowID(leadID, transferID string) string {
	return "handover/" + leadID + "/" + transferID
}
