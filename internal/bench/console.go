package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// ConsoleGoal is the bound on a console page's server time (p99)
// for an org holding ConsoleLeads leads.
const ConsoleGoal = 100 * time.Millisecond

// consolePace spaces the reads of one page: 40 a second stays under
// USER_RATE_LIMIT's default (50/s per person, which counts page views), and
// the time measured is the server's own whatever the pace.
const consolePace = 25 * time.Millisecond

// ConsolePage is one page's server time, read from its Server-Timing header.
type ConsolePage struct {
	Name     string
	P50, P99 time.Duration
	N        int
	Status   int // the last answer's status: 200 unless the page failed
}

// consolePages seeds an org with o.ConsoleLeads leads spread over 100 users
// (with their timelines) and 100 handovers waiting for its managers, then
// reads the pages people open most: the leads page unfiltered, a rep's own
// leads, and the manager pipeline, o.ConsoleReads times each, one at a time
// (consolePace apart).
// The time is the server's own (Server-Timing), so the network and the
// client's parsing are not counted.
func consolePages(ctx context.Context, o Options, run string, r *Result) error {
	admin := o.client()
	org, owner, err := orgWithStaff(ctx, admin, "console "+run, 0)
	if err != nil {
		return err
	}
	child, _, err := orgWithStaff(ctx, admin, "console child "+run, 0)
	if err != nil {
		return err
	}
	st := store.New(o.DB)
	if err := st.LinkOrgs(ctx, org.ID, child.ID); err != nil {
		return err
	}
	src, err := owner.PutSource(ctx, org.ID, "console", map[string]any{"name": "Console", "routing": map[string]string{"mode": "owner"}})
	if err != nil {
		return err
	}
	rep, manager, err := seedConsoleOrg(ctx, o.DB, org.ID, child.ID, src.ID, o.ConsoleLeads)
	if err != nil {
		return err
	}
	pages := []struct{ name, user, path string }{
		{"leads page, unfiltered", manager, "/app/leads"},
		{"leads page, a rep's own leads", rep, "/app/leads?assigned_to=" + url.QueryEscape(rep)},
		{"manager pipeline", manager, "/app/pipeline"},
	}
	for _, p := range pages {
		cp, err := timePage(ctx, o, st, p.user, p.name, p.path)
		if err != nil {
			return err
		}
		r.ConsolePages = append(r.ConsolePages, cp)
	}
	r.ConsoleN = o.ConsoleLeads
	return nil
}

// seedConsoleOrg writes n leads into org (assigned round robin over 100
// users, two timeline events each) and 100 pending handovers from child,
// in one transaction. It returns a rep's and a manager's user id.
func seedConsoleOrg(ctx context.Context, db store.DB, org, child, source string, n int) (rep, manager string, err error) {
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		// Without instant alerts: the seeded assignments would otherwise owe
		// an email each, thousands of runs that would slow every row timed
		// after this one, and every test sharing the stack.
		rows, err := tx.Query(ctx, `INSERT INTO users (org_id, email, name, role, instant_alerts)
			SELECT $1, 'u' || g || '@console.bench', 'User ' || g, CASE WHEN g <= 5 THEN 'manager' ELSE 'staff' END, false
			FROM generate_series(1, 100) g ORDER BY g RETURNING id`, org)
		if err != nil {
			return err
		}
		users, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		manager, rep = users[0], users[len(users)-1]
		if _, err := tx.Exec(ctx, `UPDATE orgs SET handover_enabled = true WHERE id = $1`, org); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO leads (org_id, intake_org_id, source_id, source_slug, external_id, first_name, last_name,
				email, phone, company, attributes, workflow_id, routed_at, received_at, assigned_to,
				status)
			SELECT $1, $1, $2, 'console', 'c' || g, 'First' || g, 'Last' || g, 'c' || g || '@example.com', '555' || lpad(g::text, 7, '0'),
				'Acme', '{}', 'lead/console', now(), now() - make_interval(secs => g), ($3::uuid[])[1 + g % 100],
				CASE WHEN g % 10 = 0 THEN 'worked' ELSE 'new' END
			FROM generate_series(1, $4) g`, org, source, users, n); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO timeline_events (lead_id, org_id, kind, actor, message)
			SELECT l.id, $1, k, 'bench', k || ' (console bench)' FROM leads l, unnest(ARRAY['received','routed']) AS k
			WHERE l.org_id = $1`, org); err != nil {
			return err
		}
		// Handovers waiting at org: leads of the child sent up for review.
		tid := domain.NewID()
		if _, err := tx.Exec(ctx, `INSERT INTO transfers (id, org_id, to_org_id, mode, requested_by, request_hash, workflow_id, total)
			VALUES ($1, $2, $3, 'manager_review', 'admin', '\x00', 'transfer/console-bench', 100)`, tid, child, org); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `WITH l AS (
				INSERT INTO leads (org_id, intake_org_id, source_id, source_slug, external_id, first_name, last_name, email,
					attributes, workflow_id, routed_at)
				SELECT $1, $3, $4, 'console', 'h' || g, 'Handed', 'Over ' || g, 'h' || g || '@example.com', '{}', 'lead/console', now()
				FROM generate_series(1, 100) g RETURNING id)
			INSERT INTO handovers (lead_id, transfer_id, from_org_id, to_org_id) SELECT l.id, $2, $3, $1 FROM l`,
			org, tid, child, source); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `ANALYZE leads`)
		return err
	})
	return rep, manager, err
}

// timePage opens path as user reads times and returns the server's time.
func timePage(ctx context.Context, o Options, st *store.Store, user, name, path string) (ConsolePage, error) {
	plain, hash := domain.NewToken("lrs_")
	if err := st.CreateSession(ctx, hash, "bench@console.bench", user, time.Now().Add(time.Hour)); err != nil {
		return ConsolePage{}, err
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cp := ConsolePage{Name: name}
	var took []time.Duration
	for i := 0; i < max(1, o.ConsoleReads); i++ {
		if i > 0 {
			time.Sleep(consolePace)
		}
		req, err := http.NewRequestWithContext(ctx, "GET", o.API+path, nil)
		if err != nil {
			return cp, err
		}
		req.AddCookie(&http.Cookie{Name: "lr_session", Value: plain})
		res, err := c.Do(req)
		if err != nil {
			return cp, err
		}
		_ = res.Body.Close()
		cp.Status = res.StatusCode
		if res.StatusCode != http.StatusOK {
			return cp, fmt.Errorf("console page %s answered %d", path, res.StatusCode)
		}
		d, ok := serverTime(res.Header.Get("Server-Timing"))
		if !ok {
			return cp, fmt.Errorf("console page %s has no Server-Timing header", path)
		}
		took = append(took, d)
	}
	cp.N, cp.P50, cp.P99 = len(took), pct(took, 50), pct(took, 99)
	return cp, nil
}

// serverTime reads "app;dur=12.345" (milliseconds).
func serverTime(h string) (time.Duration, bool) {
	_, v, ok := strings.Cut(h, "dur=")
	if !ok {
		return 0, false
	}
	ms, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(ms * float64(time.Millisecond)), true
}
