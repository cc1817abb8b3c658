// Package workflows holds leadrelay's Temporal workflows: deterministic code
// only. Side effects are in package activities.
package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/store"
)

// Search attributes operators filter runs by in the Web UI.
var (
	OrgIDKey      = temporal.NewSearchAttributeKeyKeyword("OrgID")
	LeadSourceKey = temporal.NewSearchAttributeKeyKeyword("LeadSource")
	LeadIDKey     = temporal.NewSearchAttributeKeyKeyword("LeadID")
	LeadStatusKey = temporal.NewSearchAttributeKeyKeyword("LeadStatus")
)

// SearchAttributes lists them for registration.
var SearchAttributes = []temporal.SearchAttributeKey{OrgIDKey, LeadSourceKey, LeadIDKey, LeadStatusKey}

// SearchAttributeNames are their names, for `temporal server start-dev --search-attribute`.
func SearchAttributeNames() []string {
	n := make([]string, len(SearchAttributes))
	for i, k := range SearchAttributes {
		n[i] = k.GetName()
	}
	return n
}

// LeadWorkflowID is derived from the business key, so a repeated post finds
// the same run instead of starting a second one.
func LeadWorkflowID(orgID, slug, externalID string) string {
	return fmt.Sprintf("lead/%s/%s/%s", orgID, slug, externalID)
}

type LeadInput struct {
	LeadID     string
	OrgID      string // the org whose rules apply in this run
	Slug       string
	ExternalID string
	Hop        int // 0 for the org that received the lead, +1 per sub-agency level
}

// QueryDecision answers with the routing decision once it is made.
const QueryDecision = "decision"

type leadRun struct {
	in       LeadInput
	decision *store.Decision
	log      log.Logger
}

// LeadWorkflow routes one lead at one org (SPEC §5.2) and sends that org's
// purchase notifications. When the org's rule passes the lead to a
// sub-agency, the sub-agency's own routing runs as a child workflow and its
// final decision is this run's result.
func LeadWorkflow(ctx workflow.Context, in LeadInput) (store.Decision, error) {
	r := &leadRun{in: in}
	if err := r.setup(ctx); err != nil {
		return store.Decision{}, err
	}
	return r.run(ctx)
}

func (r *leadRun) setup(ctx workflow.Context) error {
	r.log = log.With(workflow.GetLogger(ctx), "LeadID", r.in.LeadID, "OrgID", r.in.OrgID)
	return workflow.SetQueryHandler(ctx, QueryDecision, func() (*store.Decision, error) { return r.decision, nil })
}

func (r *leadRun) run(ctx workflow.Context) (store.Decision, error) {
	var a *activities.Activities

	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 15 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    500 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute, // a database outage delays routing; it never drops the lead
		},
	})
	var d store.Decision
	req := store.RouteRequest{LeadID: r.in.LeadID, OrgID: r.in.OrgID, Hop: r.in.Hop}
	if err := workflow.ExecuteLocalActivity(lctx, a.RouteLead, req).Get(ctx, &d); err != nil {
		r.log.Error("routing failed", "Error", err)
		return d, err
	}
	r.decision = &d
	r.log.Info("routed", "Location", d.Location, "AssignedTo", d.AssignedTo, "FanOutTo", d.FanOutTo, "Reason", d.Reason)
	if err := workflow.UpsertTypedSearchAttributes(ctx, LeadStatusKey.ValueSet(d.Status())); err != nil {
		return d, err
	}

	actx := workflow.WithActivityOptions(ctx, EmailActivityOptions)
	var sends []workflow.Future
	for _, to := range d.PurchaseEmails {
		sends = append(sends, workflow.ExecuteActivity(actx, a.SendEmail, activities.Email{
			Template: "purchase",
			Key:      "purchase:" + d.LeadID + ":" + to,
			Kind:     "purchase",
			To:       to,
			OrgID:    d.OrgID,
			LeadID:   d.LeadID,
			Data: map[string]string{
				"SourceName": d.SourceName, "Slug": d.Slug, "LeadName": d.LeadName, "ExternalID": r.in.ExternalID,
				"LeadEmail": d.LeadEmail, "LeadPhone": d.LeadPhone, "Reason": d.Reason,
			},
		}))
	}
	for _, f := range sends {
		if err := f.Get(ctx, nil); err != nil {
			r.log.Error("purchase email failed for good", "Error", err)
			return d, err
		}
	}
	if d.FanOutTo == "" {
		return d, nil
	}
	return r.fanOut(ctx, d)
}

// fanOut runs the chosen sub-agency's routing for the same slug as a child
// workflow whose ID extends this one's, so a replayed or retried parent finds
// the same child.
func (r *leadRun) fanOut(ctx workflow.Context, d store.Decision) (store.Decision, error) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID + "/via/" + d.FanOutTo,
		TypedSearchAttributes: temporal.NewSearchAttributes(OrgIDKey.ValueSet(d.FanOutTo), LeadSourceKey.ValueSet(r.in.Slug),
			LeadIDKey.ValueSet(r.in.LeadID), LeadStatusKey.ValueSet("new")),
	})
	var final store.Decision
	err := workflow.ExecuteChildWorkflow(cctx, LeadWorkflow, LeadInput{LeadID: r.in.LeadID, OrgID: d.FanOutTo, Slug: r.in.Slug,
		ExternalID: r.in.ExternalID, Hop: r.in.Hop + 1}).Get(ctx, &final)
	if err != nil {
		r.log.Error("sub-agency routing failed", "SubAgency", d.FanOutTo, "Error", err)
		return d, err
	}
	return final, nil
}

// EmailActivityOptions retry an SMTP outage with backoff for up to a week.
var EmailActivityOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    time.Minute,
	ScheduleToCloseTimeout: 7 * 24 * time.Hour,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    5 * time.Minute,
	},
}
