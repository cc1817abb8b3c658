package api

import (
	"net/http"
	"strings"
	"time"

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
	// Availability and caps (SPEC §5.6).
	Paused        bool                 `json:"paused"`
	PausedUntil   *time.Time           `json:"paused_until"`
	WorkingHours  []domain.WorkingSpan `json:"working_hours"`
	DailyCap      *int                 `json:"daily_cap"`
	OpenCap       *int                 `json:"open_cap"`
	InstantAlerts bool                 `json:"instant_alerts"`
	Token         string               `json:"token,omitempty"`
}

func toUserOut(u store.User, token string) UserOut {
	return UserOut{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Active: u.Active, NotifyNewLeads: u.NotifyNewLeads,
		Paused: u.Paused, PausedUntil: u.PausedUntil, WorkingHours: u.WorkingHours, DailyCap: u.DailyCap, OpenCap: u.OpenCap,
		InstantAlerts: u.InstantAlerts, Token: token}
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

// userPatchIn is the body of PATCH /v1/orgs/{org}/users/{user}; null
// clears working_hours, daily_cap and open_cap.
type userPatchIn struct {
	Active         *bool                          `json:"active"`
	Role           *domain.Role                   `json:"role"`
	NotifyNewLeads *bool                          `json:"notify_new_leads"`
	InstantAlerts  optional[bool]                 `json:"instant_alerts"`
	WorkingHours   optional[[]domain.WorkingSpan] `json:"working_hours"`
	DailyCap       optional[int]                  `json:"daily_cap"`
	OpenCap        optional[int]                  `json:"open_cap"`
}

// allowed says which fields c may change on target: active, role and
// notify_new_leads are the owner's and admins'; working hours and caps
// also a manager's; instant_alerts also the user's own.
func (in userPatchIn) allowed(c *caller, target string) error {
	if c.admin || c.User.Role.ManagesOrg() {
		return nil
	}
	if in.Active != nil || in.Role != nil || in.NotifyNewLeads != nil {
		return domain.Errorf(domain.EForbidden, "only the org's owner or an admin may change active, role or notify_new_leads")
	}
	if (in.WorkingHours.Set || in.DailyCap.Set || in.OpenCap.Set) && c.User.Role != domain.RoleManager {
		return domain.Errorf(domain.EForbidden, "only the org's owner, an admin or a manager may change working hours and caps")
	}
	if in.InstantAlerts.Set && c.User.ID != target {
		return domain.Errorf(domain.EForbidden, "only the user themself, the org's owner or an admin may change instant_alerts")
	}
	return nil
}

// patch checks every field and says what is wrong with each.
func (in userPatchIn) patch() (store.UserPatch, error) {
	p := store.UserPatch{Active: in.Active, Role: in.Role, NotifyNewLeads: in.NotifyNewLeads, InstantAlerts: in.InstantAlerts.ptr(),
		DailyCap: in.DailyCap.ptr(), OpenCap: in.OpenCap.ptr(),
		ClearWorkingHours: in.WorkingHours.Null, ClearDaily: in.DailyCap.Null, ClearOpen: in.OpenCap.Null}
	f := domain.FieldErrors{}
	if p.Role != nil && !p.Role.Valid() {
		f.Add("role", roleChoices)
	}
	if in.InstantAlerts.Null {
		f.Add("instant_alerts", "must not be null: true or false")
	}
	if v := in.WorkingHours.ptr(); v != nil {
		p.WorkingHours = *v
		if p.WorkingHours == nil {
			p.WorkingHours = []domain.WorkingSpan{}
		}
		for k, why := range domain.WorkingHoursProblems("working_hours", *v) {
			f.Add(k, why)
		}
	}
	for name, v := range map[string]*int{"daily_cap": p.DailyCap, "open_cap": p.OpenCap} {
		if v != nil && *v < 1 {
			f.Add(name, "a number of leads above 0, or null for no cap")
		}
	}
	return p, f.Err("invalid user")
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) {
	org, target := r.PathValue("org"), r.PathValue("user")
	c, err := s.member(r, org, false)
	if err != nil {
		writeErr(w, err)
		return
	}
	var in userPatchIn
	if err := decode(w, r, smallBody, &in); err != nil {
		writeErr(w, err)
		return
	}
	if err := in.allowed(c, target); err != nil {
		// Another org's user, or an id that is none, is 404 before any 403.
		if _, gerr := s.Store.GetUser(r.Context(), org, target); gerr != nil {
			err = gerr
		}
		writeErr(w, err)
		return
	}
	p, err := in.patch()
	if err != nil {
		writeErr(w, err)
		return
	}
	u, err := s.Store.UpdateUser(r.Context(), org, target, p)
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

// pauseIn is the body of POST .../users/{user}/pause.
type pauseIn struct {
	Until *time.Time `json:"until"`
}

// mayPause checks that the caller may pause or resume the path's user:
// the user themself, or the org's owner, an admin or a manager. Another
// org's user is 404.
func (s *Server) mayPause(r *http.Request) (*caller, error) {
	org, target := r.PathValue("org"), r.PathValue("user")
	c, err := s.member(r, org, false)
	if err != nil {
		return nil, err
	}
	if _, err := s.Store.GetUser(r.Context(), org, target); err != nil {
		return nil, err
	}
	if !c.admin && !c.User.Role.AssignsLeads() && c.User.ID != target {
		return nil, domain.Errorf(domain.EForbidden, "only the user themself, the org's owner, an admin or a manager may pause or resume them")
	}
	return c, nil
}

// pauseUser stops routing to the user until resumed or until "until".
func (s *Server) pauseUser(w http.ResponseWriter, r *http.Request) {
	c, err := s.mayPause(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	var in pauseIn
	if r.ContentLength != 0 {
		if err := decode(w, r, smallBody, &in); err != nil {
			writeErr(w, err)
			return
		}
	}
	if in.Until != nil && !in.Until.After(time.Now()) {
		writeErr(w, &domain.Error{Code: domain.EInvalid, Message: "invalid pause", Fields: map[string]string{"until": "must be in the future (RFC 3339), or left out to pause until resumed"}})
		return
	}
	var by *string
	if !c.admin {
		by = &c.User.ID
	}
	u, err := s.Store.PauseUser(r.Context(), r.PathValue("org"), r.PathValue("user"), in.Until, by)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, toUserOut(u, ""))
}

// resumeUser ends the user's pause.
func (s *Server) resumeUser(w http.ResponseWriter, r *http.Request) {
	if _, err := s.mayPause(r); err != nil {
		writeErr(w, err)
		return
	}
	u, err := s.Store.ResumeUser(r.Context(), r.PathValue("org"), r.PathValue("user"))
	if err != nil {
		writeErr(w, err)
		return
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
	return s.sourceTarget(w, r, func(org string) error {
		_, err := s.member(r, org, true)
		return err
	})
}

// sourceTarget checks a route of one source: the caller as allowed says
// (another org: 404 first), then a slug that can name a source (anything
// else is simply not found).
func (s *Server) sourceTarget(w http.ResponseWriter, r *http.Request, allowed func(org string) error) (org, slug string, ok bool) {
	org, slug = r.PathValue("org"), r.PathValue("slug")
	if err := allowed(org); err != nil {
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
