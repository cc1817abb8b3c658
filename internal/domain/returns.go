package domain

import (
	"fmt"
	"strings"
	"time"
)

// Limits of a return's body (POST /v1/leads/{id}/return), in characters.
const (
	MaxReturnReason   = 500
	MaxReturnComments = 5000
)

// ReturnInput is the body of POST /v1/leads/{id}/return: why the lead goes
// back to its vendor and, optionally, comments for the vendor.
type ReturnInput struct {
	Reason   string  `json:"reason"`
	Comments *string `json:"comments"`
}

// Validate trims the input and reports every bad field at once. The reason
// is one line, since it goes into subjects and timeline lines; comments may
// run over several lines.
func (in *ReturnInput) Validate() error {
	f := FieldErrors{}
	in.Reason = strings.TrimSpace(in.Reason)
	switch {
	case in.Reason == "":
		f.Add("reason", fmt.Sprintf("required: 1 to %d characters on one line", MaxReturnReason))
	case IDProblem(in.Reason) != "":
		f.Add("reason", IDProblem(in.Reason))
	case chars(in.Reason) > MaxReturnReason:
		f.Add("reason", fmt.Sprintf("at most %d characters", MaxReturnReason))
	}
	if in.Comments != nil {
		c := strings.TrimSpace(*in.Comments)
		in.Comments = &c
		switch {
		case TextProblem(c) != "":
			f.Add("comments", TextProblem(c))
		case chars(c) > MaxReturnComments:
			f.Add("comments", fmt.Sprintf("at most %d characters", MaxReturnComments))
		}
	}
	return f.Err("invalid return")
}

// Text is the comments, "" when none were sent.
func (in ReturnInput) Text() string {
	if in.Comments == nil {
		return ""
	}
	return *in.Comments
}

// MayReturn says whether c may return a lead owned by ownerUserID ("" for a
// team-owned lead) to its vendor. It is the rule of MayChange: returning
// takes the lead away from whoever controls it, and a lead transferred to a
// user is theirs alone to let go of.
func (c Changer) MayReturn(ownerUserID string) error {
	if c.MayChange(ownerUserID) == nil {
		return nil
	}
	if ownerUserID != "" {
		return Errorf(EForbidden, "the lead is agent-owned: only the user who owns it may return it")
	}
	return Errorf(EForbidden, "only the org's owner, an admin or a manager may return a lead")
}

// The bounds of a source's return rules (SPEC §5.7). A window under a
// minute could refuse a lead before anyone saw it; the vendors we copy
// (LeadsPedia, boberdoo) credit returns for days to weeks, and a quarter is
// past any billing cycle. Reasons are short labels a vendor credits by, not
// prose: the comments carry the prose.
const (
	MinReturnWindow  = time.Minute
	MaxReturnWindow  = 90 * 24 * time.Hour
	MaxReturnReasons = 50
	MaxReasonLabel   = 100
)

// ReturnWindowRule is what the API says when a return window is refused.
const ReturnWindowRule = "a Go duration such as 72h or 168h, from 1m to 2160h (90 days), in whole seconds; empty for no window"

// ParseReturnWindow reads a source's return window as a Go duration string
// ("72h", "168h"), as queue_delay and the claim window are read: "" is no
// window (0). Whole seconds only, so what PostgreSQL keeps is what was sent.
func ParseReturnWindow(s string) (time.Duration, bool) {
	if s == "" {
		return 0, true
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < MinReturnWindow || d > MaxReturnWindow || d%time.Second != 0 {
		return 0, false
	}
	return d, true
}

// returnRulesProblems checks and normalises a source's return rules: the
// window is trimmed ("" : none), each reason trimmed, and a repeat of a
// reason in another case refused, since a return matches reasons without
// case and two spellings of one would be one reason with two names.
func (c *SourceConfig) returnRulesProblems(f FieldErrors) {
	c.ReturnWindow = strings.TrimSpace(c.ReturnWindow)
	if _, ok := ParseReturnWindow(c.ReturnWindow); !ok {
		f.Add("return_window", ReturnWindowRule)
	}
	if len(c.ReturnReasons) > MaxReturnReasons {
		f.Add("return_reasons", fmt.Sprintf("at most %d reasons", MaxReturnReasons))
		return
	}
	seen := map[string]bool{}
	for i, r := range c.ReturnReasons {
		r = strings.TrimSpace(r)
		c.ReturnReasons[i] = r
		at := fmt.Sprintf("return_reasons[%d]", i)
		switch {
		case r == "":
			f.Add(at, fmt.Sprintf("1 to %d characters on one line", MaxReasonLabel))
		case IDProblem(r) != "":
			f.Add(at, IDProblem(r))
		case chars(r) > MaxReasonLabel:
			f.Add(at, fmt.Sprintf("at most %d characters", MaxReasonLabel))
		case seen[strings.ToLower(r)]:
			f.Add(at, "a repeat of an earlier reason (reasons are compared without case)")
		}
		seen[strings.ToLower(r)] = true
	}
}

// MatchReturnReason finds reason in a source's list without regard to case
// and answers the list's spelling, so the vendor credits by one label
// whatever a user typed. An empty list allows any reason, as sent.
func MatchReturnReason(reasons []string, reason string) (string, error) {
	if len(reasons) == 0 {
		return reason, nil
	}
	for _, r := range reasons {
		if strings.EqualFold(r, reason) {
			return r, nil
		}
	}
	return "", &Error{Code: EInvalid, Message: "invalid return",
		Fields: map[string]string{"reason": "not one of this source's return reasons: " + strings.Join(reasons, "; ")}}
}
