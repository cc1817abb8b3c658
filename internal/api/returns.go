package api

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/workflows"
)

// returnBody bounds POST /v1/leads/{id}/return: 5,000 characters of
// comments, each up to four bytes and some escaped, and a reason.
const returnBody = 64 << 10

// returnLead returns a lead to its vendor (SPEC §5.5) and answers with the
// lead. The return commits first; then the run that emails the source's
// return addresses starts. If Temporal cannot take it, the answer is still
// 200, since the lead is returned and a repeat would be a conflict: the
// reconciler starts the run within minutes.
func (s *Server) returnLead(w http.ResponseWriter, r *http.Request) {
	by, scope, err := s.leadCaller(r)
	var in domain.ReturnInput
	if err == nil {
		err = decode(w, r, returnBody, &in)
	}
	if err == nil {
		err = in.Validate()
	}
	id := r.PathValue("id")
	if err != nil {
		writeErr(w, err)
		return
	}
	ret, err := s.Store.ReturnLead(r.Context(), scope, by, id, in, workflows.ReturnWorkflowID(id))
	if err != nil {
		writeErr(w, err)
		return
	}
	logField(w, zap.String("lead_id", id))
	logField(w, zap.String("workflow_id", ret.WorkflowID))
	err = s.starter(true).Return(r.Context(), workflows.ReturnInput{LeadID: ret.LeadID, OrgID: ret.OrgID}, ret.Slug)
	if err != nil {
		s.Log.Error("could not start a return's run: the reconciler will", zap.String("lead_id", id), zap.Error(err))
	}
	s.answerLead(w, r, scope, id)
}
