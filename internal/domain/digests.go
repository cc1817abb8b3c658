package domain

import "time"

// DigestSettle is how long after a batch's last arrival instant its digest
// waits at least: a routing that committed at the edge of the batch is
// listed, not lost between two batches.
const DigestSettle = 5 * time.Second

// DigestSchedule is when new-lead digests go out (SPEC §3, §5.4): at a clock
// time, org-local, on the day after the leads arrived; or, when Delay is
// set, that long after the first lead of a batch.
type DigestSchedule struct {
	At    int           // NEW_LEAD_DIGEST_AT, minutes after midnight
	Delay time.Duration // NEW_LEAD_DIGEST_DELAY; 0: use At
}

// DigestPlan is one batch of an org-local day: the arrivals in [From, Until)
// are listed, and the digest goes out at FireAt.
type DigestPlan struct {
	From, Until, FireAt time.Time
}

// Plan plans the next batch of the org-local day (its date is what counts,
// whatever its location) in loc: first is the earliest arrival no batch
// covers yet and prevUntil where the day's earlier batches end (zero when
// there are none). Wall-clock arithmetic is done in loc by time.Date, so
// 08:00 on the morning after a daylight-saving change is 08:00 local, and a
// day is 23 or 25 hours long when it has to be.
func (s DigestSchedule) Plan(loc *time.Location, day, first, prevUntil time.Time) DigestPlan {
	y, m, d := day.Date()
	dayEnd := time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	p := DigestPlan{From: time.Date(y, m, d, 0, 0, 0, 0, loc)}
	if !prevUntil.IsZero() {
		p.From = prevUntil
	}
	if first.Before(p.From) {
		p.From = first // a timezone changed since the earlier batch: never leave an arrival out
	}
	if s.Delay > 0 {
		p.Until = first.Add(s.Delay)
		p.FireAt = p.Until
		if p.Until.After(dayEnd) {
			p.Until = dayEnd // the next day's leads are the next day's digest
		}
	} else {
		p.Until = dayEnd
		p.FireAt = time.Date(y, m, d+1, s.At/60, s.At%60, 0, 0, loc)
	}
	if !p.Until.After(first) {
		// Only when the database and Go disagree on the zone's rules: the
		// arrival that opened the batch must be in it.
		p.Until = first.Add(time.Second)
	}
	if settled := p.Until.Add(DigestSettle); p.FireAt.Before(settled) {
		p.FireAt = settled
	}
	return p
}
