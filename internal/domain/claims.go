package domain

import (
	"strings"
	"time"
)

// How a claim of a queued lead ended (SPEC §5.5), as lead_claims.status
// stores it and the claim's run reports it. A claim is open until one of
// the others.
const (
	ClaimOpen     = "open"
	ClaimWorked   = "worked"   // the rep recorded a first action in time: the lead stays theirs
	ClaimReleased = "released" // the rep put it back in the queue
	ClaimInvalid  = "invalid"  // the lead was marked invalid
	ClaimExpired  = "expired"  // not worked within the window: back in the queue
	// ClaimEnded: the lead stopped being the claim's by another way (a
	// manager assigned it elsewhere, a transfer, a reroute, a new owner), so
	// the window no longer applies.
	ClaimEnded = "ended"
)

// MaxInvalidReason is the longest reason for marking a lead invalid, in
// characters: a sentence or two for the timeline, not a report.
const MaxInvalidReason = 1000

// InvalidReasonRule is what the API says when a reason is refused.
const InvalidReasonRule = "required: 1 to 1000 characters of text"

// CleanInvalidReason trims the reason a lead is marked invalid for and
// reports whether it is 1 to MaxInvalidReason characters of text. Line
// breaks are allowed (it is free text); other control characters are not,
// since the reason is shown on the timeline as it was typed.
func CleanInvalidReason(reason string) (string, bool) {
	reason = strings.TrimSpace(reason)
	if reason == "" || chars(reason) > MaxInvalidReason {
		return reason, false
	}
	return reason, IDProblem(strings.NewReplacer("\r\n", " ", "\n", " ").Replace(reason)) == ""
}

// MayMarkInvalid says whether c may mark a lead invalid: its assignee, or
// whoever may change the lead (Changer.MayChange: the owner, an admin or a
// manager of the org, or the operator, on a team-owned lead; only the
// owning user on an agent-owned one).
func (c Changer) MayMarkInvalid(ownerUserID, assignedTo string) error {
	if c.UserID != "" && c.UserID == assignedTo {
		return nil
	}
	if c.MayChange(ownerUserID) == nil {
		return nil
	}
	return Errorf(EForbidden, "only the lead's assignee, or the org's owner, an admin or a manager, may mark it invalid")
}

// ShortDuration prints a claim window the way people write it: "30m",
// "1h30m", "2h", "1m30s", where time.Duration would print "30m0s".
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
