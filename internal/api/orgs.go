package api

import (
	"net/http"
	"strings"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

const smallBody = 16 << 10

// sourceBody bounds a source's PUT body: its template and its rules.
const sourceBody = 1 << 20

const roleChoices = "one of admin, manager, professional, staff"

type personIn struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

type orgIn struct {
	Name     string   `json:"name"`
	Timezone string   `json:"timezone"`
	Owner    personIn `json:"owner"`
}

// UserOut is a user as the API answers one (the console reads its answers
// into it too); Token is set only in the answer that created the user.
type UserOut struct {
	ID             string      `json:"id"`
	Email          string      `json:"email"`
	Name           string      `json:"name"`
	Role           domain.Role `json:"role"`
	Active         bool        `json:"active"`
	NotifyNewLeads bool        `json:"notify_new_leads"`
	Token          string      `json:"token,omitempty"`
}

func toUserOut(u store.User, token string) UserOut {
	return UserOut{u.ID, u.Email, u.Name, u.Role, u.Active, u.NotifyNewLeads, token}
}

func (s *Server) createOrg(w http.ResponseWriter, r *http.Request) {
	c, err := s.authenticate(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	if !c.admin {
		writeErr(w, domain.Errorf(domain.EForbidden, "only the admin token may create orgs"))
		return
	}
	var in orgIn
	if err := decode(w, r, smallBody, &in); err != nil {
		writeErr(w, err)
		return
	}
	f := domain.FieldErrors{}
	var ok bool
	if in.Name, ok = domain.CleanOrgName(in.Name); !ok {
		f.Add("name", domain.OrgNameRule)
	}
	if in.Timezone == "" {
		in.Timezone = "UTC"
	}
	if !domain.ValidTimezone(in.Timezone) {
		f.Add("timezone", domain.TimezoneRule)
	}
	if !domain.ValidEmail(in.Owner.Email) {
		f.Add("owner.email", "a valid email address is required")
	}
	if strings.TrimSpace(in.Owner.Name) == "" {
		f.Add("owner.name", "required")
	}
	if err := f.Err("invalid org"); err != nil {
		writeErr(w, err)
		return
	}
	o, u, tok, err := s.Store.CreateOrg(r.Context(), in.Name, in.Timezone, in.Owner.Email, in.Owner.Name)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 201, map[string]any{"id": o.ID, "name": o.Name, "timezone": o.Timezone,
		"owner": map[string]any{"id": u.ID, "email": u.Email, "name": u.Name, "role": u.Role, "token": tok}})
}

type userIn struct {
	Email          string      `json:"email"`
	Name           string      `json:"name"`
	Role           domain.Role `json:"role"`
	NotifyNewLeads bool        `json:"notify_new_leads"`
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.member(r, org, true); err != nil {
		writeErr(w, err)
		return
	}
	var in userIn
	if err := decode(w, r, smallBody, &in); err != nil {
		writeErr(w, err)
		return
	}
	f := domain.FieldErrors{}
	if !domain.ValidEmail(in.Email) {
		f.Add("email", "a valid email address is required")
	}
	if strings.TrimSpace(in.Name) == "" {
		f.Add("name", "required")
	}
	switch {
	case in.Role == domain.RoleOwner:
		f.Add("role", "an org has exactly one owner, created with the org")
	case !in.Role.Valid():
		f.Add("role", roleChoices)
	}
	if err := f.Err("invalid user"); err != nil {
		writeErr(w, err)
		return
	}
	u, tok, err := s.Store.CreateUser(r.Context(), org, in.Email, in.Name, in.Role, in.NotifyNewLeads)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 201, toUserOut(u, tok))
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.member(r, org, true); err != nil {
		writeErr(w, err)
		return
	}
	var p store.UserPatch
	if err := decode(w, r, smallBody, &p); err != nil {
		writeErr(w, err)
		return
	}
	if p.Role != nil && !p.Role.Valid() {
		writeErr(w, &domain.Error{Code: domain.EInvalid, Message: "invalid user", Fields: map[string]string{"role": roleChoices}})
		return
	}
	u, err := s.Store.UpdateUser(r.Context(), org, r.PathValue("user"), p)
	if err != nil {
		writeErr(w, err)
		return
	}
	if p.Active != nil && !*p.Active {
		if err := s.startReroute(w, r, u); err != nil {
			writeErr(w, err)
			return
		}
	}
	writeJSON(w, 200, toUserOut(u, ""))
}

func (s *Server) putSource(w http.ResponseWriter, r *http.Request) {
	org, slug := r.PathValue("org"), r.PathValue("slug")
	if _, err := s.member(r, org, true); err != nil {
		writeErr(w, err)
		return
	}
	if !domain.ValidSlug(slug) {
		writeErr(w, &domain.Error{Code: domain.EInvalid, Message: "invalid source",
			Fields: map[string]string{"slug": "lowercase letters, digits, - and _, at most 64"}})
		return
	}
	var in domain.SourceConfig
	// A 16 KiB return_template may double when escaped, and 99 rules with
	// lists of postal codes take room too.
	if err := decode(w, r, sourceBody, &in); err != nil {
		writeErr(w, err)
		return
	}
	delay, err := in.Validate()
	if err != nil {
		writeErr(w, err)
		return
	}
	src, created, key, err := s.Store.PutSource(r.Context(), org, slug, in, delay)
	if err != nil {
		writeErr(w, err)
		return
	}
	if created {
		writeJSON(w, 201, struct {
			store.Source
			APIKey string `json:"api_key"`
		}{src, key})
		return
	}
	writeJSON(w, 200, src)
}

// sourceKeyTarget checks a vendor-key route: owner or admin of the org, and
// a slug that can name a source (anything else is simply not found).
func (s *Server) sourceKeyTarget(w http.ResponseWriter, r *http.Request) (org, slug string, ok bool) {
	org, slug = r.PathValue("org"), r.PathValue("slug")
	if _, err := s.member(r, org, true); err != nil {
		writeErr(w, err)
		return "", "", false
	}
	if !domain.ValidSlug(slug) {
		writeErr(w, domain.Errorf(domain.ENotFound, "source not found"))
		return "", "", false
	}
	return org, slug, true
}

// rotateKey issues a new vendor key; the old one stops working at once.
func (s *Server) rotateKey(w http.ResponseWriter, r *http.Request) {
	org, slug, ok := s.sourceKeyTarget(w, r)
	if !ok {
		return
	}
	key, err := s.Store.RotateVendorKey(r.Context(), org, slug)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 201, map[string]string{"api_key": key})
}

// revokeKey revokes the vendor key and issues none.
func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) {
	org, slug, ok := s.sourceKeyTarget(w, r)
	if !ok {
		return
	}
	if err := s.Store.RevokeVendorKey(r.Context(), org, slug); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]bool{"revoked": true})
}

func (s *Server) listSources(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.member(r, org, false); err != nil {
		writeErr(w, err)
		return
	}
	list, err := s.Store.ListSources(r.Context(), org)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"sources": list})
}

// listUsers: the org's members, by name, for every member (a page that
// names assignees and owners needs them) and the admin token.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.member(r, org, false); err != nil {
		writeErr(w, err)
		return
	}
	users, err := s.Store.ListUsers(r.Context(), org)
	if err != nil {
		writeErr(w, err)
		return
	}
	out := make([]UserOut, len(users))
	for i, u := range users {
		out[i] = toUserOut(u, "")
	}
	writeJSON(w, 200, map[string]any{"users": out})
}
