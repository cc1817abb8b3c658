package api

import (
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

type intakeOut struct {
	LeadID     string `json:"lead_id"`
	WorkflowID string `json:"workflow_id"`
	Duplicate  bool   `json:"duplicate"`
}

// postLead answers once the lead is in Postgres and its workflow is recorded
// by Temporal; routing happens in the workflow.
func (s *Server) postLead(w http.ResponseWriter, r *http.Request) {
	received := time.Now()
	c, err := s.authenticate(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	if c.admin || c.Kind != domain.TokenVendor {
		writeErr(w, domain.Errorf(domain.EForbidden, "only a vendor key may post leads"))
		return
	}
	if ok, wait := s.allow(c.SourceID); !ok {
		w.Header().Set("Retry-After", retryAfter(wait))
		writeErr(w, domain.Errorf(domain.ERateLimited, "rate limit of this vendor key exceeded: retry after %s", wait.Round(time.Millisecond)))
		return
	}
	var in domain.LeadInput
	if err := decode(w, r, domain.MaxLeadBody, &in); err != nil {
		writeErr(w, err)
		return
	}
	if err := in.Validate(); err != nil {
		writeErr(w, err)
		return
	}
	wfID := workflows.LeadWorkflowID(c.OrgID, c.Slug, in.ExternalID)
	intake, err := s.Store.InsertLead(r.Context(), store.NewLead{SourceID: c.SourceID, OrgID: c.OrgID, Slug: c.Slug,
		WorkflowID: wfID, ReceivedAt: received, In: in})
	if err != nil {
		writeErr(w, err)
		return
	}
	logField(w, zap.String("lead_id", intake.LeadID))
	logField(w, zap.String("workflow_id", intake.WorkflowID))
	if !intake.Routed {
		if err := workflows.StartLead(r.Context(), s.Temporal, s.Cfg.TaskQueue, store.UnroutedLead{LeadID: intake.LeadID, OrgID: c.OrgID, SourceID: c.SourceID,
			Slug: c.Slug, ExternalID: in.ExternalID, WorkflowID: intake.WorkflowID}); err != nil {
			// The lead is recorded; the vendor's retry (or the worker's sweep)
			// starts its workflow. Say so rather than pretend it is accepted.
			s.Log.Error("could not start lead workflow", zap.String("lead_id", intake.LeadID), zap.Error(err))
			writeErr(w, domain.Errorf(domain.EUnavailable, "lead recorded but routing could not start: retry the same post"))
			return
		}
	}
	status := http.StatusAccepted
	if intake.Duplicate {
		status = http.StatusOK
	}
	writeJSON(w, status, intakeOut{intake.LeadID, intake.WorkflowID, intake.Duplicate})
}

func (s *Server) getLead(w http.ResponseWriter, r *http.Request) {
	c, err := s.authenticate(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	org := c.OrgID
	switch {
	case c.admin:
		org = ""
	case c.Kind == domain.TokenVendor:
		writeErr(w, domain.Errorf(domain.EForbidden, "a vendor key may only post leads"))
		return
	}
	l, err := s.Store.GetLead(r.Context(), org, r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, l)
}

func (s *Server) listLeads(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.member(r, org, false); err != nil {
		writeErr(w, err)
		return
	}
	q := r.URL.Query()
	f := store.LeadFilter{Status: q.Get("status"), AssignedTo: q.Get("assigned_to"), Source: q.Get("source"), Cursor: q.Get("cursor")}
	fe := domain.FieldErrors{}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			fe.Add("limit", "a number from 1 to 500")
		}
		f.Limit = n
	}
	if f.AssignedTo != "" && !domain.ValidUUID(f.AssignedTo) {
		fe.Add("assigned_to", "a user id")
	}
	if err := fe.Err("invalid query"); err != nil {
		writeErr(w, err)
		return
	}
	leads, next, err := s.Store.ListLeads(r.Context(), org, f)
	if err != nil {
		writeErr(w, err)
		return
	}
	if leads == nil {
		leads = []store.Lead{}
	}
	writeJSON(w, 200, map[string]any{"leads": leads, "next_cursor": next})
}
