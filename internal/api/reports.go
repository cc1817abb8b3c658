package api

import (
	"net/http"
	"net/url"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// reportWindow is a report's default period: the last 7 days.
const reportWindow = 7 * 24 * time.Hour

// speedToLead is GET /v1/orgs/{org}/reports/speed-to-lead: per source and
// per user, the org's leads received in [from, to) and how fast they were
// assigned and worked (store.SpeedToLead). The people who route the org's
// leads read it, as they read the fairness report; a staff member or
// professional is refused (403) rather than shown their own line, since
// the report ranks colleagues.
func (s *Server) speedToLead(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.mayRoute(r, org); err != nil {
		writeErr(w, err)
		return
	}
	o, err := s.Store.GetOrg(r.Context(), org)
	if err != nil {
		writeErr(w, err)
		return
	}
	from, to, err := reportPeriod(r.URL.Query(), domain.OrgLocation(o.Timezone), time.Now())
	if err != nil {
		writeErr(w, err)
		return
	}
	rep, err := s.Store.SpeedToLead(r.Context(), org, from, to)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, rep)
}

// reportPeriod reads a report's from and to, each an instant in RFC 3339
// or a day (YYYY-MM-DD) in the org's time zone loc: a day as from starts
// at its midnight, a day as to ends at the next midnight, so
// from=2026-05-01&to=2026-05-07 is those seven whole days. Without to:
// now; without from: 7 days before to. Each bad value is named; so is an
// empty, reversed or over-long period (store.CheckReportPeriod).
func reportPeriod(q url.Values, loc *time.Location, now time.Time) (from, to time.Time, err error) {
	f := domain.FieldErrors{}
	to = now
	if v := q.Get("to"); v != "" {
		var ok bool
		if to, ok = reportTime(v, loc, true); !ok {
			f.Add("to", "a time in RFC 3339 (2026-05-08T00:00:00Z) or a day (2026-05-07, the whole day in the org's time zone)")
		}
	}
	from = to.Add(-reportWindow)
	if v := q.Get("from"); v != "" {
		var ok bool
		if from, ok = reportTime(v, loc, false); !ok {
			f.Add("from", "a time in RFC 3339 (2026-05-01T00:00:00Z) or a day (2026-05-01, from its midnight in the org's time zone)")
		}
	}
	if err := f.Err("invalid period"); err != nil {
		return from, to, err
	}
	return from, to, store.CheckReportPeriod(from, to)
}

// reportTime reads v as RFC 3339 or as a day in loc; a day that ends a
// period means its end (the next midnight, which DST may put 23 or 25
// hours later).
func reportTime(v string, loc *time.Location, end bool) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, true
	}
	d, err := time.ParseInLocation(time.DateOnly, v, loc)
	if err != nil {
		return time.Time{}, false
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, true
}
