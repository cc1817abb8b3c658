package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// BenchmarkLeadPath is what leadrelay's own code costs a lead beside what
// Temporal costs any run (docs/benchmark.md, "The goals, 2026-12-07"): the
// vendor's post through the API's handler (authentication, the intake
// statement, the start, which a fake Temporal takes at once) and the
// routing transaction the worker's local activity runs, a staff_evenly
// rotation over five reps, one lead after another on the package's
// database. It reports the statements a lead costs beside the time (20 on
// 2026-12-07, begin and commit counted: 6 for the post, the key's lookup
// and the intake's transaction; 14 in the routing's); -cpuprofile shows the
// Go side's share:
//
//	go test ./internal/api/ -run '^$' -bench LeadPath -benchtime 2000x -cpuprofile /tmp/lead.prof
func BenchmarkLeadPath(b *testing.B) {
	ctx := context.Background()
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"ADMIN_TOKEN": testAdmin, "VENDOR_RATE_LIMIT": "100000/s,burst=100000", "AUTH_FAILURE_RATE_LIMIT": "off", "USER_RATE_LIMIT": "off"}[k]
	})
	if err != nil {
		b.Fatal(err)
	}
	_, url := testenv.DB(b)
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		b.Fatal(err)
	}
	var statements atomic.Int64
	pc.ConnConfig.Tracer = statementCounter{&statements}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	s := &Server{Cfg: cfg, Log: zap.NewNop(), Temporal: fakeTemporal{}, Pool: pool, Store: store.New(pool)}
	h := New(s)
	dom := fmt.Sprintf("bench%d.example", time.Now().UnixNano())
	o, _, _, err := s.Store.CreateOrg(ctx, "Bench Agency", "UTC", "owner@"+dom, "Owner")
	if err != nil {
		b.Fatal(err)
	}
	for i := range 5 {
		if _, _, err := s.Store.CreateUser(ctx, o.ID, fmt.Sprintf("rep%d@%s", i, dom), fmt.Sprintf("Rep %d", i), domain.RoleStaff, false); err != nil {
			b.Fatal(err)
		}
	}
	// An instant alert is a run of its own per lead, which no no-op has.
	if _, err := pool.Exec(ctx, `UPDATE users SET instant_alerts = false WHERE org_id = $1`, o.ID); err != nil {
		b.Fatal(err)
	}
	key := putSource(b, s, o.ID, domain.RouteStaffEvenly)
	b.ResetTimer()
	statements.Store(0)
	for i := range b.N {
		body := fmt.Sprintf(`{"external_id":"b-%d","first_name":"Ada","last_name":"Lovelace","email":"ada%d@example.com","phone":"+1 312 555 %04d"}`, i, i, i%10000)
		req := httptest.NewRequest("POST", "/v1/leads", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 202 {
			b.Fatalf("post %d: %d %s", i, rec.Code, rec.Body.String())
		}
		id := leadIDOf(rec.Body.String())
		if _, err := s.Store.RouteLead(ctx, store.RouteRequest{LeadID: id, OrgID: o.ID}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(statements.Load())/float64(b.N), "statements/op")
}

// statementCounter counts the statements a pool sends.
type statementCounter struct{ n *atomic.Int64 }

func (c statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// leadIDOf reads lead_id out of an intake answer without a JSON decoder of
// its own in the profile.
func leadIDOf(body string) string {
	_, rest, _ := strings.Cut(body, `"lead_id":"`)
	id, _, _ := strings.Cut(rest, `"`)
	return id
}
