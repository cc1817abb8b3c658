// Package workflows holds leadrelay's Temporal workflows: deterministic code
// only. Side effects are in package activities.
package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
)

// versionLeadShape names the lead workflow's shapes; GetVersion records the
// one a run started with, and older histories replay on the path they took
// (docs/versioning.md). DefaultVersion: emails before the next hop,
// nested child IDs. 1 (versionAsyncEmails): routing never waits for an
// email, flat child IDs, a failed email recorded rather than fatal. 2
// (versionIDsOnly): ids only in the history; the email activity reads the
// lead and the addresses itself.
//
// Shape 3 (LeadShape) is shape 2 chosen by the starter and carried in
// LeadInput, so its runs record no version marker: GetVersion also upserts
// the TemporalChangeVersion search attribute, one more visibility write per
// run, about a tenth of a lead's cost to the server (docs/benchmark.md). An
// input without a shape (0) is an older run's: its marker says which of the
// first three it took. A later change to the lead workflow starts shape 4
// the same way: a GetVersion inside shape 3 would bring the marker and the
// upsert back to every lead, which TestLiveHistoriesReplay refuses.
const (
	versionLeadShape   = "async-emails-flat-ids"
	versionAsyncEmails = 1
	versionIDsOnly     = 2
	// LeadShape is the shape every new lead run starts with (runs.Starter.Lead)
	// and passes to its sub-agency hops.
	LeadShape = 3
)

// LeadInput starts one hop of a lead's routing.
type LeadInput struct {
	LeadID     string
	OrgID      string // the org whose rules apply in this run
	Slug       string
	ExternalID string // the vendor's id: an id, not the lead's data
	Hop        int    // 0 for the org that received the lead, +1 per sub-agency level
	// Shape is LeadShape for runs started today; 0 in the inputs of runs
	// started before it existed, whose GetVersion marker tells their shape.
	Shape int
}

// LeadResult is where a lead's routing ended: the decision of the last hop,
// in ids. The reason in words, with names, is on the lead's timeline.
type LeadResult struct {
	LeadID        string `json:"lead_id"`
	OrgID         string `json:"org_id"` // the org whose rules placed the lead
	Location      string `json:"location,omitempty"`
	AssignedTo    string `json:"assigned_to,omitempty"` // user id
	FanOutTo      string `json:"fan_out_to,omitempty"`  // only in a query answered between a hop and its child
	AlreadyRouted bool   `json:"already_routed,omitempty"`
	Status        string `json:"status"` // what LeadStatus says: assigned, queue, ..., sub_agency
}

// QueryDecision answers with this hop's LeadResult once routing decided it
// (nil before).
const QueryDecision = "decision"

type leadRun struct {
	in       LeadInput
	decision *LeadResult
	log      log.Logger
}

// LeadWorkflow routes one lead at one org (SPEC §5.2) and sends that org's
// purchase notifications. When the org's rule passes the lead to a
// sub-agency, the sub-agency's own routing runs as a child workflow and its
// final decision is this run's result.
func LeadWorkflow(ctx workflow.Context, in LeadInput) (LeadResult, error) {
	r := &leadRun{in: in}
	r.log = log.With(workflow.GetLogger(ctx), "LeadID", in.LeadID, "OrgID", in.OrgID)
	if err := workflow.SetQueryHandler(ctx, QueryDecision, func() (*LeadResult, error) { return r.decision, nil }); err != nil {
		return LeadResult{}, err
	}
	if in.Shape >= LeadShape {
		return r.run(ctx)
	}
	switch workflow.GetVersion(ctx, versionLeadShape, workflow.DefaultVersion, versionIDsOnly) {
	case workflow.DefaultVersion:
		return r.runV0(ctx)
	case versionAsyncEmails:
		return r.runV1(ctx)
	}
	return r.run(ctx)
}

func (r *leadRun) run(ctx workflow.Context) (LeadResult, error) {
	var a *activities.Activities
	var d activities.RouteResult
	if err := r.route(ctx, a.Route, &d); err != nil {
		return LeadResult{}, err
	}
	res := LeadResult{LeadID: d.LeadID, OrgID: d.OrgID, Location: d.Location, AssignedTo: d.AssignedTo,
		FanOutTo: d.FanOutTo, AlreadyRouted: d.AlreadyRouted, Status: d.Status()}
	if err := r.decided(ctx, res); err != nil {
		return res, err
	}
	now := decidedDetails(res, d.Rule)
	workflow.SetCurrentDetails(ctx, now)
	// Emails go out beside the next hop, never before it: the lead is placed
	// or passed on at once, whatever SMTP does.
	var sent workflow.Future
	if d.Notify > 0 {
		sent = workflow.ExecuteActivity(act(ctx, EmailActivityOptions, fmt.Sprintf("purchase emails to %d address(es)", d.Notify)), a.NotifyPurchase,
			activities.PurchaseNotice{LeadID: d.LeadID, OrgID: d.OrgID, Hop: r.in.Hop, ExternalID: r.in.ExternalID})
	}
	final := res
	var hopErr error
	if d.FanOutTo != "" {
		final, hopErr = r.hop(ctx, d.FanOutTo, HopWorkflowID(r.in.LeadID, d.FanOutTo), d.FanOutName)
		if hopErr == nil {
			workflow.SetCurrentDetails(ctx, finalDetails(now, final))
		}
	}
	if sent != nil {
		if err := sent.Get(ctx, nil); err != nil {
			r.log.Error("purchase emails failed for good", "Error", err)
			err = workflow.ExecuteActivity(act(ctx, bookkeepingOptions, "record the purchase emails that failed"), a.RecordPurchaseFailure,
				activities.PurchaseFailure{LeadID: d.LeadID, OrgID: d.OrgID, Hop: r.in.Hop, Reason: failureReason(err)}).Get(ctx, nil)
			if err != nil {
				return final, err
			}
		}
	}
	return final, hopErr
}

// decided makes a hop's decision visible: to the decision query, in the log
// and in the LeadStatus search attribute.
func (r *leadRun) decided(ctx workflow.Context, res LeadResult) error {
	r.decision = &res
	r.log.Info("routed", "Status", res.Status, "Location", res.Location, "AssignedTo", res.AssignedTo, "FanOutTo", res.FanOutTo)
	return workflow.UpsertTypedSearchAttributes(ctx, LeadStatusKey.ValueSet(res.Status))
}

// route runs the routing transaction (activity fn, result into out) as a
// local activity: no server round trip between deciding and recording. A
// database outage longer than its minute falls back to a regular activity:
// its retries add no events, so the run's history stays small however long
// the outage lasts.
func (r *leadRun) route(ctx workflow.Context, fn any, out any) error {
	in := activities.RouteInput{LeadID: r.in.LeadID, OrgID: r.in.OrgID, Hop: r.in.Hop}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		Summary:                "routing decision, one transaction" + hopSuffix(r.in.Hop),
		StartToCloseTimeout:    15 * time.Second,
		ScheduleToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    500 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    5 * time.Second,
		},
	})
	err := workflow.ExecuteLocalActivity(lctx, fn, in).Get(ctx, out)
	if err == nil || failure.Code(err) == domain.ENotFound {
		return err
	}
	r.log.Warn("routing did not commit within a minute: retrying as a regular activity", "Error", err)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		Summary:             "routing decision, retried after a minute without PostgreSQL",
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute, // an outage delays routing; it never drops the lead
		},
	})
	if err := workflow.ExecuteActivity(actx, fn, in).Get(ctx, out); err != nil {
		r.log.Error("routing failed", "Error", err)
		return err
	}
	return nil
}

// failureReason is an email activity's own message, without Temporal's
// wrapping.
func failureReason(err error) string { return failureAfter(err, EmailActivityOptions) }

// failureAfter is the message of an activity run with options o that
// failed for good: its own, or that its retries ran out.
func failureAfter(err error, o workflow.ActivityOptions) string {
	var te *temporal.TimeoutError
	if errors.As(err, &te) {
		return "gave up after retrying for " + o.ScheduleToCloseTimeout.String()
	}
	return failure.Message(err)
}

// fanOut runs the chosen sub-agency's routing for the same slug as a child
// workflow with a deterministic ID, so a replayed or restarted parent finds
// the same child (or, after that child closed badly, starts it again).
func (r *leadRun) fanOut(ctx workflow.Context, sub, childID string) (LeadResult, error) {
	return r.hop(ctx, sub, childID, "")
}

// hop is fanOut with the sub-agency's name for the child's summary ("":
// its id).
func (r *leadRun) hop(ctx workflow.Context, sub, childID, subName string) (LeadResult, error) {
	// The hop keeps its parent's shape: an older run's child input stays
	// what its history recorded.
	in := LeadInput{LeadID: r.in.LeadID, OrgID: sub, Slug: r.in.Slug, ExternalID: r.in.ExternalID, Hop: r.in.Hop + 1, Shape: r.in.Shape}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            childID,
		StaticSummary:         hopSummary(in, subName),
		StaticDetails:         LeadDetails(in),
		TypedSearchAttributes: LeadSearchAttributes(sub, r.in.Slug, r.in.LeadID, "new", r.in.ExternalID),
	})
	var final LeadResult
	err := workflow.ExecuteChildWorkflow(cctx, LeadWorkflow, in).Get(ctx, &final)
	if err != nil {
		r.log.Error("sub-agency routing failed", "SubAgency", sub, "Error", err)
		return LeadResult{}, err
	}
	return final, nil
}
