package bench

import (
	"context"
	"fmt"
	"sync"

	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// fanOut measures a master passing leads down to o.FanOutSubs sub-agencies,
// each rotating them over two staff of its own: one parent and one child run
// per lead. The links are made directly in Postgres; the invitation flow is
// not what is measured.
func fanOut(ctx context.Context, o Options, run string, r *Result) error {
	r.FanOutN, r.FanOutSubs = o.FanOutLeads, o.FanOutSubs
	admin := o.client()
	master, _, err := orgWithStaff(ctx, admin, "fan master "+run, 0)
	if err != nil {
		return err
	}
	subs := make([]string, o.FanOutSubs)
	for i := range subs {
		sub, owner, err := orgWithStaff(ctx, admin, fmt.Sprintf("fan sub %d %s", i, run), 2)
		if err != nil {
			return err
		}
		if !o.Alerts {
			if err := alertsOff(ctx, o.DB, sub.ID); err != nil {
				return err
			}
		}
		if _, err := owner.PutSource(ctx, sub.ID, "fan", map[string]any{"name": "Fan", "routing": map[string]string{"mode": "staff_evenly"}}); err != nil {
			return err
		}
		if err := store.New(o.DB).LinkOrgs(ctx, master.ID, sub.ID); err != nil {
			return err
		}
		subs[i] = sub.ID
	}
	src, err := admin.As(master.Owner.Token).PutSource(ctx, master.ID, "fan", map[string]any{"name": "Fan",
		"routing": map[string]any{"mode": "sub_agencies_evenly", "sub_agencies": subs}})
	if err != nil {
		return err
	}
	t := &tenant{api: admin}
	t.keys, t.sourceIDs = []string{src.APIKey}, []string{src.ID}
	p, err := t.post(ctx, o, "f", o.FanOutLeads, 0, &r.RateLimited)
	if err != nil {
		return err
	}
	r.FanOutRate = p.rate
	holders, err := leadHolders(ctx, o.DB, src.ID)
	if err != nil {
		return err
	}
	per := map[string]int{}
	var ids []string
	for id, h := range holders {
		per[h]++
		ids = append(ids, workflows.LeadWorkflowID(id), workflows.HopWorkflowID(id, h))
	}
	lo, hi := o.FanOutLeads, 0
	for _, s := range subs {
		lo, hi = min(lo, per[s]), max(hi, per[s])
	}
	r.FanOutSpread = hi - lo
	var mu sync.Mutex
	return parallel(len(ids), 16, func(i int) error {
		d, err := o.Temporal.DescribeWorkflowExecution(ctx, ids[i], "")
		if err != nil {
			return fmt.Errorf("describe %s: %w", ids[i], err)
		}
		mu.Lock()
		r.MaxHistory = max(r.MaxHistory, d.WorkflowExecutionInfo.GetHistoryLength())
		mu.Unlock()
		return nil
	})
}
