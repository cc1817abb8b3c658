package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// MaxTransferLeads bounds one transfer request. The body of 50,000 ids is
// about 2 MB; larger selections are split by the caller.
const MaxTransferLeads = 50_000

// transferBody caps the request body: MaxTransferLeads quoted ids and commas.
const transferBody = MaxTransferLeads*40 + 4<<10

type transferIn struct {
	ToOrg   string   `json:"to_org"`
	LeadIDs []string `json:"lead_ids"`
	Mode    string   `json:"mode"`
}

// createTransfer records a transfer and starts its run (SPEC §5.3). A repeat
// with the same Idempotency-Key answers with the first transfer and starts
// nothing new; a refused direction moves nothing.
func (s *Server) createTransfer(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	c, err := s.member(r, org, false)
	if err != nil {
		writeErr(w, err)
		return
	}
	if !c.admin && c.User.Role != domain.RoleOwner && c.User.Role != domain.RoleAdmin && !c.User.Role.Licensed() {
		writeErr(w, domain.Errorf(domain.EForbidden, "only the org's owner, an admin or a manager may transfer leads"))
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 200 || domain.IDProblem(key) != "" {
		writeErr(w, &domain.Error{Code: domain.EInvalid, Message: "invalid Idempotency-Key",
			Fields: map[string]string{"Idempotency-Key": "at most 200 printable characters"}})
		return
	}
	var in transferIn
	if err := decode(w, r, transferBody, &in); err != nil {
		writeErr(w, err)
		return
	}
	mode, err := checkTransferIn(&in, org)
	if err != nil {
		writeErr(w, err)
		return
	}
	from, to, parent, found, err := s.Store.LinkedOrgs(r.Context(), org, in.ToOrg)
	if err != nil {
		writeErr(w, err)
		return
	}
	if !found {
		// An org that does not exist reads as one that is not linked.
		from, to = domain.LinkedOrg{ID: org}, domain.LinkedOrg{ID: in.ToOrg}
	}
	licensed := !c.admin && c.User.Role.Licensed()
	if err := domain.CheckTransfer(domain.Direction(from, to), parent, mode, licensed); err != nil {
		writeErr(w, err)
		return
	}
	if mode != domain.TransferManagerReview && !c.admin && c.User.Role == domain.RoleProfessional {
		writeErr(w, domain.Errorf(domain.EForbidden, "a professional hands leads over (manager_review); other transfers are for the owner, admins and managers"))
		return
	}
	requestedBy := "admin"
	if !c.admin {
		requestedBy = c.User.ID
	}
	id := domain.NewID()
	t, created, err := s.Store.CreateTransfer(r.Context(), store.NewTransfer{ID: id, OrgID: org, ToOrgID: in.ToOrg, Mode: mode,
		RequestedBy: requestedBy, IdempotencyKey: key, RequestHash: requestHash(in), WorkflowID: workflows.TransferWorkflowID(id),
		LeadIDs: in.LeadIDs})
	if err != nil {
		writeErr(w, err)
		return
	}
	// Started on a repeat too: a transfer whose first start failed (the
	// reconciler would also find it) runs now.
	err = workflows.StartTransfer(r.Context(), s.Temporal, s.Cfg.TaskQueue,
		workflows.TransferInput{TransferID: t.ID, Mode: t.Mode, Total: t.Total},
		s.Store.RunNames(r.Context(), store.RunRef{OrgID: org, ToOrgID: t.ToOrgID}))
	if err != nil {
		s.Log.Error("could not start a transfer's run: the reconciler will", zap.String("transfer_id", t.ID), zap.Error(err))
	}
	logField(w, zap.String("workflow_id", t.WorkflowID))
	status := 202
	if !created {
		status = 200
	}
	writeJSON(w, status, map[string]any{"id": t.ID, "workflow_id": t.WorkflowID, "total": t.Total, "duplicate": !created})
}

// checkTransferIn validates the body; every problem names its field.
func checkTransferIn(in *transferIn, org string) (domain.TransferMode, error) {
	f := domain.FieldErrors{}
	switch {
	case !domain.ValidUUID(in.ToOrg):
		f.Add("to_org", "an org id")
	case in.ToOrg == org:
		f.Add("to_org", "another org than the sending one")
	}
	mode := domain.TransferMode(in.Mode)
	if !mode.Valid() {
		f.Add("mode", "one of owner, staff_evenly, manager_review")
	}
	switch {
	case len(in.LeadIDs) == 0:
		f.Add("lead_ids", "at least one lead id")
	case len(in.LeadIDs) > MaxTransferLeads:
		f.Add("lead_ids", fmt.Sprintf("at most %d lead ids per request", MaxTransferLeads))
	}
	seen := make(map[string]int, len(in.LeadIDs))
	for i, id := range in.LeadIDs {
		field := "lead_ids[" + strconv.Itoa(i) + "]"
		if !domain.ValidUUID(id) {
			f.Add(field, "a lead id")
			continue
		}
		id = strings.ToLower(id)
		if j, dup := seen[id]; dup {
			f.Add(field, fmt.Sprintf("the same lead as lead_ids[%d]", j))
		}
		seen[id], in.LeadIDs[i] = i, id
	}
	return mode, f.Err("invalid transfer")
}

// requestHash fingerprints a request, so one Idempotency-Key cannot stand
// for two different transfers.
func requestHash(in transferIn) []byte {
	h := sha256.Sum256([]byte(in.ToOrg + "\n" + in.Mode + "\n" + strings.Join(in.LeadIDs, ",")))
	return h[:]
}

// getTransfer shows a transfer's progress to members of either org.
func (s *Server) getTransfer(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.member(r, org, false); err != nil {
		writeErr(w, err)
		return
	}
	id := r.PathValue("id")
	if !domain.ValidUUID(id) {
		writeErr(w, domain.Errorf(domain.ENotFound, "transfer not found"))
		return
	}
	t, err := s.Store.GetTransfer(r.Context(), org, id)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, t)
}

// feed pages an org's sales feed, newest first.
func (s *Server) feed(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.member(r, org, false); err != nil {
		writeErr(w, err)
		return
	}
	q, err := queryValues(r.URL.RawQuery)
	if err != nil {
		writeErr(w, err)
		return
	}
	limit := 50
	fe := domain.FieldErrors{}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			fe.Add("limit", "a number from 1 to 500")
		}
		limit = n
	}
	cursor := q.Get("cursor")
	if len(cursor) > 20 || strings.IndexFunc(cursor, notCursorChar) >= 0 {
		fe.Add("cursor", "not a cursor from a previous page")
	}
	if err := fe.Err("invalid query"); err != nil {
		writeErr(w, err)
		return
	}
	events, next, err := s.Store.Feed(r.Context(), org, cursor, limit)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"events": events, "next_cursor": next})
}

type handoverAcceptIn struct {
	AssignTo string `json:"assign_to"`
}

type handoverRejectIn struct {
	Reason string `json:"reason"`
}

// acceptHandover: a manager of the receiving org accepts a handed-over lead
// and assigns it.
func (s *Server) acceptHandover(w http.ResponseWriter, r *http.Request) {
	var in handoverAcceptIn
	if err := decode(w, r, smallBody, &in); err != nil {
		writeErr(w, err)
		return
	}
	if !domain.ValidUUID(in.AssignTo) {
		writeErr(w, &domain.Error{Code: domain.EInvalid, Message: "invalid handover answer", Fields: map[string]string{"assign_to": "a user id"}})
		return
	}
	s.answerHandover(w, r, store.HandoverAnswer{Kind: "accept", AssignTo: strings.ToLower(in.AssignTo)})
}

// rejectHandover: a manager of the receiving org sends the lead back, saying why.
func (s *Server) rejectHandover(w http.ResponseWriter, r *http.Request) {
	var in handoverRejectIn
	if err := decode(w, r, smallBody, &in); err != nil {
		writeErr(w, err)
		return
	}
	in.Reason = strings.TrimSpace(in.Reason)
	if in.Reason == "" || len([]rune(in.Reason)) > 1000 || domain.IDProblem(strings.ReplaceAll(in.Reason, "\n", " ")) != "" {
		writeErr(w, &domain.Error{Code: domain.EInvalid, Message: "invalid handover answer",
			Fields: map[string]string{"reason": "required: 1 to 1000 characters of text"}})
		return
	}
	s.answerHandover(w, r, store.HandoverAnswer{Kind: "reject", Reason: in.Reason})
}

// answerHandover records the answer and has the handover's run apply it.
// Only a manager (or the owner or an admin) of the org the lead waits in
// may answer; anyone else does not see the lead (404).
func (s *Server) answerHandover(w http.ResponseWriter, r *http.Request, a store.HandoverAnswer) {
	c, err := s.authenticate(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	if c.admin || c.Kind == domain.TokenVendor {
		writeErr(w, domain.Errorf(domain.EForbidden, "a handover is answered by a manager of the receiving org"))
		return
	}
	leadID := r.PathValue("id")
	if !domain.ValidUUID(leadID) {
		writeErr(w, domain.Errorf(domain.ENotFound, "lead not found"))
		return
	}
	if _, err := s.Store.GetLead(r.Context(), c.OrgID, leadID); err != nil {
		// A lead sent back (expired, withdrawn) is no longer this org's,
		// but this org was asked about it: its late answer is told what
		// became of the handover, not that the lead does not exist.
		if last, lerr := s.Store.LastHandoverTo(r.Context(), leadID, c.OrgID); domain.ErrorCode(err) == domain.ENotFound && lerr == nil {
			err = domain.Errorf(domain.EConflict, "this handover was already %s", last.Status)
		}
		writeErr(w, err)
		return
	}
	h, err := s.Store.PendingHandover(r.Context(), leadID)
	if err != nil || h.ToOrgID != c.OrgID {
		writeErr(w, domain.Errorf(domain.EConflict, "this lead is not waiting for a handover decision"))
		return
	}
	if r := c.User.Role; r != domain.RoleManager && r != domain.RoleOwner && r != domain.RoleAdmin {
		writeErr(w, domain.Errorf(domain.EForbidden, "only a manager of the receiving org answers a handover"))
		return
	}
	a.ID, a.LeadID, a.TransferID, a.Actor = domain.NewID(), leadID, h.TransferID, c.User.ID
	if err := s.Store.RecordHandoverAnswer(r.Context(), a); err != nil {
		writeErr(w, err)
		return
	}
	var res workflows.HandoverResult
	err = s.updateHandover(r.Context(), workflows.HandoverWorkflowID(leadID, h.TransferID), a.ID, &res)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"lead_id": leadID, "transfer_id": h.TransferID, "status": res.Status})
}

// tellWithdrawn signals the run of each handover a committed change
// withdrew, so it ends now with withdrawn. One that is not told (Temporal
// away, this process gone) is told by the reconciler's handover pass, and
// would read the same decision at its deadline anyway.
func (s *Server) tellWithdrawn(ctx context.Context, withdrawn []store.Handover) {
	for _, h := range withdrawn {
		id := workflows.HandoverWorkflowID(h.LeadID, h.TransferID)
		if err := s.Temporal.SignalWorkflow(ctx, id, "", workflows.SignalHandoverDecided, nil); err != nil {
			s.Log.Warn("could not tell a withdrawn handover's run", zap.String("workflow_id", id), zap.Error(err))
		}
	}
}

func (s *Server) updateHandover(ctx context.Context, workflowID, answerID string, out *workflows.HandoverResult) error {
	h, err := s.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: workflowID, UpdateName: workflows.UpdateHandoverAnswer,
		Args: []any{workflows.HandoverAnswer{AnswerID: answerID}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(ctx, out)
	}
	return updateOutcome(err, "this handover is not open to answers: try again in a moment")
}

// updateOutcome is an Update's error as the caller should see it. A run
// that is closed (or not started) is a conflict in the caller's words: the
// server says NotFound before acceptance, or fails an accepted Update with
// its own type after it. A refusal keeps its domain code.
func updateOutcome(err error, closed string) error {
	var nf *serviceerror.NotFound
	var ae *temporal.ApplicationError
	if errors.As(err, &nf) || (errors.As(err, &ae) && ae.Type() == "AcceptedUpdateCompletedWorkflow") {
		return domain.Errorf(domain.EConflict, "%s", closed)
	}
	return failure.ToDomain(err)
}
