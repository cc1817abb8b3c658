package api

import (
	"net/http"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// groupIn is the body of PUT /v1/orgs/{org}/groups/{name}.
type groupIn struct {
	Members []struct {
		UserID string `json:"user_id"`
		Weight *int   `json:"weight"` // absent: 1
	} `json:"members"`
}

// mayRoute checks that the caller may change who gets the org's leads
// (groups, previews, fairness): owner, admin, manager, or the admin token.
// Another org is 404 before any 403 (member checks the org first).
func (s *Server) mayRoute(r *http.Request, org string) (*caller, error) {
	c, err := s.member(r, org, false)
	if err != nil {
		return nil, err
	}
	if !c.admin && !c.User.Role.AssignsLeads() {
		return nil, domain.Errorf(domain.EForbidden, "only the org's owner, an admin or a manager may do this")
	}
	return c, nil
}

// listGroups: every member of the org sees its groups.
func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.member(r, org, false); err != nil {
		writeErr(w, err)
		return
	}
	list, err := s.Store.ListGroups(r.Context(), org)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"groups": list})
}

// putGroup creates the group (201) or replaces its members (200).
func (s *Server) putGroup(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.mayRoute(r, org); err != nil {
		writeErr(w, err)
		return
	}
	var in groupIn
	if err := decode(w, r, smallBody*4, &in); err != nil {
		writeErr(w, err)
		return
	}
	if in.Members == nil {
		writeErr(w, &domain.Error{Code: domain.EInvalid, Message: "invalid group", Fields: map[string]string{"members": "required: a list of {user_id, weight}"}})
		return
	}
	members := make([]store.GroupMember, len(in.Members))
	for i, m := range in.Members {
		members[i] = store.GroupMember{UserID: m.UserID, Weight: 1}
		if m.Weight != nil {
			members[i].Weight = *m.Weight
		}
	}
	g, created, err := s.Store.PutGroup(r.Context(), org, r.PathValue("name"), members)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, map[bool]int{true: 201, false: 200}[created], g)
}

// deleteGroup removes the group; 409 while a source routes to it.
func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.mayRoute(r, org); err != nil {
		writeErr(w, err)
		return
	}
	if err := s.Store.DeleteGroup(r.Context(), org, r.PathValue("name")); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]bool{"deleted": true})
}
