package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// NewTransfer is a transfer request as the API accepted it.
type NewTransfer struct {
	ID             string // minted by the caller; kept only if the request is new
	OrgID, ToOrgID string
	Mode           domain.TransferMode
	RequestedBy    string // user id, or "admin"
	IdempotencyKey string // "" when the caller sent none
	RequestHash    []byte // of (to_org, mode, lead_ids): a reused key with another body is refused
	WorkflowID     string
	LeadIDs        []string
	// MaxRunning bounds the org's running transfers, this one included
	// (TRANSFERS_PER_ORG); 0 bounds nothing.
	MaxRunning int
}

// ErrTooManyTransfers is CreateTransfer's refusal when the org already runs
// NewTransfer.MaxRunning transfers; the caller should retry later.
var ErrTooManyTransfers = domain.Errorf(domain.ERateLimited, "this org already runs its limit of transfers at once: retry when one completes")

// Transfer is a recorded transfer request.
type Transfer struct {
	ID, OrgID, ToOrgID string
	Mode               domain.TransferMode
	WorkflowID         string
	Total              int
}

// TransferFailure is one lead a transfer could not move, and why.
type TransferFailure struct {
	LeadID string `json:"lead_id"`
	Error  string `json:"error"`
}

// TransferStatus is a transfer's progress as GET …/transfers/{id} shows it.
type TransferStatus struct {
	ID          string `json:"id"`
	WorkflowID  string `json:"workflow_id"`
	OrgID       string `json:"org_id"`
	ToOrgID     string `json:"to_org"`
	Mode        string `json:"mode"`
	Status      string `json:"status"` // running, completed, partial (stopped by its link: see MoveTransferBatch)
	Total       int    `json:"total"`
	Transferred int    `json:"transferred"`
	FailedCount int    `json:"failed_count"`
	// Failed is for the sending org only: nil, and left out, for the
	// receiving org.
	Failed      []TransferFailure `json:"failed,omitzero"`
	CreatedAt   time.Time         `json:"created_at"`
	CompletedAt *time.Time        `json:"completed_at"`
}

// LinkedOrgs reads what the direction rules need of the sending and the
// receiving org, and of the master of their link. found is false when
// either org does not exist.
func (s *Store) LinkedOrgs(ctx context.Context, from, to string) (f, t, parent domain.LinkedOrg, found bool, err error) {
	read := func(id string) (domain.LinkedOrg, error) {
		o := domain.LinkedOrg{ID: id}
		var p *string
		err := s.db.QueryRow(ctx, `SELECT parent_id, handover_enabled, cross_silo FROM orgs WHERE id = $1`, id).
			Scan(&p, &o.HandoverEnabled, &o.CrossSilo)
		o.ParentID = deref(p)
		return o, err
	}
	if f, err = read(from); err == nil {
		t, err = read(to)
	}
	if err == pgx.ErrNoRows {
		return f, t, parent, false, nil
	}
	if err != nil {
		return f, t, parent, false, err
	}
	switch domain.Direction(f, t) {
	case domain.DirectionDown:
		parent = f
	case domain.DirectionUp:
		parent = t
	case domain.DirectionSibling:
		parent, err = read(f.ParentID)
	}
	return f, t, parent, true, err
}

// CreateTransfer records a transfer and its leads, in request order, in one
// transaction. With an idempotency key already used by the org, it returns
// the first transfer (created false) and records nothing; the same key with
// another request is a conflict.
func (s *Store) CreateTransfer(ctx context.Context, n NewTransfer) (Transfer, bool, error) {
	t := Transfer{ID: n.ID, OrgID: n.OrgID, ToOrgID: n.ToOrgID, Mode: n.Mode, WorkflowID: n.WorkflowID, Total: len(n.LeadIDs)}
	created := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var key *string
		if n.IdempotencyKey != "" {
			key = &n.IdempotencyKey
		}
		if n.MaxRunning > 0 {
			// One creator at a time per org, so two requests cannot both see
			// room for one more; released at commit or rollback.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('transfers:' || $1::text, 0))`, n.OrgID); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `INSERT INTO transfers (id, org_id, to_org_id, mode, requested_by, idempotency_key, request_hash, workflow_id, total)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (org_id, idempotency_key) DO NOTHING`,
			n.ID, n.OrgID, n.ToOrgID, n.Mode, n.RequestedBy, key, n.RequestHash, n.WorkflowID, len(n.LeadIDs))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var hash []byte
			err := tx.QueryRow(ctx, `SELECT id, to_org_id, mode, workflow_id, total, request_hash FROM transfers
				WHERE org_id = $1 AND idempotency_key = $2`, n.OrgID, n.IdempotencyKey).
				Scan(&t.ID, &t.ToOrgID, &t.Mode, &t.WorkflowID, &t.Total, &hash)
			if err != nil {
				return err
			}
			if string(hash) != string(n.RequestHash) {
				return domain.Errorf(domain.EConflict, "this Idempotency-Key was used for another transfer request")
			}
			return nil
		}
		if n.MaxRunning > 0 {
			var running int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM transfers WHERE org_id = $1 AND status = 'running'`, n.OrgID).Scan(&running); err != nil {
				return err
			}
			if running > n.MaxRunning {
				return ErrTooManyTransfers
			}
		}
		created = true
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"transfer_items"}, []string{"transfer_id", "seq", "lead_id"},
			pgx.CopyFromSlice(len(n.LeadIDs), func(i int) ([]any, error) { return []any{n.ID, i, n.LeadIDs[i]}, nil }))
		return err
	})
	return t, created, err
}

// TransferBatch names the slice [Index*Size, (Index+1)*Size) of a
// transfer's leads, in request order.
type TransferBatch struct {
	TransferID  string
	Index, Size int
}

func (b TransferBatch) bounds() (lo, hi int) { return b.Index * b.Size, (b.Index + 1) * b.Size }

// BatchOutcome counts what happened to a batch's leads.
type BatchOutcome struct {
	Moved, Failed int
	TeamMembers   int // moved team members: each owes the receiving org a retention update
	// NewlyMoved and NewlyFailed are what this call decided (0 and 0 for a
	// batch run again after its commit), so the metrics count each lead once.
	NewlyMoved, NewlyFailed int
}

// movable is a lead of a batch as the move reads it, locked.
type movable struct {
	seq                  int
	id                   string
	found                bool
	orgID, kind, status  string
	owner, assigned, loc *string
	routed, handover     bool
}

// MoveTransferBatch moves one batch of a transfer's leads in one
// transaction (SPEC §5.3): each lead keeps its id, timeline, notes,
// attributes and labels (created in the receiving org where missing), loses
// its campaigns, subscriptions and triggers, gets a timeline event naming the
// sending org and previous owner, puts an event in both orgs' sales feeds and
// counts for the receiving org's digest; a team member arrives as
// onboarding instead. A lead that cannot move is recorded failed with its
// reason and the others go on. Every batch first re-checks the orgs' link
// and the master's settings (lockLink): once they no longer carry the
// transfer, the batch's leads and every later batch's fail with the reason
// and the transfer ends partial. Run again after it committed, it changes
// nothing and returns the same outcome, so an activity retry never moves a
// lead twice.
func (s *Store) MoveTransferBatch(ctx context.Context, b TransferBatch) (BatchOutcome, error) {
	var out BatchOutcome
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		t, err := transferForMove(ctx, tx, b.TransferID)
		if err != nil {
			return err
		}
		stop := t.stopped
		if stop == "" {
			problem, err := t.lockLink(ctx, tx)
			if err != nil {
				return err
			}
			stop = problem.StopReason()
		}
		leads, err := lockBatch(ctx, tx, b)
		if err != nil {
			return err
		}
		if stop != "" && t.stopped == "" && len(leads) > 0 {
			// Recorded only when it fails a lead: a batch run again after
			// its commit moved everything it had and stops nothing.
			if _, err := tx.Exec(ctx, `UPDATE transfers SET stopped = $2 WHERE id = $1 AND stopped IS NULL`, t.id, stop); err != nil {
				return err
			}
		}
		var move []movable
		var failSeq []int
		var failWhy []string
		for _, l := range leads {
			why := stop
			if why == "" {
				why = l.refusal(t)
			}
			if why != "" {
				failSeq, failWhy = append(failSeq, l.seq), append(failWhy, why)
				continue
			}
			move = append(move, l)
		}
		if len(move) > 0 {
			if err := t.move(ctx, tx, move); err != nil {
				return err
			}
		}
		if len(failSeq) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE transfer_items i SET status = 'failed', error = u.e
				FROM unnest($2::int[], $3::text[]) AS u(seq, e) WHERE i.transfer_id = $1 AND i.seq = u.seq`,
				b.TransferID, failSeq, failWhy); err != nil {
				return err
			}
		}
		out.NewlyMoved, out.NewlyFailed = len(move), len(failSeq)
		lo, hi := b.bounds()
		return tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE i.status = 'moved'), count(*) FILTER (WHERE i.status = 'failed'),
				count(*) FILTER (WHERE i.status = 'moved' AND l.kind = 'team_member')
			FROM transfer_items i LEFT JOIN leads l ON l.id = i.lead_id
			WHERE i.transfer_id = $1 AND i.seq >= $2 AND i.seq < $3`, b.TransferID, lo, hi).
			Scan(&out.Moved, &out.Failed, &out.TeamMembers)
	})
	return out, err
}

// transferMove is what moving a batch reads of its transfer.
type transferMove struct {
	id, from, to, actor string
	mode                domain.TransferMode
	fromName, toName    string
	stopped             string // why an earlier batch found the link no longer carries it, or ""
}

func transferForMove(ctx context.Context, tx pgx.Tx, id string) (transferMove, error) {
	t := transferMove{id: id}
	err := tx.QueryRow(ctx, `SELECT t.org_id, t.to_org_id, t.mode, t.requested_by, f.name, o.name, coalesce(t.stopped, '')
		FROM transfers t JOIN orgs f ON f.id = t.org_id JOIN orgs o ON o.id = t.to_org_id WHERE t.id = $1`, id).
		Scan(&t.from, &t.to, &t.mode, &t.actor, &t.fromName, &t.toName, &t.stopped)
	return t, notFound(err, "transfer")
}

// lockLink re-checks, for this batch, what the request was checked against
// (domain.CheckLink, as the API's domain.CheckTransfer): the link between
// the orgs and the master's cross_silo and handover_enabled. It locks the
// rows it reads — the sending org, the receiving org, the master — before
// any lead, in id order, so an unlink or a settings change either waits for
// this batch to commit or is what this batch reads: no lead moves after
// the link stopped carrying the transfer, whether the batch runs minutes
// later or when the reconciler restarts the run hours later. The rows are
// shared (concurrent batches between the same orgs go on side by side),
// except a staff_evenly batch's receiving org, taken FOR UPDATE here for
// its rotation counter: upgrading a shared lock that two batches hold
// would deadlock them.
func (t transferMove) lockLink(ctx context.Context, tx pgx.Tx) (domain.LinkProblem, error) {
	var parent *string
	if err := tx.QueryRow(ctx, `SELECT parent_id FROM orgs WHERE id = $1`, t.from).Scan(&parent); err != nil {
		return domain.LinkNone, err
	}
	ids := []string{t.from, t.to}
	if p := deref(parent); p != "" && p != t.to {
		ids = append(ids, p)
	}
	slices.Sort(ids)
	orgs := make(map[string]domain.LinkedOrg, len(ids)+1)
	lock := func(id string) error {
		mode := "FOR SHARE"
		if id == t.to && t.mode == domain.TransferStaffEvenly {
			mode = "FOR UPDATE"
		}
		o := domain.LinkedOrg{ID: id}
		var p *string
		err := tx.QueryRow(ctx, `SELECT parent_id, handover_enabled, cross_silo FROM orgs WHERE id = $1 `+mode, id).
			Scan(&p, &o.HandoverEnabled, &o.CrossSilo)
		o.ParentID = deref(p)
		orgs[id] = o
		return err
	}
	for _, id := range ids {
		if err := lock(id); err != nil {
			return domain.LinkNone, err
		}
	}
	from, to := orgs[t.from], orgs[t.to]
	if p := from.ParentID; p != "" {
		if _, ok := orgs[p]; !ok {
			// Relinked to another master between the first read and the
			// locks: rare enough that taking this one out of order (a
			// deadlock PostgreSQL breaks, and the activity retries) is fine.
			if err := lock(p); err != nil {
				return domain.LinkNone, err
			}
		}
	}
	dir := domain.Direction(from, to)
	var master domain.LinkedOrg
	switch dir {
	case domain.DirectionDown:
		master = from
	case domain.DirectionUp:
		master = to
	case domain.DirectionSibling:
		master = orgs[from.ParentID]
	}
	return domain.CheckLink(dir, master, t.mode), nil
}

// A batch's pending items ($1: the transfer, seq in [$2, $3)), then their
// leads ($1), locked.
const (
	batchItemsSQL = `SELECT seq, lead_id FROM transfer_items
	WHERE transfer_id = $1 AND seq >= $2 AND seq < $3 AND status = 'pending' ORDER BY seq FOR UPDATE`
	batchLeadsSQL = `SELECT l.id, l.org_id, l.kind, l.status, l.owner_user_id, l.assigned_to, l.location, l.routed_at IS NOT NULL,
		` + pendingHandoverSQL + `
	FROM leads l WHERE l.id = ANY($1) ORDER BY l.id FOR UPDATE`
)

// lockBatch reads the batch's pending items and their leads FOR UPDATE,
// leads in id order, so a batch and a routing transaction (or another
// transfer) lock them in one order and never deadlock.
func lockBatch(ctx context.Context, tx pgx.Tx, b TransferBatch) ([]movable, error) {
	lo, hi := b.bounds()
	rows, err := tx.Query(ctx, batchItemsSQL, b.TransferID, lo, hi)
	if err != nil {
		return nil, err
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (movable, error) {
		var m movable
		return m, r.Scan(&m.seq, &m.id)
	})
	if err != nil || len(items) == 0 {
		return nil, err
	}
	ids := make([]string, len(items))
	for i, m := range items {
		ids[i] = m.id
	}
	rows, err = tx.Query(ctx, batchLeadsSQL, ids)
	if err != nil {
		return nil, err
	}
	found := map[string]movable{}
	for rows.Next() {
		var m movable
		if err := rows.Scan(&m.id, &m.orgID, &m.kind, &m.status, &m.owner, &m.assigned, &m.loc, &m.routed, &m.handover); err != nil {
			rows.Close()
			return nil, err
		}
		m.found = true
		found[m.id] = m
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i, it := range items {
		if m, ok := found[it.id]; ok {
			m.seq = it.seq
			items[i] = m
		}
	}
	return items, nil
}

// refusal says why a lead cannot move, or "". A lead held elsewhere reads
// as not found: the request names no other org's lead.
func (l movable) refusal(t transferMove) string {
	switch {
	case !l.found || l.orgID != t.from:
		return "lead not found in the sending org"
	case l.owner != nil:
		return "agent-owned: only its owner may move it (transfer-ownership back to the org first)"
	case l.handover:
		return "waiting for a handover decision"
	case l.status == domain.StatusReturned:
		return "returned to its vendor"
	case !l.routed:
		return "still being routed at the sending org: try again in a moment"
	}
	return ""
}

// moveLeadsSQL hands the leads $3 to org $1, each to its assignee of $4
// (nil: nobody), in location $2.
const moveLeadsSQL = `UPDATE leads l SET org_id = $1, status = CASE WHEN l.kind = 'team_member' THEN 'onboarding' ELSE 'new' END,
		owner_user_id = NULL, assigned_to = u.a, location = $2, available_at = NULL, updated_at = now()
	FROM unnest($3::uuid[], $4::uuid[]) AS u(id, a) WHERE l.id = u.id`

// move moves the locked leads: assignment per mode, then everything that
// travels with them, each as one statement for the whole batch.
func (t transferMove) move(ctx context.Context, tx pgx.Tx, leads []movable) error {
	ids := make([]string, len(leads))
	seqs := make([]int, len(leads))
	for i, l := range leads {
		ids[i], seqs[i] = l.id, l.seq
	}
	assignees, err := t.assignees(ctx, tx, len(leads))
	if err != nil {
		return err
	}
	var loc *string
	if t.mode == domain.TransferManagerReview {
		loc = ptr(domain.LocationPending)
		if err := t.holdForHandover(ctx, tx, leads); err != nil {
			return err
		}
	}
	// The timeline event reads the lead before the move: previous owner and
	// assignee. Movable leads are team-owned, so the previous owner is the
	// sending org.
	if _, err := tx.Exec(ctx, `INSERT INTO timeline_events (lead_id, org_id, kind, actor, message, data)
		SELECT l.id, $2::uuid, 'transferred', $3,
			format('transferred from %s to %s (%s) by transfer %s; previous owner: %s (team)%s%s', $4::text, $5::text, $6::text, $7::text, $4::text,
				coalesce('; was assigned to ' || pa.name, ''),
				CASE WHEN $6 = 'manager_review' THEN '; waiting for a manager''s review' ELSE '; now assigned to ' || coalesce(na.name, '?') END),
			jsonb_build_object('transfer_id', $7::text, 'from_org', $1::uuid::text, 'to_org', $2::uuid::text, 'previous_owner', jsonb_build_object('type', 'org', 'id', $1::uuid::text),
				'previous_assignee', l.assigned_to, 'assigned_to', u.a)
		FROM unnest($8::uuid[], $9::uuid[]) WITH ORDINALITY AS u(id, a, n)
		JOIN leads l ON l.id = u.id LEFT JOIN users pa ON pa.id = l.assigned_to LEFT JOIN users na ON na.id = u.a
		ORDER BY u.n`, t.from, t.to, t.actor, t.fromName, t.toName, string(t.mode), t.id, ids, assignees); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, moveLeadsSQL, t.to, loc, ids, assignees); err != nil {
		return err
	}
	if err := moveLabels(ctx, tx, t.to, ids); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM lead_automations WHERE lead_id = ANY($1)`, ids); err != nil {
		return err
	}
	out, in := "transfer_out", "transfer_in"
	if t.mode == domain.TransferManagerReview {
		out, in = "handover_sent", "handover_received"
	}
	if _, err := tx.Exec(ctx, `INSERT INTO feed_events (org_id, kind, lead_id, other_org_id, transfer_id, actor, message)
		SELECT $1::uuid, $3::text, id, $2::uuid, $5::uuid, $6::text, format('%s sent to %s', coalesce(nullif(trim(l.first_name || ' ' || l.last_name), ''), l.external_id), $8::text) FROM unnest($7::uuid[]) AS u(id) JOIN leads l USING (id)
		UNION ALL
		SELECT $2::uuid, $4::text, id, $1::uuid, $5::uuid, $6::text, format('%s received from %s', coalesce(nullif(trim(l.first_name || ' ' || l.last_name), ''), l.external_id), $9::text) FROM unnest($7::uuid[]) AS u(id) JOIN leads l USING (id)`,
		t.from, t.to, out, in, t.id, t.actor, ids, t.toName, t.fromName); err != nil {
		return err
	}
	if t.mode != domain.TransferManagerReview {
		// A handed-over lead arrives when a manager accepts it.
		if _, err := tx.Exec(ctx, `INSERT INTO lead_arrivals (org_id, lead_id, transfer_id)
			SELECT $1, id, $2 FROM leads WHERE id = ANY($3) AND kind <> 'team_member' ON CONFLICT DO NOTHING`, t.to, t.id, ids); err != nil {
			return err
		}
	}
	_, err = tx.Exec(ctx, `UPDATE transfer_items SET status = 'moved' WHERE transfer_id = $1 AND seq = ANY($2)`, t.id, seqs)
	return err
}

// assignees is who each of n moved leads is assigned to, by mode: the
// receiving org's owner; its rotating staff in a stable order, continuing
// the org's transfer rotation (no staff: the owner); or no one (handover).
func (t transferMove) assignees(ctx context.Context, tx pgx.Tx, n int) ([]*string, error) {
	out := make([]*string, n)
	if t.mode == domain.TransferManagerReview {
		return out, nil
	}
	var owner string
	if err := tx.QueryRow(ctx, `SELECT id FROM users WHERE org_id = $1 AND role = 'owner'`, t.to).Scan(&owner); err != nil {
		return nil, fmt.Errorf("org %s has no owner: %w", t.to, err)
	}
	var staff []string
	var seq int64
	if t.mode == domain.TransferStaffEvenly {
		// The org row lock (taken by lockLink) serialises transfers into
		// one org, so concurrent batches continue one rotation instead of
		// each starting over.
		if err := tx.QueryRow(ctx, `SELECT transfer_rotation_seq FROM orgs WHERE id = $1 FOR UPDATE`, t.to).Scan(&seq); err != nil {
			return nil, err
		}
		rows, err := tx.Query(ctx, `SELECT id FROM users WHERE org_id = $1 AND active AND role = ANY($2) ORDER BY created_at, id`,
			t.to, domain.RotatingRoles)
		if err != nil {
			return nil, err
		}
		if staff, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `UPDATE orgs SET transfer_rotation_seq = transfer_rotation_seq + $2 WHERE id = $1`, t.to, n); err != nil {
			return nil, err
		}
	}
	for i := range out {
		a := owner
		if len(staff) > 0 {
			a = staff[(seq+int64(i))%int64(len(staff))]
		}
		out[i] = &a
	}
	return out, nil
}

// holdForHandover records what a rejection restores: the sender's
// assignment and location.
func (t transferMove) holdForHandover(ctx context.Context, tx pgx.Tx, leads []movable) error {
	ids := make([]string, len(leads))
	assigned := make([]*string, len(leads))
	loc := make([]*string, len(leads))
	for i, l := range leads {
		ids[i], assigned[i], loc[i] = l.id, l.assigned, l.loc
	}
	_, err := tx.Exec(ctx, `INSERT INTO handovers (lead_id, transfer_id, from_org_id, to_org_id, prev_assigned_to, prev_location)
		SELECT u.id, $1, $2, $3, u.a, u.loc FROM unnest($4::uuid[], $5::uuid[], $6::text[]) AS u(id, a, loc)
		ON CONFLICT DO NOTHING`, t.id, t.from, t.to, ids, assigned, loc)
	return err
}

// moveLabels gives the moved leads the receiving org's labels of the same
// names, creating the missing ones (in name order, as attachLabels does, so
// concurrent writers never deadlock), and drops the sending org's.
func moveLabels(ctx context.Context, tx pgx.Tx, to string, ids []string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO labels (org_id, name)
		SELECT $1, name FROM (SELECT DISTINCT b.name FROM lead_labels ll JOIN labels b ON b.id = ll.label_id
			WHERE ll.lead_id = ANY($2) AND b.org_id <> $1) x ORDER BY name
		ON CONFLICT (org_id, name) DO NOTHING`, to, ids); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO lead_labels (lead_id, label_id)
		SELECT ll.lead_id, nb.id FROM lead_labels ll JOIN labels b ON b.id = ll.label_id JOIN labels nb ON nb.org_id = $1 AND nb.name = b.name
		WHERE ll.lead_id = ANY($2) AND b.org_id <> $1 ON CONFLICT DO NOTHING`, to, ids); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `DELETE FROM lead_labels ll USING labels b WHERE b.id = ll.label_id AND ll.lead_id = ANY($2) AND b.org_id <> $1`, to, ids)
	return err
}

// BatchLeads lists the leads a batch moved, with their kind: the handovers
// to start, the team members to announce.
func (s *Store) BatchLeads(ctx context.Context, b TransferBatch) (ids []string, teamMembers []string, err error) {
	lo, hi := b.bounds()
	rows, err := s.db.Query(ctx, `SELECT i.lead_id, l.kind = 'team_member' FROM transfer_items i JOIN leads l ON l.id = i.lead_id
		WHERE i.transfer_id = $1 AND i.seq >= $2 AND i.seq < $3 AND i.status = 'moved' ORDER BY i.seq`, b.TransferID, lo, hi)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var tm bool
		if err := rows.Scan(&id, &tm); err != nil {
			return nil, nil, err
		}
		ids = append(ids, id)
		if tm {
			teamMembers = append(teamMembers, id)
		}
	}
	return ids, teamMembers, rows.Err()
}

// FinishTransfer marks a transfer done (once): partial when its link
// stopped it, completed otherwise.
func (s *Store) FinishTransfer(ctx context.Context, id string) error {
	_, err := s.db.Exec(ctx, `UPDATE transfers SET status = CASE WHEN stopped IS NULL THEN 'completed' ELSE 'partial' END,
		completed_at = coalesce(completed_at, now()) WHERE id = $1`, id)
	return err
}

// GetTransfer reads a transfer as orgID sees it. The sending org (and ""
// for the platform's own reads) gets every lead that failed and why; the
// receiving org gets the count only, since the reasons ("agent-owned",
// "returned to its vendor", "waiting for a handover decision") are the
// sender's business and its leads' state.
func (s *Store) GetTransfer(ctx context.Context, orgID, id string) (TransferStatus, error) {
	var t TransferStatus
	err := s.db.QueryRow(ctx, `SELECT t.id, t.workflow_id, t.org_id, t.to_org_id, t.mode, t.status, t.total, t.created_at, t.completed_at,
			c.moved, c.failed
		FROM transfers t, LATERAL (SELECT count(*) FILTER (WHERE i.status = 'moved') AS moved,
			count(*) FILTER (WHERE i.status = 'failed') AS failed FROM transfer_items i WHERE i.transfer_id = t.id) c
		WHERE t.id = $1 AND (t.org_id::text = $2 OR t.to_org_id::text = $2 OR $2 = '')`, id, orgID).
		Scan(&t.ID, &t.WorkflowID, &t.OrgID, &t.ToOrgID, &t.Mode, &t.Status, &t.Total, &t.CreatedAt, &t.CompletedAt, &t.Transferred, &t.FailedCount)
	if err != nil {
		return t, notFound(err, "transfer")
	}
	if orgID != "" && orgID != t.OrgID {
		return t, nil
	}
	rows, err := s.db.Query(ctx, `SELECT lead_id, coalesce(error, '') FROM transfer_items WHERE transfer_id = $1 AND status = 'failed' ORDER BY seq`, id)
	if err != nil {
		return t, err
	}
	t.Failed, err = pgx.CollectRows(rows, pgx.RowToStructByPos[TransferFailure])
	if t.Failed == nil {
		t.Failed = []TransferFailure{}
	}
	return t, err
}

// RunningTransfers lists transfers recorded but not completed before cutoff:
// the reconciler makes sure each has its run.
func (s *Store) RunningTransfers(ctx context.Context, cutoff time.Time, limit int) ([]Transfer, error) {
	rows, err := s.db.Query(ctx, `SELECT id, org_id, to_org_id, mode, workflow_id, total FROM transfers
		WHERE status = 'running' AND created_at < $1 ORDER BY created_at LIMIT $2`, cutoff, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Transfer])
}

// FeedEvent is one entry of an org's sales feed.
type FeedEvent struct {
	ID         int64     `json:"-"`
	At         time.Time `json:"at"`
	Kind       string    `json:"kind"` // transfer_out, transfer_in, handover_sent, handover_received, handover_accepted, handover_rejected
	LeadID     string    `json:"lead_id"`
	OtherOrgID *string   `json:"other_org_id"`
	TransferID *string   `json:"transfer_id"`
	Actor      string    `json:"actor"`
	Message    string    `json:"message"`
}

// feedPageSQL is a page of org $1's feed before id $2, $3 events, newest
// first by -id, through feed_org_page (migration 00023 says why not by id
// DESC).
const feedPageSQL = `SELECT id, at, kind, lead_id, other_org_id, transfer_id, actor, message FROM feed_events
	WHERE org_id = $1 AND -id > -$2::bigint ORDER BY -id LIMIT $3`

// Feed pages an org's sales feed, newest first; the cursor is opaque.
func (s *Store) Feed(ctx context.Context, orgID, cursor string, limit int) ([]FeedEvent, string, error) {
	before, err := beforeID(cursor)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.db.Query(ctx, feedPageSQL, orgID, before, limit+1)
	if err != nil {
		return nil, "", err
	}
	events, err := pgx.CollectRows(rows, pgx.RowToStructByPos[FeedEvent])
	if err != nil {
		return nil, "", err
	}
	events, next := idPage(events, limit, func(e FeedEvent) int64 { return e.ID })
	if events == nil {
		events = []FeedEvent{}
	}
	return events, next, nil
}

func ptr[T any](v T) *T { return &v }

// Recipient is a user an email goes to.
type Recipient struct{ ID, Email, Name string }

// RetentionNotice is what a retention update says about one moved team
// member, and to whom: the receiving org's active admins and staff.
type RetentionNotice struct {
	LeadID, MemberName, OrgID, OrgName, FromName string
	To                                           []Recipient
}

// RetentionNotices reads the retention updates a transfer owes for the team
// members it moved.
func (s *Store) RetentionNotices(ctx context.Context, transferID string, leadIDs []string) ([]RetentionNotice, error) {
	var org, orgName, fromName string
	if err := s.db.QueryRow(ctx, `SELECT t.to_org_id, o.name, f.name FROM transfers t JOIN orgs o ON o.id = t.to_org_id
		JOIN orgs f ON f.id = t.org_id WHERE t.id = $1`, transferID).Scan(&org, &orgName, &fromName); err != nil {
		return nil, notFound(err, "transfer")
	}
	rows, err := s.db.Query(ctx, `SELECT id, email, name FROM users WHERE org_id = $1 AND active AND role IN ('admin','staff') ORDER BY created_at, id`, org)
	if err != nil {
		return nil, err
	}
	to, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Recipient])
	if err != nil {
		return nil, err
	}
	rows, err = s.db.Query(ctx, `SELECT id, coalesce(nullif(trim(first_name || ' ' || last_name), ''), external_id) FROM leads
		WHERE id = ANY($1) ORDER BY id`, leadIDs)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (RetentionNotice, error) {
		n := RetentionNotice{OrgID: org, OrgName: orgName, FromName: fromName, To: to}
		return n, r.Scan(&n.LeadID, &n.MemberName)
	})
}
