package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

const smallBody = 16 << 10

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
	store.Availability
	Token string `json:"token,omitempty"`
}

func toUserOut(u store.User, token string) UserOut {
	return UserOut{u.ID, u.Email, u.Name, u.Role, u.Active, u.NotifyNewLeads, u.Availability, token}
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

// userPatchIn is PATCH /v1/orgs/{org}/users/{user}: who may send which
// field differs (userPatchIn.check).
type userPatchIn struct {
	Active         *bool                          `json:"active"`
	Role           *domain.Role                   `json:"role"`
	NotifyNewLeads *bool                          `json:"notify_new_leads"`
	WorkingHours   optional[[]domain.WorkingSpan] `json:"working_hours"`
	DailyCap       optional[int]                  `json:"daily_cap"`
	OpenCap        optional[int]                  `json:"open_cap"`
	InstantAlerts  optional[bool]                 `json:"instant_alerts"`
}

// check says what the caller may not change, then what is invalid: the
// org's owner and admins change anything; a manager, working hours and
// caps too; anyone, their own instant alerts.
func (in userPatchIn) check(c *caller, userID string) (store.UserPatch, error) {
	manages := c.admin || c.User.Role.ManagesOrg()
	switch {
	case !manages && (in.Active != nil || in.Role != nil || in.NotifyNewLeads != nil):
		return store.UserPatch{}, domain.Errorf(domain.EForbidden, "only the org's owner or an admin may change a user's role, activity or digest")
	case !manages && !c.User.Role.AssignsLeads() && (in.WorkingHours.Set || in.DailyCap.Set || in.OpenCap.Set):
		return store.UserPatch{}, domain.Errorf(domain.EForbidden, "only the org's owner, an admin or a manager may set working hours and caps")
	case !manages && in.InstantAlerts.Set && c.User.ID != userID:
		return store.UserPatch{}, domain.Errorf(domain.EForbidden, "a user turns their own instant alerts on or off")
	}
	f := domain.FieldErrors{}
	if in.Role != nil && !in.Role.Valid() {
		f.Add("role", roleChoices)
	}
	for name, o := range map[string]optional[int]{"daily_cap": in.DailyCap, "open_cap": in.OpenCap} {
		if o.Set && !o.Null && (o.V < 1 || o.V > 100000) {
			f.Add(name, "a number of leads from 1 to 100000, or null for no cap")
		}
	}
	if in.InstantAlerts.Null {
		f.Add("instant_alerts", "true or false")
	}
	for k, v := range domain.WorkingHoursProblems("working_hours", in.WorkingHours.V) {
		f.Add(k, v)
	}
	return store.UserPatch{Active: in.Active, Role: in.Role, NotifyNewLeads: in.NotifyNewLeads,
		SetHours: in.WorkingHours.Set, WorkingHours: in.WorkingHours.V, SetDailyCap: in.DailyCap.Set, DailyCap: in.DailyCap.ptr(),
		SetOpenCap: in.OpenCap.Set, OpenCap: in.OpenCap.ptr(), InstantAlerts: in.InstantAlerts.ptr()}, f.Err("invalid user")
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) {
	org, userID := r.PathValue("org"), r.PathValue("user")
	c, err := s.member(r, org, false)
	if err == nil {
		// Another org's user, or none, is not found before anything is refused.
		_, err = s.Store.GetUser(r.Context(), org, userID)
	}
	var in userPatchIn
	if err == nil {
		err = decode(w, r, smallBody, &in)
	}
	var p store.UserPatch
	if err == nil {
		p, err = in.check(c, userID)
	}
	var u store.User
	if err == nil {
		u, err = s.Store.UpdateUser(r.Context(), org, userID, p)
	}
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

// pauseIn is POST …/users/{user}/pause: until when (absent: until resumed).
type pauseIn struct {
	Until *time.Time `json:"until"`
}

// pauseTarget checks a pause or resume: the user themself, or the org's
// owner, an admin or a manager; another org's user is not found.
func (s *Server) pauseTarget(r *http.Request) (*caller, string, string, error) {
	org, userID := r.PathValue("org"), r.PathValue("user")
	c, err := s.member(r, org, false)
	if err == nil {
		_, err = s.Store.GetUser(r.Context(), org, userID)
	}
	if err == nil && (c.User == nil || c.User.ID != userID) {
		err = c.mayRoute()
	}
	return c, org, userID, err
}

func (s *Server) pauseUser(w http.ResponseWriter, r *http.Request) {
	c, org, userID, err := s.pauseTarget(r)
	var in pauseIn
	if err == nil {
		err = decodeOptional(w, r, &in)
	}
	if err == nil && in.Until != nil && !in.Until.After(time.Now()) {
		err = &domain.Error{Code: domain.EInvalid, Message: "invalid pause", Fields: map[string]string{"until": "a time in the future, or leave it out to pause until resumed"}}
	}
	var u store.User
	if err == nil {
		by := ""
		if c.User != nil {
			by = c.User.ID
		}
		u, err = s.Store.PauseUser(r.Context(), org, userID, by, in.Until)
	}
	answerUser(w, u, err)
}

func (s *Server) resumeUser(w http.ResponseWriter, r *http.Request) {
	_, org, userID, err := s.pauseTarget(r)
	var u store.User
	if err == nil {
		u, err = s.Store.ResumeUser(r.Context(), org, userID)
	}
	answerUser(w, u, err)
}

func answerUser(w http.ResponseWriter, u store.User, err error) {
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, toUserOut(u, ""))
}

// decodeOptional decodes a body that may be empty (no body: dst as it is).
func decodeOptional(w http.ResponseWriter, r *http.Request, dst any) error {
	if r.ContentLength == 0 {
		return nil
	}
	return decode(w, r, smallBody, dst)
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
	// Sixteen times smallBody: a 16 KiB return_template may double when
	// escaped, and 99 rules may list postal code prefixes by the hundred.
	if err := decode(w, r, smallBody*16, &in); err != nil {
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
