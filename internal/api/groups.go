package api

import (
	"net/http"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// Groups of users that rules rotate over (SPEC §5.6): the org's members
// read them; its owner, admins and managers change them.

// mayRoute checks a member who may shape the org's routing: owner, admin,
// manager, or the admin token.
func (c *caller) mayRoute() error {
	if !c.admin && !c.User.Role.AssignsLeads() {
		return domain.Errorf(domain.EForbidden, "only the org's owner, an admin or a manager may do this")
	}
	return nil
}

// routingMember is member plus mayRoute.
func (s *Server) routingMember(r *http.Request, org string) (*caller, error) {
	c, err := s.member(r, org, false)
	if err == nil {
		err = c.mayRoute()
	}
	return c, err
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.member(r, org, false); err != nil {
		writeErr(w, err)
		return
	}
	groups, err := s.Store.ListGroups(r.Context(), org)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, struct {
		Groups []store.Group `json:"groups"`
	}{groups})
}

type groupIn struct {
	Members []store.GroupMember `json:"members"`
}

func (s *Server) putGroup(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	var in groupIn
	_, err := s.routingMember(r, org)
	if err == nil {
		err = decode(w, r, smallBody*16, &in)
	}
	if err == nil && in.Members == nil {
		err = &domain.Error{Code: domain.EInvalid, Message: "invalid group", Fields: map[string]string{"members": "required: a list of {user_id, weight}"}}
	}
	var g store.Group
	var created bool
	if err == nil {
		g, created, err = s.Store.PutGroup(r.Context(), org, r.PathValue("name"), in.Members)
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	status := 200
	if created {
		status = 201
	}
	writeJSON(w, status, g)
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) {
	org, name := r.PathValue("org"), r.PathValue("name")
	_, err := s.routingMember(r, org)
	if err == nil && !domain.ValidSlug(name) {
		err = domain.Errorf(domain.ENotFound, "group not found")
	}
	if err == nil {
		err = s.Store.DeleteGroup(r.Context(), org, name)
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, struct {
		Deleted string `json:"deleted"`
	}{name})
}
