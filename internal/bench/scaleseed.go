package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// scaleOrg is an org the scale bench seeds and reads: its users (the first
// five managers, the rest staff, all without instant alerts) and sources
// were made once; leads are added by seedLeads.
type scaleOrg struct {
	id      [16]byte
	ID      string
	users   [][16]byte
	userIDs []string
	sources []scaleSource
	// partner is the org its transferred-in leads came from, by transfer.
	partner, transfer [16]byte
	seeded            int // leads seedLeads wrote, to number the next ones
}

type scaleSource struct {
	id   [16]byte
	slug string
}

// leadMix is the share of leads in each state, in percent of i % 100: what
// an org that has run for years holds (most leads long worked, a quarter
// assigned and open, a tenth waiting in the queue).
type leadState int

const (
	stateWorked leadState = iota
	stateAssigned
	stateQueued
	statePending
	stateReturned
)

func realisticMix(i int) leadState {
	switch p := i % 100; {
	case p < 60:
		return stateWorked
	case p < 85:
		return stateAssigned
	case p < 95:
		return stateQueued
	case p < 99:
		return statePending
	default:
		return stateReturned
	}
}

func allQueued(int) leadState { return stateQueued }

func allAssigned(int) leadState { return stateAssigned }

// seedLeads writes n leads into org through COPY, received between from and
// until (oldest first), in the states mix gives, with the timeline, claims,
// feed events and arrivals the product would have written for them. The
// triggers that owe an alert or a webhook per row are off while it copies:
// seeded leads were assigned long ago, and no one is owed news of them.
func seedLeads(ctx context.Context, pool *pgxpool.Pool, org *scaleOrg, n int, from, until time.Time, mix func(int) leadState) error {
	if n <= 0 {
		return nil
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// A superuser skips every trigger, the foreign keys' checks included
	// (the rows are consistent by construction), which halves the copy;
	// another role skips ours only.
	var super bool
	if err := tx.QueryRow(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil {
		return err
	}
	if err := skipTriggers(ctx, tx, super, "DISABLE"); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	step := until.Sub(from) / time.Duration(n)
	type lead struct {
		id       [16]byte
		state    leadState
		user     [16]byte
		at       time.Time
		claimed  bool
		arrived  bool
		external string
	}
	mk := func(i int) lead {
		g := org.seeded + i
		l := lead{id: newUUID(rng), state: mix(g), user: org.users[5+rng.IntN(len(org.users)-5)],
			at: from.Add(time.Duration(i) * step), external: fmt.Sprintf("s%d", g)}
		l.claimed = l.state == stateWorked && g%2 == 0
		l.arrived = g%20 == 7
		return l
	}
	leads := make([]lead, n)
	for i := range leads {
		leads[i] = mk(i)
	}
	i := 0
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"leads"}, []string{"id", "org_id", "intake_org_id", "source_id", "source_slug", "external_id",
		"status", "location", "owner_user_id", "assigned_to", "first_name", "last_name", "email", "phone", "company", "workflow_id",
		"available_at", "received_at", "routed_at", "updated_at", "worked_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(leads) {
				return nil, nil
			}
			l, g := leads[i], org.seeded+i
			i++
			src := org.sources[g%len(org.sources)]
			status, routed := "new", l.at.Add(time.Second)
			var location, owner, assigned, available, worked any
			switch l.state {
			case stateWorked:
				assigned, worked = l.user, l.at.Add(time.Hour)
			case stateAssigned:
				assigned = l.user
			case stateQueued:
				location, available = "queue", routed
			case statePending:
				location = "pending"
			case stateReturned:
				status, assigned = "returned", l.user
			}
			if g%20 == 0 && assigned != nil {
				owner = assigned
			}
			return []any{l.id, org.id, org.id, src.id, src.slug, l.external, status, location, owner, assigned,
				fmt.Sprintf("First%d", g), fmt.Sprintf("Last%d", g), fmt.Sprintf("lead%d@scale.example", g),
				fmt.Sprintf("555%07d", g%10000000), "Acme", "lead/scale", available, l.at, routed, routed, worked}, nil
		}))
	if err != nil {
		return fmt.Errorf("copying leads: %w", err)
	}
	// A timeline of three to five events a lead: received, routed, then
	// what happened to it.
	type ev struct {
		lead [16]byte
		at   time.Time
		kind string
	}
	var evs []ev
	for _, l := range leads {
		evs = append(evs, ev{l.id, l.at, "received"}, ev{l.id, l.at.Add(time.Second), "routed"})
		if l.arrived {
			evs = append(evs, ev{l.id, l.at.Add(time.Minute), "transferred"})
		}
		switch {
		case l.claimed:
			evs = append(evs, ev{l.id, l.at.Add(30 * time.Minute), "claimed"}, ev{l.id, l.at.Add(time.Hour), "worked"})
		case l.state == stateWorked:
			evs = append(evs, ev{l.id, l.at.Add(2 * time.Second), "assigned"}, ev{l.id, l.at.Add(time.Hour), "worked"})
		case l.state == stateReturned:
			evs = append(evs, ev{l.id, l.at.Add(time.Hour), "returned"})
		}
	}
	i = 0
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"timeline_events"}, []string{"lead_id", "org_id", "at", "kind", "actor", "message"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(evs) {
				return nil, nil
			}
			e := evs[i]
			i++
			return []any{e.lead, org.id, e.at, e.kind, "leadrelay", e.kind + " (seeded)"}, nil
		})); err != nil {
		return fmt.Errorf("copying the timeline: %w", err)
	}
	var claims, arrivals [][]any
	for _, l := range leads {
		if l.claimed {
			c := l.at.Add(30 * time.Minute)
			claims = append(claims, []any{l.id, 1, org.id, l.user, c, c.Add(time.Hour), "worked", l.at.Add(time.Hour), l.at.Add(time.Hour), c})
		}
		if l.arrived {
			arrivals = append(arrivals, []any{l.id, l.at.Add(time.Minute)})
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"lead_claims"}, []string{"lead_id", "seq", "org_id", "user_id", "claimed_at",
		"expires_at", "status", "worked_at", "closed_at", "run_started_at"}, pgx.CopyFromRows(claims)); err != nil {
		return fmt.Errorf("copying claims: %w", err)
	}
	if org.transfer != ([16]byte{}) && len(arrivals) > 0 {
		var arr, feed [][]any
		for _, a := range arrivals {
			arr = append(arr, []any{org.id, a[0], org.transfer, a[1]})
			feed = append(feed, []any{org.id, a[1], "transfer_in", a[0], org.partner, org.transfer, "leadrelay", "received from partner (seeded)"},
				[]any{org.partner, a[1], "transfer_out", a[0], org.id, org.transfer, "leadrelay", "sent to scale org (seeded)"})
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"lead_arrivals"}, []string{"org_id", "lead_id", "transfer_id", "at"}, pgx.CopyFromRows(arr)); err != nil {
			return fmt.Errorf("copying arrivals: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"feed_events"}, []string{"org_id", "at", "kind", "lead_id", "other_org_id",
			"transfer_id", "actor", "message"}, pgx.CopyFromRows(feed)); err != nil {
			return fmt.Errorf("copying the feed: %w", err)
		}
	}
	if err := skipTriggers(ctx, tx, super, "ENABLE"); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	org.seeded += n
	return nil
}

// skipTriggers turns the triggers off (how DISABLE) or on again (ENABLE)
// for the rest of tx.
func skipTriggers(ctx context.Context, tx pgx.Tx, super bool, how string) error {
	if super {
		if how == "DISABLE" {
			_, err := tx.Exec(ctx, `SET LOCAL session_replication_role = replica`)
			return err
		}
		return nil // SET LOCAL ends with tx
	}
	for _, t := range []string{"leads", "timeline_events"} {
		if _, err := tx.Exec(ctx, `ALTER TABLE `+t+` `+how+` TRIGGER USER`); err != nil {
			return err
		}
	}
	return nil
}

// newUUID is a version-4 UUID from rng: seeding a million leads needs no
// cryptographic randomness.
func newUUID(rng *rand.Rand) [16]byte {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}

// newScaleOrg makes org's 100 users (5 managers) and 20 sources by SQL, and
// a partner org that sent it leads by one completed transfer.
func newScaleOrg(ctx context.Context, pool *pgxpool.Pool, orgID, partnerID string, sources []string) (*scaleOrg, error) {
	o := &scaleOrg{ID: orgID}
	if err := pool.QueryRow(ctx, `SELECT $1::uuid`, orgID).Scan(&o.id); err != nil {
		return nil, err
	}
	rows, err := pool.Query(ctx, `INSERT INTO users (org_id, email, name, role, instant_alerts)
		SELECT $1, 'u' || g || '@' || $2 || '.scale.bench', 'User ' || g, CASE WHEN g <= 5 THEN 'manager' ELSE 'staff' END, false
		FROM generate_series(1, 100) g ORDER BY g RETURNING id, id::text`, orgID, orgID[:8])
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id [16]byte
		var s string
		if err := rows.Scan(&id, &s); err != nil {
			rows.Close()
			return nil, err
		}
		o.users, o.userIDs = append(o.users, id), append(o.userIDs, s)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, slug := range sources {
		s := scaleSource{slug: slug}
		if err := pool.QueryRow(ctx, `SELECT id FROM lead_sources WHERE org_id = $1 AND slug = $2`, orgID, slug).Scan(&s.id); err != nil {
			return nil, fmt.Errorf("source %s: %w", slug, err)
		}
		o.sources = append(o.sources, s)
	}
	if partnerID != "" {
		if err := pool.QueryRow(ctx, `INSERT INTO transfers (id, org_id, to_org_id, mode, requested_by, request_hash, workflow_id, total,
				status, completed_at)
			VALUES (gen_random_uuid(), $1, $2, 'staff_evenly', 'admin', '\x00', 'transfer/scale-seed', 0, 'completed', now())
			RETURNING id, $1::uuid`, partnerID, orgID).Scan(&o.transfer, &o.partner); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// withoutIndexes runs seed with the secondary indexes of the tables a seed
// fills dropped, then makes them again: one sort each instead of millions
// of insertions into each (the trigram search index above all), which
// turns an hour's seed into minutes. Keys and unique constraints stay.
func withoutIndexes(ctx context.Context, pool *pgxpool.Pool, seed func() error) error {
	rows, err := pool.Query(ctx, `SELECT i.indexname, i.indexdef FROM pg_indexes i
		WHERE i.schemaname = current_schema() AND i.tablename IN ('leads', 'timeline_events', 'feed_events', 'lead_claims', 'lead_arrivals')
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
		ORDER BY i.indexname`)
	if err != nil {
		return err
	}
	type index struct{ name, def string }
	idx, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (index, error) {
		var i index
		return i, r.Scan(&i.name, &i.def)
	})
	if err != nil {
		return err
	}
	for _, i := range idx {
		if _, err := pool.Exec(ctx, `DROP INDEX `+pgx.Identifier{i.name}.Sanitize()); err != nil {
			return err
		}
	}
	seedErr := seed()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	// Each index is one sort: in memory when it fits.
	if _, err := conn.Exec(ctx, `SET maintenance_work_mem = '512MB'`); err != nil {
		return err
	}
	for _, i := range idx {
		if _, err := conn.Exec(ctx, i.def); err != nil {
			return fmt.Errorf("making %s again: %w", i.name, err)
		}
	}
	_, err = conn.Exec(ctx, `RESET maintenance_work_mem`)
	if seedErr != nil {
		return seedErr
	}
	return err
}
