package workflows

import (
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
)

// UpdateHandoverAnswer is the handover's one Update: a manager's answer,
// recorded in PostgreSQL first, named by its id (HandoverAnswer).
const UpdateHandoverAnswer = "answer"

// HandoverInput starts the run that waits for one handed-over lead's review.
type HandoverInput struct {
	LeadID     string
	TransferID string
	FromOrgID  string
	ToOrgID    string
}

// HandoverAnswer is the answer Update's argument: the id of the answer the
// API recorded (accept with an assignee, or reject with a reason), so the
// manager's words stay out of the history.
type HandoverAnswer struct {
	AnswerID string `json:"answer_id"`
}

// HandoverResult is how a handover ended: accepted, rejected or expired.
type HandoverResult struct {
	Status string `json:"status"`
}

type handoverRun struct {
	oneAnswer
	in  HandoverInput
	log log.Logger
}

// HandoverWorkflow waits, durably and visibly in the Web UI, for a manager of
// the receiving org to accept a handed-over lead (and assign it) or reject it
// back to the sender (SPEC §5.3). Nobody answering within HandoverTTL sends
// it back by itself.
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
