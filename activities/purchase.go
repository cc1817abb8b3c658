package activities

import (
	"context"
	"errors"

	"go.temporal.io/sdk/activity"

	"github.com/leadrelay/leadrelay/internal/failure"
	"github.com/leadrelay/leadrelay/internal/mail"
	"github.com/leadrelay/leadrelay/internal/store"
)

// PurchaseNotice asks for one hop's purchase notifications: the addresses,
// the lead and the decision are read from PostgreSQL, so none of them is in
// Temporal's history.
type PurchaseNotice struct {
	LeadID     string `json:"lead_id"`
	OrgID      string `json:"org_id"`
	Hop        int    `json:"hop"`
	ExternalID string `json:"external_id"` // the vendor's id, shown in the subject when the lead has no name
}

// PurchaseKey is the outbox key of one hop's email to one address. The
// receiving org's hop keeps the key it always had (purchase:<lead>:<address>),
// so a lead of an older shape restarted by the reconciler never emails
// twice; each sub-agency hop adds its org, so an address notified by two
// hops gets both.
func PurchaseKey(leadID, orgID string, hop int, to string) string {
	if hop == 0 {
		return "purchase:" + leadID + ":" + to
	}
	return "purchase:" + leadID + ":" + orgID + ":" + to
}

// NotifyPurchase emails every purchase-notification address of the hop. An
// address refused for good is recorded failed on the lead's timeline and the
// others go on; an SMTP outage fails the attempt so Temporal retries it, and
// the outbox skips what already went out, so no address gets two.
func (a *Activities) NotifyPurchase(ctx context.Context, n PurchaseNotice) error {
	d, err := a.Store.RecordedDecision(ctx, store.RouteRequest{LeadID: n.LeadID, OrgID: n.OrgID, Hop: n.Hop})
	if err != nil {
		return failure.FromDomain(err)
	}
	data := map[string]string{
		"SourceName": d.SourceName, "Slug": d.Slug, "LeadName": d.LeadName, "ExternalID": n.ExternalID,
		"LeadEmail": d.LeadEmail, "LeadPhone": d.LeadPhone, "Reason": d.Reason,
		"LeadURL": a.PublicBaseURL + "/v1/leads/" + d.LeadID,
	}
	for _, to := range d.PurchaseEmails {
		e := mail.Email{Template: "purchase", Key: PurchaseKey(d.LeadID, d.OrgID, n.Hop, to), Kind: "purchase",
			To: to, OrgID: d.OrgID, LeadID: d.LeadID, Data: data}
		if _, err := a.deliverOrRecord(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// PurchaseFailure says why a hop's purchase notifications will not be sent.
type PurchaseFailure struct {
	LeadID string `json:"lead_id"`
	OrgID  string `json:"org_id"`
	Hop    int    `json:"hop"`
	Reason string `json:"reason"` // the error's own words: no address, no lead data
}

// RecordPurchaseFailure marks every purchase email of the hop that did not go
// out as failed and writes it on the lead's timeline (once per address): the
// lead was routed regardless, and whoever reads the timeline learns that the
// notification did not reach them.
func (a *Activities) RecordPurchaseFailure(ctx context.Context, f PurchaseFailure) error {
	d, err := a.Store.RecordedDecision(ctx, store.RouteRequest{LeadID: f.LeadID, OrgID: f.OrgID, Hop: f.Hop})
	if err != nil {
		return failure.FromDomain(err)
	}
	var errs []error
	for _, to := range d.PurchaseEmails {
		key := PurchaseKey(d.LeadID, d.OrgID, f.Hop, to)
		errs = append(errs, a.gaveUpEmail(ctx, key, d.LeadID, d.OrgID, "purchase email to "+to+" failed: "+f.Reason))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	activity.GetLogger(ctx).Warn("purchase emails recorded as failed", "LeadID", f.LeadID, "OrgID", f.OrgID, "Reason", f.Reason)
	return nil
}
