package api

import (
	"maps"
	"net/http"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// OrgOut is an org's settings as GET and PATCH /v1/orgs/{org} answer them.
// claim_window is a Go duration string as time.Duration prints it ("30m0s",
// "1h30m0s"); any spelling ParseDuration reads is accepted on the way in.
// The console reads the answers into it too.
type OrgOut struct {
	ID              string  `json:"id"`
	Name            string  `json:"name"`
	Timezone        string  `json:"timezone"`
	ParentID        *string `json:"parent_id"`
	HandoverEnabled bool    `json:"handover_enabled"`
	CrossSilo       bool    `json:"cross_silo"`
	ClaimWindow     string  `json:"claim_window"`
	// RepeatLookbackDays: days back an open lead makes a new one its repeat.
	RepeatLookbackDays int `json:"repeat_lookback_days"`
	// BusinessHours: what an SLA with business_hours counts (null: every
	// hour of every day).
	BusinessHours *domain.BusinessHours `json:"business_hours"`
	// RetentionDays: days a closed lead's timeline and feed events are
	// kept in full (null: for ever).
	RetentionDays *int `json:"retention_days"`
}

func toOrgOut(o store.OrgSettings) OrgOut {
	return OrgOut{o.ID, o.Name, o.Timezone, o.ParentID, o.HandoverEnabled, o.CrossSilo, o.ClaimWindow.String(), o.RepeatLookbackDays,
		o.BusinessHours, o.RetentionDays}
}

// orgPatchIn is the body of PATCH /v1/orgs/{org}: every field optional,
// none of them null.
type orgPatchIn struct {
	Name            optional[string] `json:"name"`
	Timezone        optional[string] `json:"timezone"`
	HandoverEnabled optional[bool]   `json:"handover_enabled"`
	CrossSilo       optional[bool]   `json:"cross_silo"`
	ClaimWindow     optional[string] `json:"claim_window"`
	RepeatLookback  optional[int]    `json:"repeat_lookback_days"`
	// null clears them
	BusinessHours optional[domain.BusinessHours] `json:"business_hours"`
	// null keeps closed leads' events for ever
	RetentionDays optional[int] `json:"retention_days"`
}

// getOrg shows the org to its members (and the admin token); anyone else
// gets 404.
func (s *Server) getOrg(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	_, err := s.member(r, org, false)
	var o store.OrgSettings
	if err == nil {
		o, err = s.Store.GetOrgSettings(r.Context(), org)
	}
	answerOrg(w, o, err)
}

// patchOrg changes the fields sent, after checking all of them: one bad
// field and nothing is written.
func (s *Server) patchOrg(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	var in orgPatchIn
	var p store.OrgPatch
	_, err := s.member(r, org, true)
	if err == nil {
		err = decode(w, r, smallBody, &in)
	}
	if err == nil {
		p, err = in.validate()
	}
	var o store.OrgSettings
	if err == nil {
		var withdrawn []store.Handover
		o, withdrawn, err = s.Store.UpdateOrg(r.Context(), org, p)
		s.tellWithdrawn(r.Context(), withdrawn)
	}
	answerOrg(w, o, err)
}

// answerOrg writes the org, or the error that stopped the request.
func answerOrg(w http.ResponseWriter, o store.OrgSettings, err error) {
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, toOrgOut(o))
}

// validate checks every field sent and says what is wrong with each.
func (in orgPatchIn) validate() (store.OrgPatch, error) {
	f := domain.FieldErrors{}
	for name, null := range map[string]bool{"name": in.Name.Null, "timezone": in.Timezone.Null,
		"handover_enabled": in.HandoverEnabled.Null, "cross_silo": in.CrossSilo.Null, "claim_window": in.ClaimWindow.Null,
		"repeat_lookback_days": in.RepeatLookback.Null} {
		if null {
			f.Add(name, "must not be null: leave the field out to keep its value")
		}
	}
	p := store.OrgPatch{HandoverEnabled: in.HandoverEnabled.ptr(), CrossSilo: in.CrossSilo.ptr()}
	if v := in.Name.ptr(); v != nil {
		name, ok := domain.CleanOrgName(*v)
		if !ok {
			f.Add("name", domain.OrgNameRule)
		}
		p.Name = &name
	}
	if v := in.Timezone.ptr(); v != nil {
		if !domain.ValidTimezone(*v) {
			f.Add("timezone", domain.TimezoneRule)
		}
		p.Timezone = v
	}
	if v := in.ClaimWindow.ptr(); v != nil {
		d, ok := domain.ParseClaimWindow(*v)
		if !ok {
			f.Add("claim_window", domain.ClaimWindowRule)
		}
		p.ClaimWindow = &d
	}
	if v := in.RepeatLookback.ptr(); v != nil {
		if *v < 0 || *v > 3650 {
			f.Add("repeat_lookback_days", "0 to 3650 days (0: repeats are not looked for)")
		}
		p.RepeatLookbackDays = v
	}
	p.ClearRetention = in.RetentionDays.Null
	if v := in.RetentionDays.ptr(); v != nil {
		if *v < domain.MinRetentionDays || *v > domain.MaxRetentionDays {
			f.Add("retention_days", domain.RetentionDaysRule)
		}
		p.RetentionDays = v
	}
	p.ClearBusinessHours = in.BusinessHours.Null
	if v := in.BusinessHours.ptr(); v != nil {
		if v.Hours == nil {
			v.Hours = []domain.WorkingSpan{}
		}
		if v.Holidays == nil {
			v.Holidays = []string{}
		}
		maps.Copy(f, v.Problems("business_hours"))
		p.BusinessHours = v
	}
	return p, f.Err("invalid org")
}
