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
	if !c.admin && c.User.Role == domain.RoleProfessional {
		if err := s.ownLeadsOnly(r.Context(), org, c.User.ID, in.LeadIDs); err != nil {
			writeErr(w, err)
			return
		}
	}
	requestedBy := "admin"
	if !c.admin {
		requestedBy = c.User.ID
	}
	id := domain.NewID()
	t, created, err := s.Store.CreateTransfer(r.Context(), store.NewTransfer{ID: id, OrgID: org, ToOrgID: in.ToOrg, Mode: mode,
		RequestedBy: requestedBy, IdempotencyKey: key, RequestHash: requestHash(in), WorkflowID: workflows.TransferWorkflowID(id),
		LeadIDs: in.LeadIDs, MaxRunning: s.Cfg.TransfersPerOrg})
	if err != nil {
		if errors.Is(err, store.ErrTooManyTransfers) {
			// A transfer takes seconds to minutes; asking again sooner only
			// spends the caller's request rate.
			w.Header().Set("Retry-After", "30")
		}
		writeErr(w, err)
		return
	}
	// Started on a repeat too: a transfer whose first start failed (the
	// reconciler would also find it) runs now.
	err = s.starter(false).Transfer(r.Context(),
		workflows.TransferInput{TransferID: t.ID, Mode: t.Mode, Total: t.Total}, org, t.ToOrgID)
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

// ownLeadsOnly refuses a professional's handover of any lead that is not
// assigned to them in the sending org (README, roles): a colleague's lead
// or an unassigned one is for a manager to move.
func (s *Server) ownLeadsOnly(ctx context.Context, org, userID string, ids []string) error {
	others, err := s.Store.NotAssignedTo(ctx, org, userID, ids)
	if err != nil || len(others) == 0 {
		return err
	}
	e := &domain.Error{Code: domain.EForbidden, Message: "a professional hands over only the leads assigned to them", Fields: map[string]string{}}
	for i, id := range ids {
		if others[id] {
			e.Fields["lead_ids["+strconv.Itoa(i)+"]"] = "not assigned to you"
		}
	}
	return e
}

// checkTransferIn validates the body; every problem names its field.
func checkTransferIn(in *transferIn, org string) (domain.TransferMode, error) {
	f := domain.FieldErrors{}
	toOrg, ok := domain.NormalID(in.ToOrg)
	switch {
	case !ok:
		f.Add("to_org", "an org id")
	case toOrg == org:
		f.Add("to_org", "another org than the sending one")
	}
	in.ToOrg = toOrg
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
		id, ok := domain.NormalID(id)
		if !ok {
			f.Add(field, "a lead id")
			continue
		}
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
	limit, cursor, err := pageQuery(r.URL.RawQuery, maxPage, 20)
	if err != nil {
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
	// Who asks comes before what they sent: without a token the answer is
	// 401, whatever the body.
	c, err := s.authenticate(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	var in handoverAcceptIn
	if err := decode(w, r, smallBody, &in); err != nil {
		writeErr(w, err)
		return
	}
	assignTo, ok := domain.NormalID(in.AssignTo)
	if !ok {
		writeErr(w, &domain.Error{Code: domain.EInvalid, Message: "invalid handover answer", Fields: map[string]string{"assign_to": "a user id"}})
		return
	}
	s.answerHandover(w, r, c, store.HandoverAnswer{Kind: "accept", AssignTo: assignTo})
}

// rejectHandover: a manager of the receiving org sends the lead back, saying why.
func (s *Server) rejectHandover(w http.ResponseWriter, r *http.Request) {
	c, err := s.authenticate(r)
	if err != nil {
		writeErr(w, err)
		return
	}
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
	s.answerHandover(w, r, c, store.HandoverAnswer{Kind: "reject", Reason: in.Reason})
}

// answerHandover records the answer and has the handover's run apply it.
// Only a manager (or the owner or an admin) of the org the lead waits in
// may answer; anyone else does not see the lead (404). Everything that can
// refuse the answer is checked before its row is written, and a row the run
// refused is taken back: a failed request leaves nothing behind (SPEC §4).
func (s *Server) answerHandover(w http.ResponseWriter, r *http.Request, c *caller, a store.HandoverAnswer) {
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
	if !c.User.Role.AnswersHandovers() {
		writeErr(w, domain.Errorf(domain.EForbidden, "only a manager of the receiving org answers a handover"))
		return
	}
	if a.Kind == "accept" {
		// An unknown id would fail the row's foreign key (a 500); another
		// org's user would be refused by the run after the row was written.
		u, err := s.Store.GetUser(r.Context(), c.OrgID, a.AssignTo)
		if domain.ErrorCode(err) == domain.ENotFound || (err == nil && !u.Active) {
			writeErr(w, &domain.Error{Code: domain.EInvalid, Message: "invalid assign_to",
				Fields: map[string]string{"assign_to": "not an active user of the receiving org"}})
			return
		}
		if err != nil {
			writeErr(w, err)
			return
		}
	}
	a.ID, a.LeadID, a.TransferID, a.Actor = domain.NewID(), leadID, h.TransferID, c.User.ID
	if err := s.Store.RecordHandoverAnswer(r.Context(), a); err != nil {
		writeErr(w, err)
		return
	}
	var res workflows.HandoverResult
	err = s.updateHandover(r.Context(), workflows.HandoverWorkflowID(leadID, h.TransferID), a.ID, &res)
	if err != nil {
		if refused(err) {
			// The run never applied this answer: nothing of it may stay.
			if derr := s.Store.ForgetHandoverAnswer(context.WithoutCancel(r.Context()), a.ID); derr != nil {
				s.Log.Warn("could not take back a refused handover answer", zap.String("answer_id", a.ID), zap.Error(derr))
			}
		}
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"lead_id": leadID, "transfer_id": h.TransferID, "status": res.Status})
}

// refused: the request's outcome is known and it changed nothing (a
// conflict, a refusal in the caller's words), as against an error that
// leaves the outcome open (a timeout, an unavailable server).
func refused(err error) bool {
	switch domain.ErrorCode(err) {
	case domain.EConflict, domain.EInvalid, domain.ENotFound, domain.EForbidden:
		return true
	}
	return false
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

// pipeline lists the handovers waiting for a decision at org, oldest
// first: what its managers may answer, so only those who may answer it
// (and the operator's admin token) read it.
func (s *Server) pipeline(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	c, err := s.member(r, org, false)
	if err != nil {
		writeErr(w, err)
		return
	}
	if !c.admin && !c.User.Role.AnswersHandovers() {
		writeErr(w, domain.Errorf(domain.EForbidden, "only the org's managers, owner and admins see its manager pipeline"))
		return
	}
	limit, cursor, err := pageQuery(r.URL.RawQuery, maxPage, 512)
	if err != nil {
		writeErr(w, err)
		return
	}
	items, next, err := s.Store.Pipeline(r.Context(), org, cursor, limit)
	if err != nil {
		writeErr(w, err)
		return
	}
	if items == nil {
		items = []store.PipelineItem{}
	}
	writeJSON(w, 200, map[string]any{"handovers": items, "next_cursor": next})
}

// maxPage bounds the limit of a paged list.
const maxPage = 500

// pageQuery reads the limit and cursor of a paged list (1 to maxLimit,
// default 50; a cursor of at most maxCursor base64url characters), each
// problem a 422 naming the parameter.
func pageQuery(rawQuery string, maxLimit, maxCursor int) (limit int, cursor string, err error) {
	q, err := queryValues(rawQuery)
	if err != nil {
		return 0, "", err
	}
	limit = 50
	fe := domain.FieldErrors{}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			fe.Add("limit", fmt.Sprintf("a number from 1 to %d", maxLimit))
		}
		limit = n
	}
	cursor = q.Get("cursor")
	if len(cursor) > maxCursor || strings.IndexFunc(cursor, notCursorChar) >= 0 {
		fe.Add("cursor", "not a cursor from a previous page")
	}
	return limit, cursor, fe.Err("invalid query")
}
