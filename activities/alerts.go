package activities

import (
	"context"
	"strconv"

	"go.temporal.io/sdk/activity"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
	"github.com/leadrelay/leadrelay/internal/mail"
)

// AlertRun names one recorded instant alert: its id only. The lead's data
// and the user's address stay in PostgreSQL; SendAlert reads them there.
type AlertRun struct {
	AlertID int64 `json:"alert_id"`
}

// alertKind is the instant alerts' email kind, in the metrics and the outbox.
const alertKind = "alert"

// Alert outcomes, as store.FinishAlert records them.
const (
	AlertSent    = "sent"
	AlertSkipped = "skipped" // the user turned alerts off, or the lead moved on, before it went out
	AlertFailed  = "failed"
)

// AlertKey is the outbox key of an alert's one email: an alert is one
// assignment, so each assignment emails its assignee once.
func AlertKey(alertID int64) string { return "alert:" + strconv.FormatInt(alertID, 10) }

// alertEmail is the data of templates/alert.*.
type alertEmail struct {
	UserName, LeadName, Source, Phone, Email, Location, Priority, LeadURL string
}

// SendAlert emails the assignee of one assignment the lead's essentials and
// its link in the console, unless they turned instant alerts off or the
// lead is no longer theirs by the time it is sent (both read now, not when
// the alert was recorded); then it records the alert dealt with. An SMTP
// outage fails the attempt so Temporal retries it, and the outbox never
// sends the key twice.
func (a *Activities) SendAlert(ctx context.Context, r AlertRun) (string, error) {
	n, err := a.Store.AlertNotice(ctx, r.AlertID)
	if domain.ErrorCode(err) == domain.ENotFound {
		// Its lead or user was deleted since: nobody is left to tell.
		return AlertSkipped, nil
	}
	if err != nil {
		return "", failure.FromDomain(err)
	}
	key := AlertKey(n.ID)
	sent, err := a.Outbox.Sent(ctx, key)
	if err != nil {
		return "", err
	}
	if !sent && (!n.InstantAlerts || !n.StillAssigned) {
		activity.GetLogger(ctx).Info("alert skipped", "AlertID", n.ID, "LeadID", n.LeadID,
			"AlertsOn", n.InstantAlerts, "StillAssigned", n.StillAssigned)
		return AlertSkipped, a.Store.FinishAlert(ctx, n.ID, AlertSkipped)
	}
	e := mail.Email{Template: "alert", Kind: alertKind, Key: key, To: n.To, OrgID: n.OrgID, LeadID: n.LeadID,
		Data: alertEmail{UserName: oneLine(n.UserName), LeadName: oneLine(n.LeadName), Source: oneLine(n.Source),
			Phone: oneLine(n.Phone), Email: oneLine(n.Email), Location: oneLine(n.Location), Priority: n.Priority,
			LeadURL: a.PublicBaseURL + "/app/leads/" + n.LeadID}}
	if err := a.deliver(ctx, e); err != nil {
		return "", err
	}
	return AlertSent, a.Store.FinishAlert(ctx, n.ID, AlertSent)
}

// AlertFailure says why an alert will not be sent.
type AlertFailure struct {
	AlertID int64  `json:"alert_id"`
	Reason  string `json:"reason"`
}

// RecordAlertFailure marks an alert's email failed for good, on the lead's
// timeline once, and the alert dealt with: the lead stays assigned either
// way, and whoever reads its timeline learns the assignee was not told.
func (a *Activities) RecordAlertFailure(ctx context.Context, f AlertFailure) error {
	n, err := a.Store.AlertNotice(ctx, f.AlertID)
	if domain.ErrorCode(err) == domain.ENotFound {
		return nil // deleted with its lead or user: no timeline to write on
	}
	if err != nil {
		return failure.FromDomain(err)
	}
	if err := a.gaveUpEmail(ctx, AlertKey(n.ID), n.LeadID, n.OrgID, "instant alert email to "+n.To+" failed: "+f.Reason); err != nil {
		return err
	}
	return a.Store.FinishAlert(ctx, n.ID, AlertFailed)
}
