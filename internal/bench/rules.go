package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/apiclient"
)

// Sizes of the rules row (issue 18's Standards): rules that never match
// the bench's leads ahead of a default rotating over a weighted group.
const (
	RulesNeverMatching = 49
	RulesGroupSize     = 200
	// RulesGoal bounds the rules source's speed-to-lead p99 against the
	// plain rotation's, measured side by side.
	RulesGoal = 1.2
)

// rulesRow measures the cost of rules: one org of RulesGroupSize staff
// with two sources, "plain" (staff_evenly over the staff) and "rules"
// (RulesNeverMatching rules the bench's leads never match, then a default
// rotating over a group of the same staff at weights 1 to 3). The leads
// alternate between the two sources at o.RulesRate, so both see the same
// load at the same moments and their percentiles compare like with like.
func rulesRow(ctx context.Context, o Options, run string, r *Result) error {
	admin := o.client()
	org, owner, err := orgWithStaff(ctx, admin, "bench rules "+run, RulesGroupSize)
	if err != nil {
		return err
	}
	users, err := staffIDs(ctx, o, org.ID)
	if err != nil {
		return err
	}
	members := make([]map[string]any, len(users))
	for i, id := range users {
		members[i] = map[string]any{"user_id": id, "weight": 1 + i%3}
	}
	if err := putGroup(ctx, owner, org.ID, "bench", members); err != nil {
		return err
	}
	plain, err := owner.PutSource(ctx, org.ID, "plain", map[string]any{"name": "Plain", "routing": map[string]string{"mode": "staff_evenly"}})
	if err != nil {
		return err
	}
	rules := make([]map[string]any, RulesNeverMatching)
	for i := range rules {
		// The bench's leads carry no address: no state rule matches, so
		// every lead is tested against all of them before the default.
		rules[i] = map[string]any{"name": fmt.Sprintf("never %d", i), "when": map[string]any{"state": []string{fmt.Sprintf("S%02d", i)}},
			"routing": map[string]any{"mode": "owner"}}
	}
	ruled, err := owner.PutSource(ctx, org.ID, "rules", map[string]any{"name": "Rules", "rules": rules,
		"routing": map[string]any{"mode": "group", "group": "bench"}})
	if err != nil {
		return err
	}
	t := &tenant{api: admin, keys: []string{plain.APIKey, ruled.APIKey}, sourceIDs: []string{plain.ID, ruled.ID}}
	o.logf("rules: %d leads at %.1f/s, alternating a plain rotation and %d rules before a %d-member weighted group…",
		o.RulesLeads, o.RulesRate, RulesNeverMatching, RulesGroupSize)
	p, err := t.post(ctx, o, "r", o.RulesLeads, o.RulesRate, &r.RateLimited)
	if err != nil {
		return err
	}
	// post sends lead i with key i % 2: even leads are plain, odd are rules.
	var plainSTL, rulesSTL []time.Duration
	for i, d := range p.stl {
		if i%2 == 0 {
			plainSTL = append(plainSTL, d)
		} else {
			rulesSTL = append(rulesSTL, d)
		}
	}
	r.RulesN, r.RulesRate = o.RulesLeads, o.RulesRate
	r.PlainSTLp50, r.PlainSTLp99 = pct(plainSTL, 50), pct(plainSTL, 99)
	r.RulesSTLp50, r.RulesSTLp99 = pct(rulesSTL, 50), pct(rulesSTL, 99)
	return nil
}

// staffIDs lists the org's staff users, oldest first.
func staffIDs(ctx context.Context, o Options, orgID string) ([]string, error) {
	rows, err := o.DB.Query(ctx, `SELECT id::text FROM users WHERE org_id = $1 AND role = 'staff' ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// putGroup creates a group through the API (PUT /v1/orgs/{org}/groups/{name}).
func putGroup(ctx context.Context, c *apiclient.Client, org, name string, members []map[string]any) error {
	return sendJSON(ctx, c, "PUT", "/v1/orgs/"+org+"/groups/"+name, map[string]any{"members": members})
}

// sendJSON sends body to the API as c and wants a 200 or 201: for the
// routes apiclient has no method for.
func sendJSON(ctx context.Context, c *apiclient.Client, method, path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
		var e bytes.Buffer
		_, _ = e.ReadFrom(res.Body) // for the message only
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, e.String())
	}
	return nil
}
