package activities

import (
	"context"
	"strings"

	"github.com/leadrelay/leadrelay/internal/store"
)

// countRouting counts a hop's decision where it committed: once per
// decision (a re-read on retry counts nothing), by the source's mode
// ("none" when the org has no source for the slug) and its outcome, with
// the speed-to-lead of a lead's first placement.
func (a *Activities) countRouting(d store.Decision) {
	if d.AlreadyRouted {
		return
	}
	mode, outcome := d.Mode, d.Status()
	if mode == "" {
		mode = "none"
	}
	if d.OwnerFallback {
		outcome = "owner_fallback"
	}
	a.Metrics.LeadRouted(mode, outcome)
	if d.SpeedToLead > 0 {
		a.Metrics.SpeedToLead(d.SpeedToLead)
	}
}

// gaveUpEmail records an email given up after its retries ran out (see
// store.MarkEmailFailed) and counts it once, under the kind its key starts
// with (purchase:…, return:…). A refusal is counted where it is seen, in
// deliver.
func (a *Activities) gaveUpEmail(ctx context.Context, key, leadID, orgID, msg string) error {
	recorded, err := a.Store.MarkEmailFailed(ctx, key, leadID, orgID, msg)
	if recorded {
		kind, _, _ := strings.Cut(key, ":")
		a.Metrics.EmailFailed(kind, "gave_up")
	}
	return err
}
