package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/bench"
)

// TestScaleBenchRunsAgainstTheStack runs `starter bench --scale`'s path at a
// tiny N against this stack's Temporal: its own database, API and worker,
// every row measured in both columns. Its figures are the bench's to
// report, never asserted here.
func TestScaleBenchRunsAgainstTheStack(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	name := fmt.Sprintf("scale_e2e_%d", time.Now().UnixNano())
	t.Cleanup(func() {
		if c, err := pgx.Connect(ctx, s.deps.Cfg.DatabaseURL); err == nil {
			_, _ = c.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
			_ = c.Close(ctx)
		}
	})
	env := map[string]string{"DATABASE_URL": s.deps.Cfg.DatabaseURL, "TEMPORAL_ADDRESS": s.deps.Cfg.TemporalAddress,
		"TEMPORAL_NAMESPACE": s.deps.Cfg.TemporalNamespace}
	r, err := bench.RunScale(ctx, bench.ScaleOptions{Getenv: func(k string) string { return env[k] }, Database: name, N: 2000, Reads: 5})
	if err != nil {
		t.Fatal(err)
	}
	rows := []string{"lead read GET /v1/leads/{id}", "list unfiltered", "list status=new", "list status=onboarding", "list status=returned",
		"list status=invalid", "list assigned_to=one rep", "list source=one of 20", "list location=queue", "list location=pending",
		"list owner=one rep", "list owner=team", "list q=a last name", "list unfiltered, deep page (page 1,000)",
		"feed GET /v1/orgs/{org}/feed", "console leads page /app/leads (server time)", "digest of a 10,000-lead day (store.DigestContent)",
		"bulk assign, 1,000 leads a request", "transfer of 10,000 leads, request → all moved", "claim, bursts of 20 claimers, 200 queued"}
	if len(r.Rows) != len(rows) || len(r.Goals()) != len(rows) {
		t.Fatalf("%d rows, %d goals, want %d:\n%s", len(r.Rows), len(r.Goals()), len(rows), r.Table())
	}
	tab := r.Table()
	for i, want := range rows {
		row := r.Rows[i]
		if row.Name != want || !strings.Contains(tab, "| "+want) {
			t.Fatalf("row %d is %q, want %q:\n%s", i, row.Name, want, tab)
		}
		for _, m := range []bench.ScaleMeasure{row.Empty, row.AtN} {
			if row.Rate && m.Rate <= 0 || !row.Rate && (m.Samples == 0 || m.P50 <= 0 || m.P99 < m.P50) {
				t.Fatalf("row %q measured nothing: %+v\n%s", want, row, tab)
			}
		}
	}
	if r.Seed <= 0 || !strings.Contains(tab, "N = 2000") {
		t.Fatalf("seeding not reported:\n%s", tab)
	}
	// The bench's database holds what it says it seeded: N in the measured
	// org and N across the others, beside the small org and the fixtures.
	u, err := url.Parse(s.deps.Cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	c, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var big, others, leads, events, claims, feed int
	if err := c.QueryRow(ctx, `SELECT (SELECT count(*) FROM leads l JOIN orgs o ON o.id = l.org_id WHERE o.name LIKE 'scale big %'),
		(SELECT count(*) FROM leads l JOIN orgs o ON o.id = l.org_id WHERE o.name LIKE 'scale other %'),
		(SELECT count(*) FROM leads), (SELECT count(*) FROM timeline_events), (SELECT count(*) FROM lead_claims),
		(SELECT count(*) FROM feed_events)`).Scan(&big, &others, &leads, &events, &claims, &feed); err != nil {
		t.Fatal(err)
	}
	// The big org holds its N and the digest's 10,000-lead day (the small
	// org has that day too, so only N tells them apart). Every lead has at
	// least its received and routed events; 30% of the seeded ones were
	// claimed and worked, 5% arrived by a transfer.
	if big < 2000+10000 || others != 2000 || events < 2*leads || claims < 2000*3/10 || feed < 2000/20 {
		t.Fatalf("seeded %d leads in the big org, %d across the others; %d leads in all, %d timeline events, %d claims, %d feed events",
			big, others, leads, events, claims, feed)
	}
	t.Log("\n" + tab)
}
