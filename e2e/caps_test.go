package e2e

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"
)

// TestVendorDailyCapRefusesPastItUntilTomorrow: a source capped at 5 new
// leads a day takes 5; the 6th answers 429 cap_reached with Retry-After the
// seconds to the org's next midnight (America/Chicago, newTenant's zone),
// and is not stored; a resent external_id of an accepted lead still answers
// 200. Tomorrow is made by moving the source's day count to yesterday in
// SQL: the cap counts per org-local day (source_day_counts), so that is
// exactly what the clock passing midnight does, without a test that waits
// for midnight or depends on the hour it runs at.
func TestVendorDailyCapRefusesPastItUntilTomorrow(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "caps", 2, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"}, "vendor_daily_cap": 5})
	post := func(ext string) resp {
		t.Helper()
		return s.do(t, "POST", "/v1/leads", tn.vendorKey, map[string]any{"external_id": ext, "email": ext + "@caps.example"})
	}
	for i := range 5 {
		if r := post(fmt.Sprint("cap-", i)); r.status != 202 {
			t.Fatalf("lead %d under the cap: %d %s", i, r.status, r.raw)
		}
	}
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{"cap-5", "cap-6"} {
		before := time.Now()
		r := post(ext)
		if r.status != 429 || r.errCode() != "cap_reached" {
			t.Fatalf("%s past the cap: %d %s", ext, r.status, r.raw)
		}
		y, m, d := before.In(loc).Date()
		want := time.Date(y, m, d+1, 0, 0, 0, 0, loc).Sub(before).Seconds()
		got, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || float64(got) < want-5 || float64(got) > want+5 {
			t.Fatalf("Retry-After %q, want ≈ %.0f s (to midnight in Chicago)", r.header.Get("Retry-After"), want)
		}
	}
	if r := post("cap-2"); r.status != 200 || r.str("lead_id") == "" {
		t.Fatalf("a duplicate of an accepted lead past the cap: %d %s", r.status, r.raw)
	}
	if n := s.countLeads(t, tn.id); n != 5 {
		t.Fatalf("%d leads stored, want the 5 accepted", n)
	}
	s.waitRouted(t, tn.sourceID, 5)

	if _, err := s.deps.Pool.Exec(context.Background(), `UPDATE source_day_counts SET day = day - 1 WHERE source_id = $1`, tn.sourceID); err != nil {
		t.Fatal(err)
	}
	if r := post("cap-5"); r.status != 202 {
		t.Fatalf("the next day, a refused lead sent again: %d %s", r.status, r.raw)
	}
	if n := s.countLeads(t, tn.id); n != 6 {
		t.Fatalf("%d leads stored, want 6", n)
	}
}
