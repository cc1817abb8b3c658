package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/apiclient"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// BulkLeads records n routed leads of a source directly in PostgreSQL,
// assigned to assignee, each with its received and routed timeline events and
// the label "bulk": the transfer row measures moving leads, not posting them.
// It returns their ids in order.
func BulkLeads(ctx context.Context, db store.DB, orgID, sourceID, slug, prefix, assignee string, n int) ([]string, error) {
	var ids []string
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `INSERT INTO leads (org_id, intake_org_id, source_id, source_slug, external_id, first_name, last_name,
				email, company, attributes, workflow_id, routed_at, assigned_to)
			SELECT $1, $1, $2, $3, $4 || g, 'Bulk', 'Lead ' || g, 'bulk' || g || '@example.com', 'Acme', '{"vehicle":"2019 Civic"}',
				'lead/bulk', now(), $5
			FROM generate_series(1, $6) g ORDER BY g RETURNING id`, orgID, sourceID, slug, prefix, assignee, n)
		if err != nil {
			return err
		}
		if ids, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		// Seeded as assigned long ago: their assignee was never told, so
		// the instant alerts the insert recorded are not owed.
		if _, err := tx.Exec(ctx, `DELETE FROM alerts WHERE lead_id = ANY($1::uuid[])`, ids); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO timeline_events (lead_id, org_id, kind, actor, message)
			SELECT id, $1, k, 'bench', k || ' (bulk)' FROM unnest($2::uuid[]) AS id, unnest(ARRAY['received','routed']) AS k`, orgID, ids); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO labels (org_id, name) VALUES ($1, 'bulk') ON CONFLICT DO NOTHING`, orgID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO lead_labels (lead_id, label_id)
			SELECT id, (SELECT id FROM labels WHERE org_id = $1 AND name = 'bulk') FROM unnest($2::uuid[]) AS id`, orgID, ids)
		return err
	})
	return ids, err
}

// transfer measures one transfer of o.TransferLeads leads from a master to a
// sub-agency (moveLeads).
func transfer(ctx context.Context, o Options, run string, r *Result) error {
	r.TransferN = o.TransferLeads
	master, owner, err := orgWithStaff(ctx, o.client(), "transfer master "+run, 0)
	if err != nil {
		return err
	}
	r.TransferRate, r.TransferHistory, err = moveLeads(ctx, o, owner, master, run, o.TransferLeads)
	return err
}

// moveLeads seeds n leads in master and moves them by one transfer to a new
// sub-agency with five staff (staff_evenly): leads/s from the request to the
// run's end, and the events in its run.
func moveLeads(ctx context.Context, o Options, owner *apiclient.Client, master apiclient.NewOrg, run string, n int) (rate float64, history int64, err error) {
	sub, _, err := orgWithStaff(ctx, o.client(), "transfer sub "+run, 5)
	if err != nil {
		return 0, 0, err
	}
	if err := store.New(o.DB).LinkOrgs(ctx, master.ID, sub.ID); err != nil {
		return 0, 0, err
	}
	// The row measures moving leads: an instant alert per moved lead would
	// be as many runs again beside the transfer's, so the sub's staff have
	// alerts off.
	if err := alertsOff(ctx, o.DB, sub.ID); err != nil {
		return 0, 0, err
	}
	src, err := owner.PutSource(ctx, master.ID, "moving", map[string]any{"name": "Moving", "routing": map[string]string{"mode": "owner"}})
	if err != nil {
		return 0, 0, err
	}
	ids, err := BulkLeads(ctx, o.DB, master.ID, src.ID, "moving", "bench-"+run+"-", master.Owner.ID, n)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	t, err := owner.Transfer(ctx, master.ID, sub.ID, ids, "staff_evenly", "bench-"+run)
	if err != nil {
		return 0, 0, err
	}
	var p workflows.TransferProgress
	if err := o.Temporal.GetWorkflow(ctx, t.WorkflowID, "").Get(ctx, &p); err != nil {
		return 0, 0, err
	}
	rate = float64(p.Transferred) / time.Since(start).Seconds()
	if p.Transferred != n {
		return rate, 0, fmt.Errorf("transfer moved %d of %d leads (%d failed)", p.Transferred, n, p.Failed)
	}
	d, err := o.Temporal.DescribeWorkflowExecution(ctx, t.WorkflowID, "")
	if err != nil {
		return rate, 0, err
	}
	return rate, d.WorkflowExecutionInfo.GetHistoryLength(), nil
}
