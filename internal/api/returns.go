package api

import (
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
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

// vendorReturns lists the returns of the vendor key's source (SPEC §5.7),
// oldest first, so a vendor credits them without reading email: those
// returned at or after since (absent: from the first), paged by an opaque
// cursor. Only a vendor key may: it names its source, so a vendor never
// sees another source's returns, and a user's or the admin token is
// refused (403) as on POST /v1/leads. It counts against the key's rate
// limit, which keeps a polling loop from crowding the database.
func (s *Server) vendorReturns(w http.ResponseWriter, r *http.Request) {
	c, err := s.authenticate(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	if c.admin || c.Kind != domain.TokenVendor {
		writeErr(w, domain.Errorf(domain.EForbidden, "only a vendor key may list its source's returns"))
		return
	}
	if ok, wait := s.allow(c.SourceID); !ok {
		w.Header().Set("Retry-After", retryAfter(wait))
		writeErr(w, domain.Errorf(domain.ERateLimited, "rate limit of this vendor key exceeded: retry after %s", wait.Round(time.Millisecond)))
		return
	}
	limit, cursor, err := pageQuery(r.URL.RawQuery, maxPage, 512)
	var since time.Time
	if err == nil {
		since, err = sinceQuery(r.URL.RawQuery)
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	list, next, err := s.Store.VendorReturns(r.Context(), c.SourceID, since, cursor, limit)
	if err != nil {
		writeErr(w, err)
		return
	}
	if list == nil {
		list = []store.VendorReturn{}
	}
	writeJSON(w, 200, map[string]any{"returns": list, "next_cursor": next})
}

// sinceQuery reads the since parameter of GET /v1/returns: an RFC 3339
// time, or the zero time when absent. A '+' of an offset must be sent as
// %2B: a bare one is a space in a query, and the message says so.
func sinceQuery(rawQuery string) (time.Time, error) {
	q, err := queryValues(rawQuery)
	if err != nil {
		return time.Time{}, err
	}
	v := q.Get("since")
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, &domain.Error{Code: domain.EInvalid, Message: "invalid query",
			Fields: map[string]string{"since": "an RFC 3339 time such as 2026-12-06T09:00:00Z (send a + of an offset as %2B)"}}
	}
	return t, nil
}

// leadReturnRules answers the return rules of a lead (its receiving
// source's window, the last moment it may be returned, the reasons a
// return may give) to whoever may read the lead, so a form offers only
// what POST …/return takes, even when the source is another org's.
func (s *Server) leadReturnRules(w http.ResponseWriter, r *http.Request) {
	_, scope, err := s.leadCaller(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	rr, err := s.Store.LeadReturnRules(r.Context(), scope, r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, rr)
}
