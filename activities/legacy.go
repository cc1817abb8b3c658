package activities

import (
	"context"

	"go.temporal.io/sdk/activity"

	"github.com/leadrelay/leadrelay/internal/mail"
)

// This file holds the activities only runs started on old shapes call:
// RouteLead and RecordEmailFailure the lead's shapes 0 and 1
// (workflows/lead_legacy.go), SendEmail those and the invitation's first
// shape too (the DefaultVersion branch of confirmation-by-id in
// workflows/invitation.go). Their requests and results carry a lead's or a
// person's data and addresses into the history, which is why no new run
// calls them. They stay registered, unchanged, while a run of those shapes
// may be open, and are deleted with the shapes and their fixture sets;
// SendEmail last, once no invitation of the first shape can be open either
// (docs/versioning.md).

// LegacyDecision is a hop's decision as the first shapes recorded it, lead
// data included: the JSON of store.Decision on 2026-11-29, frozen here so a
// change to the store cannot change what those runs read back.
type LegacyDecision struct {
	LeadID         string   `json:"lead_id"`
	OrgID          string   `json:"org_id"`
	Location       string   `json:"location,omitempty"`
	AssignedTo     string   `json:"assigned_to,omitempty"`
	AssigneeName   string   `json:"assignee_name,omitempty"`
	FanOutTo       string   `json:"fan_out_to,omitempty"`
	Reason         string   `json:"reason"`
	AlreadyRouted  bool     `json:"already_routed,omitempty"`
	SourceName     string   `json:"source_name"`
	Slug           string   `json:"slug"`
	PurchaseEmails []string `json:"purchase_emails,omitempty"`
	LeadName       string   `json:"lead_name"`
	LeadEmail      string   `json:"lead_email,omitempty"`
	LeadPhone      string   `json:"lead_phone,omitempty"`
}

// RouteLead is Route for the first shapes, which read the lead's data from
// the decision to write their emails.
func (a *Activities) RouteLead(ctx context.Context, in RouteInput) (LegacyDecision, error) {
	d, err := a.route(ctx, in)
	if err != nil {
		return LegacyDecision{}, err
	}
	return LegacyDecision{LeadID: d.LeadID, OrgID: d.OrgID, Location: d.Location, AssignedTo: d.AssignedTo,
		AssigneeName: d.AssigneeName, FanOutTo: d.FanOutTo, Reason: d.Reason, AlreadyRouted: d.AlreadyRouted,
		SourceName: d.SourceName, Slug: d.Slug, PurchaseEmails: d.PurchaseEmails, LeadName: d.LeadName,
		LeadEmail: d.LeadEmail, LeadPhone: d.LeadPhone}, nil
}

// Email asks for one templated email to one recipient, everything in the
// request: what the first shapes scheduled.
type Email struct {
	Template string // templates/<name>.txt and .html in internal/mail
	Key      string // unique business key: the same key is never sent twice
	Kind     string // purchase, invitation, confirmation, ...
	To       string
	OrgID    string
	LeadID   string
	Data     map[string]string // template fields; LeadURL is added for an email about a lead
}

// SendEmail sends one email through the outbox (see deliver).
func (a *Activities) SendEmail(ctx context.Context, e Email) error {
	if e.LeadID != "" {
		// Links come from this worker's PUBLIC_BASE_URL, as in every email.
		data := map[string]string{"LeadURL": a.PublicBaseURL + "/v1/leads/" + e.LeadID}
		for k, v := range e.Data {
			data[k] = v
		}
		e.Data = data
	}
	return a.deliver(ctx, mail.Email{Template: e.Template, Key: e.Key, Kind: e.Kind, To: e.To,
		OrgID: e.OrgID, LeadID: e.LeadID, Data: e.Data})
}

// EmailFailure names an email that will not be sent, and why.
type EmailFailure struct {
	Key, Kind, To, OrgID, LeadID string
	Reason                       string
}

// RecordEmailFailure marks one email failed for good and writes it on the
// lead's timeline.
func (a *Activities) RecordEmailFailure(ctx context.Context, f EmailFailure) error {
	msg := f.Kind + " email to " + f.To + " failed: " + f.Reason
	if err := a.Store.RecordEmailFailure(ctx, f.Key, f.LeadID, f.OrgID, msg); err != nil {
		return err
	}
	activity.GetLogger(ctx).Warn("email recorded as failed", "Key", f.Key, "LeadID", f.LeadID, "Reason", f.Reason)
	return nil
}
