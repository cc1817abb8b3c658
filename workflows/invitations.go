package workflows

import (
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
)

// InvitationTTL is how long an invitation waits for an answer (SPEC §5.1).
const InvitationTTL = 7 * 24 * time.Hour

// InvitationWorkflowID is derived from the invitation, so a start is idempotent.
func InvitationWorkflowID(invitationID string) string { return "invitation/" + invitationID }

// Update and query names.
const (
	UpdateAccept  = "accept"  // takes an AcceptRequest, returns an InvitationLink
	UpdateDecline = "decline" // no argument, no result
	UpdateRevoke  = "revoke"  // no argument, no result
	QueryStatus   = "status"  // the invitation's status word (store.Invite*)
)

// versionConfirmationByID marks the invitation shape whose confirmation
// email is read by the activity from the invitation's id, rather than
// carried by the workflow with both owners' names and addresses. It is asked
// where the confirmation goes out, so an invitation opened on the first
// shape and accepted after a deploy takes the new path.
const versionConfirmationByID = "confirmation-by-id"

// InvitationInput starts an invitation's run. The invitee's address is not
// in it: the activity reads it.
type InvitationInput struct {
	InvitationID string
	MasterOrgID  string
	ExpiresAt    time.Time
}

// AcceptRequest is the accept Update's argument.
type AcceptRequest struct {
	OrgID  string `json:"org_id,omitempty"`  // which of the invitee's orgs to link; "" when they own one
	UserID string `json:"user_id,omitempty"` // the owner whose token came along
}

// InvitationLink is the accept Update's result: the link made, in ids.
type InvitationLink struct {
	MasterOrgID string `json:"master_org_id"`
	SubOrgID    string `json:"sub_org_id"`
}

// InvitationResult is how an invitation ended.
type InvitationResult struct {
	Status string          `json:"status"`
	Link   *InvitationLink `json:"link,omitempty"`
}

type invitationRun struct {
	oneAnswer
	in   InvitationInput
	link *InvitationLink
	log  log.Logger
}

// InvitationWorkflow sends the invitation, then waits up to its expiry for one
// answer — accept, decline or revoke, each a Temporal Update whose validator
// refuses a request that cannot apply before it reaches the history — and
// after an accept sends the master's owner the confirmation.
func InvitationWorkflow(ctx workflow.Context, in InvitationInput) (InvitationResult, error) {
	r := &invitationRun{in: in, oneAnswer: oneAnswer{what: "invitation", status: domain.InvitePending}}
	if err := r.setup(ctx); err != nil {
		return InvitationResult{}, err
	}
	return r.run(ctx)
}

func (r *invitationRun) setup(ctx workflow.Context) error {
	r.log = log.With(workflow.GetLogger(ctx), "InvitationID", r.in.InvitationID, "OrgID", r.in.MasterOrgID)
	workflow.SetCurrentDetails(ctx, invitationNow(r.status, nil))
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (string, error) { return r.status, nil }); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateAccept, r.accept,
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req AcceptRequest) error { return r.open(ctx) }}); err != nil {
		return err
	}
	for _, u := range [][2]string{{UpdateDecline, domain.InviteDeclined}, {UpdateRevoke, domain.InviteRevoked}} {
		status := u[1]
		if err := workflow.SetUpdateHandlerWithOptions(ctx, u[0],
			func(ctx workflow.Context) error { return r.answer(ctx, status) },
			workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context) error { return r.open(ctx) }}); err != nil {
			return err
		}
	}
	return nil
}

// open is every Update's validator: the invitation still takes an answer.
func (r *invitationRun) open(ctx workflow.Context) error {
	if err := r.oneAnswer.open(); err != nil {
		return err
	}
	if !workflow.Now(ctx).Before(r.in.ExpiresAt) {
		return failure.New(domain.EConflict, "this invitation has expired", nil)
	}
	return nil
}

var answerOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2,
		MaximumInterval: 10 * time.Second, MaximumAttempts: 10},
}

func (r *invitationRun) accept(ctx workflow.Context, req AcceptRequest) (InvitationLink, error) {
	// Updates validated in the same workflow task all pass the validator;
	// checking again here, before the first yield, lets only one through.
	if err := r.open(ctx); err != nil {
		return InvitationLink{}, err
	}
	r.busy = true
	defer func() { r.busy = false }()
	var a *activities.Activities
	var l activities.Link
	err := workflow.ExecuteActivity(act(ctx, answerOptions, "accept: link the orgs in one transaction"), a.AcceptInvitation,
		activities.AcceptInput{InvitationID: r.in.InvitationID, OrgID: req.OrgID, UserID: req.UserID}).Get(ctx, &l)
	if err != nil {
		return InvitationLink{}, err // a refusal keeps its domain code (internal/failure)
	}
	res := InvitationLink{MasterOrgID: l.MasterOrgID, SubOrgID: l.SubOrgID}
	r.status, r.link = domain.InviteAccepted, &res
	workflow.SetCurrentDetails(ctx, invitationNow(r.status, r.link))
	r.log.Info("invitation accepted", "SubOrgID", res.SubOrgID)
	return res, nil
}

// answer is the decline and revoke Updates.
func (r *invitationRun) answer(ctx workflow.Context, status string) error {
	if err := r.open(ctx); err != nil {
		return err
	}
	return r.close(ctx, status)
}

func (r *invitationRun) close(ctx workflow.Context, status string) error {
	return r.closeWith(ctx, status, answerOptions)
}

func (r *invitationRun) closeWith(ctx workflow.Context, status string, opts workflow.ActivityOptions) error {
	r.busy = true
	defer func() { r.busy = false }()
	var a *activities.Activities
	err := workflow.ExecuteActivity(act(ctx, opts, "close the invitation: "+status), a.CloseInvitation,
		activities.CloseInvitation{InvitationID: r.in.InvitationID, Status: status}).Get(ctx, nil)
	if err != nil {
		return err
	}
	r.status = status
	workflow.SetCurrentDetails(ctx, invitationNow(r.status, nil))
	r.log.Info("invitation closed", "Status", status)
	return nil
}

func (r *invitationRun) run(ctx workflow.Context) (InvitationResult, error) {
	var a *activities.Activities
	actx := workflow.WithActivityOptions(ctx, EmailActivityOptions)
	// The email goes out while answers may already arrive: a revoke before it
	// is sent makes the activity send nothing.
	sent := workflow.ExecuteActivity(named(actx, "invitation email with a fresh link"), a.SendInvitationEmail, r.in.InvitationID)

	answered, err := workflow.AwaitWithTimeout(ctx, r.in.ExpiresAt.Sub(workflow.Now(ctx)), func() bool {
		return r.status != domain.InvitePending
	})
	if err != nil {
		return InvitationResult{}, err
	}
	if !answered {
		// An answer that is mid-flight at the deadline finishes first.
		if err := workflow.Await(ctx, func() bool { return !r.busy }); err != nil {
			return InvitationResult{}, err
		}
		if r.status == domain.InvitePending {
			// Retried until PostgreSQL answers: an expiry that never lands
			// would leave the invitation pending for ever.
			if err := r.closeWith(ctx, domain.InviteExpired, bookkeepingOptions); err != nil {
				return InvitationResult{}, err
			}
		}
	}
	if err := sent.Get(ctx, nil); err != nil {
		r.log.Error("invitation email failed for good", "Error", err)
	}
	if r.status == domain.InviteAccepted && r.link != nil {
		var confirmed workflow.Future
		if workflow.GetVersion(ctx, versionConfirmationByID, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
			// The first shape: a replay only. Its history holds the request
			// as it was sent; what is built here is never sent again.
			confirmed = workflow.ExecuteActivity(actx, a.SendEmail, activities.Email{Template: "confirmation",
				Key: activities.ConfirmationEmailKey(r.in.InvitationID), Kind: "confirmation", OrgID: r.link.MasterOrgID})
		} else {
			confirmed = workflow.ExecuteActivity(named(actx, "confirmation email to the master's owner"), a.SendConfirmationEmail, r.in.InvitationID)
		}
		if err := confirmed.Get(ctx, nil); err != nil {
			return InvitationResult{Status: r.status, Link: r.link}, err
		}
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return InvitationResult{}, err
	}
	return InvitationResult{Status: r.status, Link: r.link}, nil
}
