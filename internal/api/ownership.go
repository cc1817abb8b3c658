package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// bulkAssignBody bounds POST /v1/orgs/{org}/leads/assign: 1,000 quoted ids
// are about 39 KiB.
const bulkAssignBody = 64 << 10

// userIDIn is the body of assign and transfer-ownership.
type userIDIn struct {
	UserID optional[string] `json:"user_id"`
}

// bulkAssignIn is the body of POST /v1/orgs/{org}/leads/assign.
type bulkAssignIn struct {
	UserID  optional[string] `json:"user_id"`
	LeadIDs []string         `json:"lead_ids"`
}

// userIDRule is what a refused user_id is told.
const userIDRule = "required: the id of an active user of the org that holds the lead"

// leadCaller authenticates a request about one lead: a user acts within
// their org, the admin token in any org (scope ""), a vendor key not at all.
func (s *Server) leadCaller(r *http.Request) (domain.Changer, string, error) {
	c, err := s.authenticate(r)
	switch {
	case err != nil:
		return domain.Changer{}, "", err
	case c.admin:
		return domain.Changer{}, "", nil
	case c.Kind == domain.TokenVendor:
		return domain.Changer{}, "", domain.Errorf(domain.EForbidden, "a vendor key may only post leads")
	}
	return domain.Changer{UserID: c.User.ID, Role: c.User.Role}, c.OrgID, nil
}

// requiredUserID is a user_id that must be sent as a UUID string.
func requiredUserID(in optional[string]) (string, error) {
	if v := in.ptr(); v != nil {
		if id, ok := domain.NormalID(*v); ok {
			return id, nil
		}
	}
	return "", &domain.Error{Code: domain.EInvalid, Message: "invalid user_id", Fields: map[string]string{"user_id": userIDRule}}
}

// assignLead assigns a lead to a user of the org that holds it, keeping its
// owner, and answers with the lead.
func (s *Server) assignLead(w http.ResponseWriter, r *http.Request) {
	s.changeLead(w, r, func(ctx context.Context, scope string, by domain.Changer, id string, in userIDIn) error {
		userID, err := requiredUserID(in.UserID)
		if err != nil {
			return err
		}
		return s.Store.AssignLead(ctx, scope, by, id, userID)
	})
}

// transferOwnership makes a user the lead's owner (and assignee), or with
// "user_id": null makes it team-owned again, and answers with the lead.
func (s *Server) transferOwnership(w http.ResponseWriter, r *http.Request) {
	s.changeLead(w, r, func(ctx context.Context, scope string, by domain.Changer, id string, in userIDIn) error {
		var to *string
		if !in.UserID.Null {
			userID, err := requiredUserID(in.UserID)
			if err != nil {
				return err
			}
			to = &userID
		}
		return s.Store.TransferOwnership(ctx, scope, by, id, to)
	})
}

// changeLead reads who asks and what they sent, lets change apply it to the
// lead of the path, and answers with the lead as it now is.
func (s *Server) changeLead(w http.ResponseWriter, r *http.Request,
	change func(ctx context.Context, scope string, by domain.Changer, id string, in userIDIn) error) {
	by, scope, err := s.leadCaller(r)
	var in userIDIn
	if err == nil {
		err = decode(w, r, smallBody, &in)
	}
	id := r.PathValue("id")
	if err == nil {
		err = change(r.Context(), scope, by, id, in)
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	s.answerLead(w, r, scope, id)
}

// answerLead writes the lead as it now is, with its timeline.
func (s *Server) answerLead(w http.ResponseWriter, r *http.Request, scope, id string) {
	l, err := s.Store.GetLead(r.Context(), scope, id)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, l)
}

// bulkAssign assigns up to store.MaxBulkAssign of the org's leads to one
// user in one transaction: all of them or, on any refusal, none.
func (s *Server) bulkAssign(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	c, err := s.member(r, org, false)
	if err != nil {
		writeErr(w, err)
		return
	}
	by := domain.Changer{}
	if !c.admin {
		by = domain.Changer{UserID: c.User.ID, Role: c.User.Role}
	}
	var in bulkAssignIn
	if err := decode(w, r, bulkAssignBody, &in); err != nil {
		writeErr(w, err)
		return
	}
	f := domain.FieldErrors{}
	userID, err := requiredUserID(in.UserID)
	if err != nil {
		f.Add("user_id", userIDRule)
	}
	if n := len(in.LeadIDs); n == 0 || n > store.MaxBulkAssign {
		f.Add("lead_ids", fmt.Sprintf("1 to %d lead ids", store.MaxBulkAssign))
	}
	seen := make(map[string]bool, len(in.LeadIDs))
	for i, raw := range in.LeadIDs {
		id, ok := domain.NormalID(raw)
		switch {
		case !ok:
			f.Add(fmt.Sprintf("lead_ids[%d]", i), "not a lead id")
		case seen[id]:
			f.Add(fmt.Sprintf("lead_ids[%d]", i), "listed twice")
		}
		seen[id], in.LeadIDs[i] = true, id
	}
	if err := f.Err("invalid assignment"); err != nil {
		writeErr(w, err)
		return
	}
	changed, err := s.Store.AssignLeads(r.Context(), org, by, userID, in.LeadIDs)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"user_id": userID, "lead_ids": in.LeadIDs, "changed": changed})
}
