package api

import (
	"net/http"
	"net/url"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// previewIn is the body of POST .../route-preview: a lead as a vendor
// posts it (external_id optional) and when it would arrive.
type previewIn struct {
	domain.LeadInput
	At *time.Time `json:"at"`
}

// previewExternalID stands in for a preview's missing external_id: the
// lead is never stored, so it only has to pass validation.
const previewExternalID = "route-preview"

// sourceRouteTarget checks a routing route of a source: owner, admin or
// manager of the org (another org: 404 first), and a slug that can name a
// source (anything else is not found).
func (s *Server) sourceRouteTarget(w http.ResponseWriter, r *http.Request) (org, slug string, ok bool) {
	return s.sourceTarget(w, r, func(org string) error {
		_, err := s.mayRoute(r, org)
		return err
	})
}

// routePreview says where a lead would go now (or at "at") and why,
// changing nothing: no lead is stored and no rotation moves.
func (s *Server) routePreview(w http.ResponseWriter, r *http.Request) {
	org, slug, ok := s.sourceRouteTarget(w, r)
	if !ok {
		return
	}
	var in previewIn
	if err := decode(w, r, domain.MaxLeadBody, &in); err != nil {
		writeErr(w, err)
		return
	}
	if in.ExternalID == "" {
		in.ExternalID = previewExternalID
	}
	if err := in.LeadInput.Validate(); err != nil {
		writeErr(w, err)
		return
	}
	at := time.Now()
	if in.At != nil {
		at = *in.At
	}
	p, err := s.Store.PreviewRoute(r.Context(), org, slug, in.LeadInput, at)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, p)
}

// fairnessWindow is the default period of the fairness report.
const fairnessWindow = 7 * 24 * time.Hour

// fairness reports how evenly the source's rotations shared its leads
// over [from, to) (RFC 3339; default the last 7 days).
func (s *Server) fairness(w http.ResponseWriter, r *http.Request) {
	org, slug, ok := s.sourceRouteTarget(w, r)
	if !ok {
		return
	}
	from, to, err := fairnessPeriod(r.URL.Query())
	if err != nil {
		writeErr(w, err)
		return
	}
	rep, err := s.Store.Fairness(r.Context(), org, slug, from, to)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, rep)
}

// fairnessPeriod reads from and to, naming each bad one.
func fairnessPeriod(q url.Values) (from, to time.Time, err error) {
	to = time.Now()
	f := domain.FieldErrors{}
	if v := q.Get("to"); v != "" {
		if to, err = time.Parse(time.RFC3339, v); err != nil {
			f.Add("to", "a time in RFC 3339, such as 2026-05-01T00:00:00Z")
		}
	}
	from = to.Add(-fairnessWindow)
	if v := q.Get("from"); v != "" {
		if from, err = time.Parse(time.RFC3339, v); err != nil {
			f.Add("from", "a time in RFC 3339, such as 2026-04-24T00:00:00Z")
		}
	}
	if len(f) == 0 && !from.Before(to) {
		f.Add("from", "must be before to")
	}
	return from, to, f.Err("invalid period")
}
