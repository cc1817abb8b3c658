package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// runTransfer starts a transfer and follows it with a progress bar until it
// completes. The Idempotency-Key defaults to a digest of the request, so
// running the same command again (after Ctrl-C, say) follows the same
// transfer instead of starting another.
func runTransfer(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("transfer", flag.ContinueOnError)
	org := fs.String("org", "", "the sending org's id (required)")
	to := fs.String("to", "", "the receiving org's id (required)")
	leads := fs.String("leads", "", "lead ids, comma-separated, or @file with one id per line (required)")
	mode := fs.String("mode", "staff_evenly", "owner, staff_evenly or manager_review")
	token := fs.String("token", "", "act as this user's token (default: ADMIN_TOKEN; a handover needs a licensed user's)")
	key := fs.String("key", "", "Idempotency-Key (default: a digest of the request)")
	url := fs.String("url", "", "API base URL (default http://$HTTP_ADDR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *org == "" || *to == "" || *leads == "" {
		return errors.New("--org, --to and --leads are required")
	}
	if err := normalIDs(map[string]*string{"org": org, "to": to}); err != nil {
		return err
	}
	ids, err := leadList(*leads)
	if err != nil {
		return err
	}
	c, err := adminClient(*url)
	if err != nil {
		return err
	}
	if *token != "" {
		c = c.As(*token)
	}
	if *key == "" {
		sum := sha256.Sum256([]byte(*org + "\n" + *to + "\n" + *mode + "\n" + strings.Join(ids, ",")))
		*key = fmt.Sprintf("starter-%x", sum[:12])
	}
	t, err := c.Transfer(ctx, *org, *to, ids, *mode, *key)
	if err != nil {
		return err
	}
	if t.Duplicate {
		fmt.Fprintf(os.Stderr, "following transfer %s, started before with this request\n", t.ID)
	} else {
		fmt.Fprintf(os.Stderr, "transfer %s started: workflow %s\n", t.ID, t.WorkflowID)
	}
	bar := newBar()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := c.TransferStatus(ctx, *org, t.ID)
		if err != nil {
			bar.finish()
			return err
		}
		bar.update(st.Transferred+st.FailedCount, st.Total)
		// Done is completed, or partial: the link or the master's settings
		// changed while it ran and the rest failed with that reason.
		if st.Status != "running" {
			bar.finish()
			fmt.Printf("%s: transferred %d of %d leads; %d failed\n", st.Status, st.Transferred, st.Total, st.FailedCount)
			for i, f := range st.Failed {
				if i == 20 {
					fmt.Printf("  … and %d more (GET /v1/orgs/%s/transfers/%s)\n", len(st.Failed)-20, *org, t.ID)
					break
				}
				fmt.Printf("  %s: %s\n", f.LeadID, f.Error)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			bar.finish()
			return fmt.Errorf("stopped following; the transfer goes on: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// leadList reads "id,id,…" or "@file" (one id per line, blank lines skipped).
func leadList(arg string) ([]string, error) {
	var ids []string
	path, ok := strings.CutPrefix(arg, "@")
	if !ok {
		ids = strings.Split(arg, ",")
	} else {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if id := strings.TrimSpace(line); id != "" {
				ids = append(ids, id)
			}
		}
	}
	for i, raw := range ids {
		id, ok := domain.NormalID(strings.TrimSpace(raw))
		if !ok {
			return nil, fmt.Errorf("--leads: %q is not a lead id", raw)
		}
		ids[i] = id
	}
	return ids, nil
}
