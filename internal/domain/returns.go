package domain

import (
	"fmt"
	"strings"
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
