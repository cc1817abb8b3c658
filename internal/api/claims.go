package api

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// claimOut is the claim a claimed lead comes with: which claim, when it
// goes back to the queue unless worked, and the run that will see to it.
type claimOut struct {
	Seq        int       `json:"seq"`
	ExpiresAt  time.Time `json:"expires_at"`
	WorkflowID string    `json:"workflow_id"`
}

// claimedLeadOut is the answer to a claim: the lead, as GET /v1/leads/{id}
// shows it, and its claim.
type claimedLeadOut struct {
	store.Lead
	Claim claimOut `json:"claim"`
}

// invalidIn is the body of POST /v1/leads/{id}/invalid.
type invalidIn struct {
	Reason string `json:"reason"`
}

// noBody accepts what a route without parameters may be sent: nothing (or
// white space), or an empty JSON object. Anything else is refused as
// decode refuses it: an unknown field is a 422 naming it.
func noBody(w http.ResponseWriter, r *http.Request) error {
	br := bufio.NewReader(http.MaxBytesReader(w, r.Body, smallBody))
	for {
		b, err := br.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err == nil && (b == ' ' || b == '\t' || b == '\n' || b == '\r') {
			continue
		}
		if err == nil {
			_ = br.UnreadByte() // cannot fail right after a ReadByte
		}
		r.Body = io.NopCloser(br)
		return decode(w, r, smallBody, &struct{}{})
	}
}

// claimNext gives the caller, an active user of the org, its next claimable
// lead (SPEC §5.5): 200 with the lead and its claim, 204 when the queue has
// nothing claimable. The claim's run is started beside the answer, once the
// claim has committed: the run only reads the claim from PostgreSQL when
// its window ends, so nothing the rep does next needs it yet, and a claim
// answered at SQL speed does not queue behind Temporal's starts when many
// reps claim at once (docs/benchmark.md, "At scale"). If Temporal refuses
// the start, or the process stops first, the claim stands and the
// reconciler starts the run.
func (s *Server) claimNext(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	c, err := s.member(r, org, false)
	if err == nil && c.admin {
		err = domain.Errorf(domain.EForbidden, "leads are claimed by the org's users, not by the admin token")
	}
	if err == nil {
		err = noBody(w, r)
	}
	var cl store.Claim
	found := false
	if err == nil {
		cl, found, err = s.Store.ClaimNext(r.Context(), org, c.User.ID)
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	if !found {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	out := claimedLeadOut{Claim: claimOut{Seq: cl.Seq, ExpiresAt: cl.ExpiresAt, WorkflowID: workflows.ClaimWorkflowID(cl.LeadID, cl.Seq)}}
	logField(w, zap.String("lead_id", cl.LeadID))
	logField(w, zap.String("workflow_id", out.Claim.WorkflowID))
	bg := context.WithoutCancel(r.Context())
	s.starts.Go(func() { s.startClaim(bg, cl) })
	out.Lead, err = s.Store.GetLead(r.Context(), org, cl.LeadID)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// startClaim starts the claim's run. A caller who got the lead keeps it
// whatever Temporal says: the reconciler starts a missing run within
// minutes.
func (s *Server) startClaim(ctx context.Context, cl store.Claim) {
	if err := s.starter(true).Claim(ctx, cl); err != nil {
		s.Log.Error("could not start a claim's run: the reconciler will", zap.String("lead_id", cl.LeadID),
			zap.Int("seq", cl.Seq), zap.Error(err))
	}
}

// releaseLead: the assignee puts the lead back in the queue, claimable now.
func (s *Server) releaseLead(w http.ResponseWriter, r *http.Request) {
	s.assigneeAction(w, r, "release", func(ctx context.Context, scope, userID, id string) error {
		return s.Store.ReleaseLead(ctx, scope, userID, id)
	})
}

// markWorked: the assignee records a first action on a lead they claimed,
// which keeps it theirs past the claim window.
func (s *Server) markWorked(w http.ResponseWriter, r *http.Request) {
	s.assigneeAction(w, r, "mark as worked", func(ctx context.Context, scope, userID, id string) error {
		_, err := s.Store.MarkWorked(ctx, scope, userID, id)
		return err
	})
}

// assigneeAction runs act for a route only the lead's assignee may call
// (the admin token is nobody's assignee), and answers with the lead.
func (s *Server) assigneeAction(w http.ResponseWriter, r *http.Request, verb string,
	act func(ctx context.Context, scope, userID, id string) error) {
	by, scope, err := s.leadCaller(r)
	if err == nil && by.Operator() {
		err = domain.Errorf(domain.EForbidden, "only the lead's assignee may %s it", verb)
	}
	if err == nil {
		err = noBody(w, r)
	}
	id := r.PathValue("id")
	if err == nil {
		err = act(r.Context(), scope, by.UserID, id)
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	s.answerLead(w, r, scope, id)
}

// markInvalid: the assignee, or a manager, an admin or the owner of the
// org (or the admin token), marks the lead invalid, saying why.
func (s *Server) markInvalid(w http.ResponseWriter, r *http.Request) {
	by, scope, err := s.leadCaller(r)
	var in invalidIn
	if err == nil {
		err = decode(w, r, smallBody, &in)
	}
	reason, ok := domain.CleanInvalidReason(in.Reason)
	if err == nil && !ok {
		err = &domain.Error{Code: domain.EInvalid, Message: "invalid reason", Fields: map[string]string{"reason": domain.InvalidReasonRule}}
	}
	id := r.PathValue("id")
	if err == nil {
		err = s.Store.MarkInvalid(r.Context(), scope, by, id, reason)
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	s.answerLead(w, r, scope, id)
}
