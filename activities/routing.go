package activities

import (
	"context"

	"go.temporal.io/sdk/activity"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
	"github.com/leadrelay/leadrelay/internal/store"
)

// RouteInput names one hop of a lead's routing. Its JSON keys are those the
// first shapes recorded (no tags), so RouteLead still reads their inputs.
type RouteInput struct {
	LeadID string
	OrgID  string // the org whose rules apply; "" for the org that received the lead
	Hop    int    // sub-agency levels already passed
}

// RouteResult is one hop's decision, in ids only: who or where, never the
// lead's or the assignee's data. The reason, written with names for people,
// is on the lead's timeline.
type RouteResult struct {
	LeadID        string `json:"lead_id"`
	OrgID         string `json:"org_id"`
	Location      string `json:"location,omitempty"`    // a pipeline (queue, ...) instead of a person
	AssignedTo    string `json:"assigned_to,omitempty"` // user id
	FanOutTo      string `json:"fan_out_to,omitempty"`  // the sub-agency whose own routing comes next
	AlreadyRouted bool   `json:"already_routed,omitempty"`
	// Notify counts the hop's purchase-notification addresses, so a hop
	// without any schedules no email activity.
	Notify int `json:"notify,omitempty"`
	// Rule says why, with user ids for people ("rotated to user <id>:
	// position 2 of 3 active staff (staff_evenly)"), and FanOutName is the
	// sub-agency's name: the run's details and its hop's summary in the
	// Temporal UI. Org names are business names, not a person's data.
	Rule       string `json:"rule,omitempty"`
	FanOutName string `json:"fan_out_name,omitempty"`
}

// Status is the word operators filter on in the Temporal UI (LeadStatus).
func (r RouteResult) Status() string {
	return store.Decision{FanOutTo: r.FanOutTo, Location: r.Location}.Status()
}

// Route makes (or, on a retry, re-reads) one org's routing decision for a
// lead in one PostgreSQL transaction. The workflow runs it as a local
// activity first: no server round trip between deciding and recording.
func (a *Activities) Route(ctx context.Context, in RouteInput) (RouteResult, error) {
	d, err := a.route(ctx, in)
	if err != nil {
		return RouteResult{}, err
	}
	return RouteResult{LeadID: d.LeadID, OrgID: d.OrgID, Location: d.Location, AssignedTo: d.AssignedTo,
		FanOutTo: d.FanOutTo, AlreadyRouted: d.AlreadyRouted, Notify: len(d.PurchaseEmails), Rule: d.Rule, FanOutName: d.FanOutName}, nil
}

func (a *Activities) route(ctx context.Context, in RouteInput) (store.Decision, error) {
	d, err := a.Store.RouteLead(ctx, store.RouteRequest{LeadID: in.LeadID, OrgID: in.OrgID, Hop: in.Hop})
	if err != nil {
		if domain.ErrorCode(err) == domain.ENotFound {
			return d, failure.New(domain.ENotFound, err.Error(), err)
		}
		return d, err
	}
	a.countRouting(d)
	activity.GetLogger(ctx).Info("lead routed", "LeadID", in.LeadID, "OrgID", d.OrgID, "Location", d.Location,
		"AssignedTo", d.AssignedTo, "FanOutTo", d.FanOutTo, "AlreadyRouted", d.AlreadyRouted)
	return d, nil
}
