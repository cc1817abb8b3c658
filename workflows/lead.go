// Package workflows holds leadrelay's Temporal workflows: deterministic code
// only. Side effects are in package activities.
package workflows

import (
	"errors"
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
	// ExternalIDKey holds the vendor's id, which never enters a workflow ID.
	ExternalIDKey = temporal.NewSearchAttributeKeyKeyword("ExternalID")
)

// SearchAttributes lists them for registration.
var SearchAttributes = []temporal.SearchAttributeKey{OrgIDKey, LeadSourceKey, LeadIDKey, LeadStatusKey, ExternalIDKey}

// SearchAttributeNames are their names, for `temporal server start-dev --search-attribute`.
func SearchAttributeNames() []string {
	n := make([]string, len(SearchAttributes))
	for i, k := range SearchAttributes {
		n[i] = k.GetName()
	}
	return n
}

// LeadWorkflowID names a lead's first run. The lead's id is minted by
// leadrelay and stands for the business key (source, external_id) through
// the unique key in PostgreSQL, so a repeated post finds the same run while
// the ID stays short printable ASCII whatever the vendor sends (the readable
// keys are search attributes). Temporal's SQL stores cap IDs at 255 bytes.
func LeadWorkflowID(leadID string) string { return "lead/" + leadID }

// HopWorkflowID names the run of one sub-agency hop. It is flat rather than
// nested on the parent's ID, so any depth stays at 82 bytes; a lead visits an
// org at most once per chain because links never form a cycle.
func HopWorkflowID(leadID, orgID string) string { return "lead/" + leadID + "/via/" + orgID }

// ValidWorkflowID is what every Temporal persistence accepts as an ID.
func ValidWorkflowID(id string) bool {
	if id == "" || len(id) > 255 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// versionAsyncEmails marks the lead workflow shape in which routing never
// waits for an email, child IDs are flat (HopWorkflowID), purchase keys name
// the hop's org and an email that fails for good is recorded, not fatal.
// Histories recorded before it replay on the old path (README: versioning).
const versionAsyncEmails = "async-emails-flat-ids"

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
	v := workflow.GetVersion(ctx, versionAsyncEmails, workflow.DefaultVersion, 1)
	d, err := r.route(ctx)
	if err != nil {
		return d, err
	}
	r.decision = &d
	r.log.Info("routed", "Location", d.Location, "AssignedTo", d.AssignedTo, "FanOutTo", d.FanOutTo, "Reason", d.Reason)
	if err := workflow.UpsertTypedSearchAttributes(ctx, LeadStatusKey.ValueSet(d.Status())); err != nil {
		return d, err
	}
	if v == workflow.DefaultVersion {
		return r.runV0(ctx, d)
	}
	// Emails go out beside the next hop, never before it: the lead is placed
	// or passed on at once, whatever SMTP does.
	sends := r.purchaseEmails(ctx, d, purchaseKeyPrefix(d.LeadID, d.OrgID, r.in.Hop))
	final := d
	var hopErr error
	if d.FanOutTo != "" {
		final, hopErr = r.fanOut(ctx, d, HopWorkflowID(r.in.LeadID, d.FanOutTo))
	}
	var a *activities.Activities
	fctx := workflow.WithActivityOptions(ctx, bookkeepingOptions)
	for _, s := range sends {
		err := s.f.Get(ctx, nil)
		if err == nil {
			continue
		}
		r.log.Error("purchase email failed for good", "To", s.email.To, "Error", err)
		if ferr := workflow.ExecuteActivity(fctx, a.RecordEmailFailure, activities.EmailFailure{Key: s.email.Key, Kind: s.email.Kind,
			To: s.email.To, OrgID: s.email.OrgID, LeadID: s.email.LeadID, Reason: failureReason(err)}).Get(ctx, nil); ferr != nil {
			return final, ferr
		}
	}
	return final, hopErr
}

// route runs the routing transaction as a local activity (no server round
// trip between deciding and recording). A database outage longer than its
// minute falls back to a regular activity: its retries add no events, so
// the run's history stays small however long the outage lasts.
func (r *leadRun) route(ctx workflow.Context) (store.Decision, error) {
	var a *activities.Activities
	var d store.Decision
	req := store.RouteRequest{LeadID: r.in.LeadID, OrgID: r.in.OrgID, Hop: r.in.Hop}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    15 * time.Second,
		ScheduleToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    500 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    5 * time.Second,
		},
	})
	err := workflow.ExecuteLocalActivity(lctx, a.RouteLead, req).Get(ctx, &d)
	if err == nil || isLeadNotFound(err) {
		return d, err
	}
	r.log.Warn("routing did not commit within a minute: retrying as a regular activity", "Error", err)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute, // an outage delays routing; it never drops the lead
		},
	})
	if err := workflow.ExecuteActivity(actx, a.RouteLead, req).Get(ctx, &d); err != nil {
		r.log.Error("routing failed", "Error", err)
		return d, err
	}
	return d, nil
}

func isLeadNotFound(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && ae.Type() == "LeadNotFound"
}

// failureReason is the activity's own message, without Temporal's wrapping.
func failureReason(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Error()
	}
	var te *temporal.TimeoutError
	if errors.As(err, &te) {
		return "gave up after retrying for " + EmailActivityOptions.ScheduleToCloseTimeout.String()
	}
	return err.Error()
}

// purchaseKeyPrefix names a hop's purchase emails. The receiving org's hop
// keeps the key it always had (purchase:<lead>:<address>), so a lead of the
// old shape restarted by the reconciler never emails twice; each sub-agency
// hop adds its org, so the same address notified by two hops gets both.
func purchaseKeyPrefix(leadID, orgID string, hop int) string {
	if hop == 0 {
		return "purchase:" + leadID + ":"
	}
	return "purchase:" + leadID + ":" + orgID + ":"
}

type pendingEmail struct {
	email activities.Email
	f     workflow.Future
}

func (r *leadRun) purchaseEmails(ctx workflow.Context, d store.Decision, keyPrefix string) []pendingEmail {
	var a *activities.Activities
	actx := workflow.WithActivityOptions(ctx, EmailActivityOptions)
	var sends []pendingEmail
	for _, to := range d.PurchaseEmails {
		e := activities.Email{
			Template: "purchase",
			Key:      keyPrefix + to,
			Kind:     "purchase",
			To:       to,
			OrgID:    d.OrgID,
			LeadID:   d.LeadID,
			Data: map[string]string{
				"SourceName": d.SourceName, "Slug": d.Slug, "LeadName": d.LeadName, "ExternalID": r.in.ExternalID,
				"LeadEmail": d.LeadEmail, "LeadPhone": d.LeadPhone, "Reason": d.Reason,
			},
		}
		sends = append(sends, pendingEmail{e, workflow.ExecuteActivity(actx, a.SendEmail, e)})
	}
	return sends
}

// runV0 is the shape recorded before versionAsyncEmails: emails first, then
// the next hop under a nested ID. Kept only so open runs and kept fixtures
// replay.
func (r *leadRun) runV0(ctx workflow.Context, d store.Decision) (store.Decision, error) {
	for _, s := range r.purchaseEmails(ctx, d, "purchase:"+d.LeadID+":") {
		if err := s.f.Get(ctx, nil); err != nil {
			r.log.Error("purchase email failed for good", "Error", err)
			return d, err
		}
	}
	if d.FanOutTo == "" {
		return d, nil
	}
	childID := workflow.GetInfo(ctx).WorkflowExecution.ID + "/via/" + d.FanOutTo
	if !ValidWorkflowID(childID) {
		// A SQL-backed server refused this start, so no history holds it: the
		// run sat in a failing workflow task. The flat ID lets it go on.
		childID = HopWorkflowID(r.in.LeadID, d.FanOutTo)
	}
	return r.fanOut(ctx, d, childID)
}

// fanOut runs the chosen sub-agency's routing for the same slug as a child
// workflow with a deterministic ID, so a replayed or restarted parent finds
// the same child (or, after that child closed badly, starts it again).
func (r *leadRun) fanOut(ctx workflow.Context, d store.Decision, childID string) (store.Decision, error) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: childID,
		TypedSearchAttributes: temporal.NewSearchAttributes(OrgIDKey.ValueSet(d.FanOutTo), LeadSourceKey.ValueSet(r.in.Slug),
			LeadIDKey.ValueSet(r.in.LeadID), LeadStatusKey.ValueSet("new"), ExternalIDKey.ValueSet(r.in.ExternalID)),
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

// bookkeepingOptions are for writes to PostgreSQL that must happen: retried
// until the database answers.
var bookkeepingOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    time.Minute,
	},
}

// EmailActivityOptions retry an SMTP outage with backoff for up to a week.
// A permanent refusal (5xx) comes back non-retryable and is recorded at once.
var EmailActivityOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    time.Minute,
	ScheduleToCloseTimeout: 7 * 24 * time.Hour,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    5 * time.Minute,
	},
}
