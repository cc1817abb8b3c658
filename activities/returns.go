package activities

import (
	"context"
	"errors"
	"strings"
	"unicode"

	"go.temporal.io/sdk/activity"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
	"github.com/leadrelay/leadrelay/internal/mail"
	"github.com/leadrelay/leadrelay/internal/store"
)

// ReturnRun names a returned lead whose vendor is to be told: its id only.
// The reason and the comments are free text a user typed; they stay in
// PostgreSQL and NotifyReturn reads them there.
type ReturnRun struct {
	LeadID string `json:"lead_id"`
}

// ReturnNotified counts what a return's emails did.
type ReturnNotified struct {
	Addresses int `json:"addresses"`
	Refused   int `json:"refused"` // refused for good, recorded on the lead's timeline
}

// ReturnKey is the outbox key of a return's email to one address: a lead
// is returned at most once, so each address hears of it once.
func ReturnKey(leadID, to string) string { return "return:" + leadID + ":" + to }

// customReturn is the data of templates/return_custom.*: a source's own
// return_template, already rendered.
type customReturn struct{ Subject, Body string }

// NotifyReturn emails every return address of the source that received the
// lead, then marks the return notified. An address refused for good is
// recorded on the lead's timeline and the others go on; an SMTP outage fails
// the attempt so Temporal retries it, and the outbox skips what already went
// out.
func (a *Activities) NotifyReturn(ctx context.Context, r ReturnRun) (ReturnNotified, error) {
	n, err := a.Store.ReturnNotice(ctx, r.LeadID)
	if err != nil {
		return ReturnNotified{}, failure.FromDomain(err)
	}
	out := ReturnNotified{Addresses: len(n.To)}
	e := a.returnEmail(ctx, n)
	for _, to := range n.To {
		e.To, e.Key = to, ReturnKey(n.LeadID, to)
		refused, err := a.deliverOrRecord(ctx, e)
		if refused {
			out.Refused++
		}
		if err != nil {
			return out, err
		}
	}
	return out, a.Store.FinishReturn(ctx, n.LeadID)
}

// returnEmail is the email every address of the return gets: from the
// source's return_template when it has one, else from templates/return.*.
// The template was checked when the source was saved; should it fail all
// the same, the built-in one says what happened rather than no email at all.
func (a *Activities) returnEmail(ctx context.Context, n store.ReturnNotice) mail.Email {
	f := n.Fields
	if !n.IncludeComments {
		f.Comments = ""
	}
	f.FirstName, f.LastName = oneLine(f.FirstName), oneLine(f.LastName)
	f.LeadName = strings.TrimSpace(f.FirstName + " " + f.LastName)
	loc := domain.OrgLocation(n.Timezone)
	f.ReturnedAt, f.ReceivedAt = n.ReturnedAt.In(loc).Format(domain.DateLayout), n.ReceivedAt.In(loc).Format(domain.DateLayout)
	e := mail.Email{Template: "return", Kind: "return", OrgID: n.OrgID, LeadID: n.LeadID, Data: f}
	if n.Template == nil {
		return e
	}
	rt, err := domain.ParseReturnTemplate(*n.Template)
	if err == nil {
		var c customReturn
		if c.Subject, c.Body, err = rt.Render(f); err == nil {
			e.Template, e.Data = "return_custom", c
			return e
		}
	}
	activity.GetLogger(ctx).Warn("the source's return template failed: the built-in one is used", "LeadID", n.LeadID, "Error", err)
	return e
}

// oneLine turns control characters (a newline in a name) into spaces, so a
// name cannot break a subject line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

// ReturnFailure says why a return's emails will not be sent.
type ReturnFailure struct {
	LeadID string `json:"lead_id"`
	Reason string `json:"reason"` // the error's own words: no address, no lead data
}

// RecordReturnFailure marks every return email that did not go out as
// failed, on the lead's timeline once per address, and the return as dealt
// with: the lead is returned regardless, and whoever reads its timeline
// learns that the vendor was not told.
func (a *Activities) RecordReturnFailure(ctx context.Context, f ReturnFailure) error {
	n, err := a.Store.ReturnNotice(ctx, f.LeadID)
	if err != nil {
		return failure.FromDomain(err)
	}
	var errs []error
	for _, to := range n.To {
		errs = append(errs, a.gaveUpEmail(ctx, ReturnKey(n.LeadID, to), n.LeadID, n.OrgID,
			"return email to "+to+" failed: "+f.Reason))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	activity.GetLogger(ctx).Warn("return emails recorded as failed", "LeadID", f.LeadID, "Reason", f.Reason)
	return a.Store.FinishReturn(ctx, n.LeadID)
}
