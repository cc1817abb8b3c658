package api

import (
	"net/http"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// A source's rules seen from outside (SPEC §5.6): what they would do with
// a lead now, and how fairly they have rotated.

// previewIn is a lead as a vendor would post it, external_id optional,
// and when it would arrive (default: now).
type previewIn struct {
	domain.LeadInput
	At *time.Time `json:"at"`
}

func (s *Server) routePreview(w http.ResponseWriter, r *http.Request) {
	org, slug := r.PathValue("org"), r.PathValue("slug")
	var in previewIn
	_, err := s.routingMember(r, org)
	if err == nil && !domain.ValidSlug(slug) {
		err = domain.Errorf(domain.ENotFound, "source not found")
	}
	if err == nil {
		err = decode(w, r, domain.MaxLeadBody, &in)
	}
	if err == nil {
		if in.ExternalID == "" {
			in.ExternalID = "preview"
		}
		err = in.Validate()
	}
	if err != nil {
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

// maxFairnessPeriod bounds a report's period: a year of decisions.
const maxFairnessPeriod = 366 * 24 * time.Hour

func (s *Server) fairness(w http.ResponseWriter, r *http.Request) {
	org, slug := r.PathValue("org"), r.PathValue("slug")
	_, err := s.routingMember(r, org)
	if err == nil && !domain.ValidSlug(slug) {
		err = domain.Errorf(domain.ENotFound, "source not found")
	}
	to, from := time.Now(), time.Time{}
	f := domain.FieldErrors{}
	for name, dst := range map[string]*time.Time{"from": &from, "to": &to} {
		if v := r.URL.Query().Get(name); v != "" {
			t, perr := time.Parse(time.RFC3339, v)
			if perr != nil {
				f.Add(name, "an RFC 3339 time such as 2026-12-01T00:00:00Z")
			}
			*dst = t
		}
	}
	if from.IsZero() && len(f) == 0 {
		from = to.Add(-7 * 24 * time.Hour)
	}
	if len(f) == 0 && !from.Before(to) {
		f.Add("from", "must be before to")
	}
	if len(f) == 0 && to.Sub(from) > maxFairnessPeriod {
		f.Add("from", "a period of at most 366 days")
	}
	if err == nil {
		err = f.Err("invalid period")
	}
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
