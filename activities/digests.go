package activities

import (
	"context"
	"errors"
	"strconv"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
	"github.com/leadrelay/leadrelay/internal/mail"
	"github.com/leadrelay/leadrelay/internal/store"
)

// DigestRef names one batch of an org-local day's new-lead digest: an org
// id, a date and a number. The leads and the recipients are read from
// PostgreSQL when the email is built.
type DigestRef struct {
	OrgID string `json:"org_id"`
	Day   string `json:"day"`             // org-local, YYYY-MM-DD
	Batch int    `json:"batch,omitempty"` // 0 but under NEW_LEAD_DIGEST_DELAY
}

// DigestListed is how many leads one digest lists; past it the email says
// how many more arrived and links to the org's lead list. 500 lines keep the
// message well under the size mail servers refuse (about 150 KB in HTML).
const DigestListed = 500

// DigestSent counts what a digest did.
type DigestSent struct {
	Leads      int `json:"leads"` // arrivals it covered (it lists at most DigestListed)
	Recipients int `json:"recipients"`
	Refused    int `json:"refused,omitempty"` // recipients whose server refused it for good
}

// DigestFailure says why a digest will not be sent: the error's own words,
// no address and no lead data.
type DigestFailure struct {
	DigestRef
	Reason string `json:"reason"`
}

// DigestKey is the outbox key of one recipient's digest: one email per user,
// org and day (and batch, past the day's first) however often it is built.
func DigestKey(orgID, day string, batch int, userID string) string {
	if batch > 0 {
		day += "/" + strconv.Itoa(batch)
	}
	return "digest:" + orgID + ":" + day + ":" + userID
}

func (r DigestRef) read(ctx context.Context, s *store.Store) (store.Digest, error) {
	day, err := time.Parse(time.DateOnly, r.Day)
	if err != nil {
		return store.Digest{}, failure.New(domain.EInvalid, "a digest's day is a YYYY-MM-DD date", err)
	}
	d, err := s.GetDigest(ctx, r.OrgID, day, r.Batch)
	return d, failure.FromDomain(err)
}

// digestLine is one lead as a digest shows it.
type digestLine struct {
	Name, Source, At, URL string
	Transferred           bool
}

// SendDigest builds one digest batch from PostgreSQL — the leads the org
// still holds that arrived in the batch, the subscribed admin and staff —
// and emails each recipient once (DigestKey). An SMTP outage fails the
// attempt so Temporal retries it; what already went out is skipped. A
// recipient refused for good is recorded and the others go on. The batch is
// then marked sent, so the sweep leaves it alone.
func (a *Activities) SendDigest(ctx context.Context, ref DigestRef) (DigestSent, error) {
	d, err := ref.read(ctx, a.Store)
	if err != nil {
		return DigestSent{}, err
	}
	c, err := a.Store.DigestContent(ctx, d, DigestListed)
	if err != nil {
		return DigestSent{}, failure.FromDomain(err)
	}
	out := DigestSent{Leads: c.Total}
	if c.Total > 0 {
		to, err := a.Store.DigestRecipients(ctx, ref.OrgID)
		if err != nil {
			return out, err
		}
		out.Recipients = len(to)
		if out.Refused, err = a.mailDigest(ctx, ref, d, c, to); err != nil {
			return out, err
		}
	}
	if err := a.Store.FinishDigest(ctx, d.OrgID, d.Day, d.Batch, "sent", c.Total); err != nil {
		return out, err
	}
	activity.GetLogger(ctx).Info("digest sent", "OrgID", ref.OrgID, "Day", ref.Day, "Batch", ref.Batch,
		"Leads", out.Leads, "Recipients", out.Recipients, "Refused", out.Refused)
	return out, nil
}

// mailDigest sends the digest to each recipient and counts those refused
// for good.
func (a *Activities) mailDigest(ctx context.Context, ref DigestRef, d store.Digest, c store.DigestContent, to []store.DigestRecipient) (int, error) {
	loc := domain.OrgLocation(c.Timezone)
	lines := make([]digestLine, len(c.Leads))
	for i, l := range c.Leads {
		lines[i] = digestLine{Name: l.Name, Source: l.Source, At: l.At.In(loc).Format("Jan 2 15:04 MST"),
			URL: a.PublicBaseURL + "/v1/leads/" + l.ID, Transferred: l.How == "transferred"}
	}
	data := struct {
		OrgName, RecipientName, Day, LeadsURL string
		Batch, Total, More                    int
		Leads                                 []digestLine
	}{OrgName: c.OrgName, Day: d.Day.Format("Monday, January 2, 2006"), LeadsURL: a.PublicBaseURL + "/v1/orgs/" + d.OrgID + "/leads",
		Batch: d.Batch, Total: c.Total, More: c.Total - len(lines), Leads: lines}
	refused := 0
	for _, u := range to {
		data.RecipientName = u.Name
		key := DigestKey(ref.OrgID, ref.Day, ref.Batch, u.ID)
		no, err := a.deliverOrRecord(ctx, mail.Email{Template: "digest", Key: key, Kind: "digest", To: u.Email, OrgID: d.OrgID, Data: data})
		if no {
			refused++
		}
		if err != nil {
			return refused, err
		}
		activity.RecordHeartbeat(ctx)
	}
	return refused, nil
}

// FailDigest records a digest whose retries ran out: every recipient's email
// not sent is marked failed, and the batch too, so the sweep does not start
// it again. The leads were never at stake; only the summary is lost.
func (a *Activities) FailDigest(ctx context.Context, f DigestFailure) error {
	d, err := f.read(ctx, a.Store)
	if err != nil {
		return err
	}
	to, err := a.Store.DigestRecipients(ctx, f.OrgID)
	if err != nil {
		return err
	}
	var errs []error
	for _, u := range to {
		errs = append(errs, a.gaveUpEmail(ctx, DigestKey(f.OrgID, f.Day, f.Batch, u.ID), "", f.OrgID, "digest email failed: "+f.Reason))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	activity.GetLogger(ctx).Warn("digest failed for good", "OrgID", f.OrgID, "Day", f.Day, "Batch", f.Batch, "Reason", f.Reason)
	return a.Store.FinishDigest(ctx, d.OrgID, d.Day, d.Batch, "failed", 0)
}
