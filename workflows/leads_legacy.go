package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
)

// This file keeps the lead workflow's first two shapes, frozen: runs that
// started on them may still be open (an email retries for up to a week), and
// their kept fixtures must replay. They call the legacy activities, which
// carry the lead's data; no new run takes these paths. Delete a shape, its
// activities and its fixture set together, once no run of it is open
// (docs/versioning.md).

// legacyResult is what the first shapes reported, now in LeadResult's words.
func legacyResult(d activities.LegacyDecision) LeadResult {
	res := LeadResult{LeadID: d.LeadID, OrgID: d.OrgID, Location: d.Location, AssignedTo: d.AssignedTo,
		FanOutTo: d.FanOutTo, AlreadyRouted: d.AlreadyRouted}
	res.Status = activities.RouteResult{FanOutTo: d.FanOutTo, Location: d.Location}.Status()
	return res
}

// routeLegacy routes through the legacy activity and publishes the decision.
func (r *leadRun) routeLegacy(ctx workflow.Context) (activities.LegacyDecision, error) {
	var a *activities.Activities
	var d activities.LegacyDecision
	if err := r.route(ctx, a.RouteLead, &d); err != nil {
		return d, err
	}
	return d, r.decided(ctx, legacyResult(d))
}

type pendingEmail struct {
	email activities.Email
	f     workflow.Future
}

// legacyPurchaseEmails schedules one SendEmail per address, the lead's data
// in each request.
func (r *leadRun) legacyPurchaseEmails(ctx workflow.Context, d activities.LegacyDecision, hop int) []pendingEmail {
	var a *activities.Activities
	actx := workflow.WithActivityOptions(ctx, EmailActivityOptions)
	var sends []pendingEmail
	for _, to := range d.PurchaseEmails {
		e := activities.Email{
			Template: "purchase",
			Key:      activities.PurchaseKey(d.LeadID, d.OrgID, hop, to),
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

// runV1 is versionAsyncEmails: emails beside the next hop, each failure
// recorded on its own.
func (r *leadRun) runV1(ctx workflow.Context) (LeadResult, error) {
	d, err := r.routeLegacy(ctx)
	if err != nil {
		return LeadResult{}, err
	}
	sends := r.legacyPurchaseEmails(ctx, d, r.in.Hop)
	final := legacyResult(d)
	var hopErr error
	if d.FanOutTo != "" {
		final, hopErr = r.fanOut(ctx, d.FanOutTo, HopWorkflowID(r.in.LeadID, d.FanOutTo))
	}
	var a *activities.Activities
	fctx := workflow.WithActivityOptions(ctx, bookkeepingOptions)
	for _, s := range sends {
		err := s.f.Get(ctx, nil)
		if err == nil {
			continue
		}
		r.log.Error("purchase email failed for good", "Error", err)
		if ferr := workflow.ExecuteActivity(fctx, a.RecordEmailFailure, activities.EmailFailure{Key: s.email.Key, Kind: s.email.Kind,
			To: s.email.To, OrgID: s.email.OrgID, LeadID: s.email.LeadID, Reason: failureReason(err)}).Get(ctx, nil); ferr != nil {
			return final, ferr
		}
	}
	return final, hopErr
}

// runV0 is the first shape: emails first, then the next hop under a nested
// ID; an email that failed for good failed the run.
func (r *leadRun) runV0(ctx workflow.Context) (LeadResult, error) {
	d, err := r.routeLegacy(ctx)
	if err != nil {
		return LeadResult{}, err
	}
	for _, s := range r.legacyPurchaseEmails(ctx, d, 0) {
		if err := s.f.Get(ctx, nil); err != nil {
			r.log.Error("purchase email failed for good", "Error", err)
			return legacyResult(d), err
		}
	}
	if d.FanOutTo == "" {
		return legacyResult(d), nil
	}
	childID := workflow.GetInfo(ctx).WorkflowExecution.ID + "/via/" + d.FanOutTo
	if !ValidWorkflowID(childID) {
		// A SQL-backed server refused this start, so no history holds it: the
		// run sat in a failing workflow task. The flat ID lets it go on.
		childID = HopWorkflowID(r.in.LeadID, d.FanOutTo)
	}
	return r.fanOut(ctx, d.FanOutTo, childID)
}
