package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// UnroutedAfter is how long a lead may stay unrouted before it counts as
// stranded and the reconciler restarts its run: far past a normal run's
// milliseconds, short enough that the lead is still worked the same hour.
const UnroutedAfter = 2 * time.Minute

// MaxLeadBody is the largest lead a vendor may post (SPEC §4).
const MaxLeadBody = 64 << 10

// Address is a lead's postal address. Every part is optional, since a
// vendor may know only the city or the postal code.
type Address struct {
	Street     string `json:"street,omitempty"`
	City       string `json:"city,omitempty"`
	State      string `json:"state,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
}

// LeadInput is the body of POST /v1/leads. Location is the vendor's wish
// (pending or queue); a source's force_location overrides it (SPEC §5.5).
type LeadInput struct {
	ExternalID string            `json:"external_id"`
	FirstName  string            `json:"first_name,omitempty"`
	LastName   string            `json:"last_name,omitempty"`
	Email      string            `json:"email,omitempty"`
	Phone      string            `json:"phone,omitempty"`
	Address    Address           `json:"address,omitempty"`
	Company    string            `json:"company,omitempty"`
	Rating     string            `json:"rating,omitempty"`
	Notes      string            `json:"notes,omitempty"`
	Labels     []string          `json:"labels,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	Location   string            `json:"location,omitempty"`
	Kind       string            `json:"kind,omitempty"` // lead (default) or team_member: a recruited agent tracked after hiring
}

// Lead kinds (SPEC §1).
const (
	KindLead       = "lead"
	KindTeamMember = "team_member"
)

// Lead statuses a lead can be listed by (GET /v1/orgs/{org}/leads?status=):
// every status the spec names, whether or not a lead has reached it yet.
const (
	StatusNew        = "new"
	StatusOnboarding = "onboarding" // a team_member moved between orgs (SPEC §5.3)
	StatusReturned   = "returned"   // returned to the vendor (SPEC §5.5)
	StatusInvalid    = "invalid"    // marked invalid by its assignee (SPEC §4)
)

// LeadStatuses lists the statuses in the order they are named to callers.
var LeadStatuses = []string{StatusNew, StatusOnboarding, StatusReturned, StatusInvalid}

// ValidLeadStatus reports whether s is one of LeadStatuses.
func ValidLeadStatus(s string) bool { return slices.Contains(LeadStatuses, s) }

// MaxExternalID is the longest external_id, in characters (runes), not bytes.
const MaxExternalID = 128

// Bounds of the other lead fields, in characters: every field has one, so
// what a vendor sends cannot outgrow the emails, CSV exports and return
// templates it is written into (README, "Lead fields").
const (
	MaxShortField     = 500    // names, company, rating, address parts
	MaxPhone          = 32     // separators included: 15 digits and their punctuation
	MaxNotes          = 10_000 //
	MaxLabels         = 50
	MaxLabel          = 100
	MaxAttributes     = 100
	MaxAttributeKey   = 100
	MaxAttributeValue = 1_000
)

// TextProblem says what is wrong with a string that must be text: invalid
// UTF-8 or a NUL. It returns "" for good text.
func TextProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "must not contain NUL"
	}
	return ""
}

// IDProblem is TextProblem for an identifier: it also refuses control
// characters (Unicode category Cc: C0, DEL and C1) and the line and paragraph
// separators U+2028 and U+2029, which break lines in logs, CSV exports and
// emails. Everything else (any script, emoji, format characters such as the
// zero-width joiner inside emoji sequences) is accepted.
func IDProblem(s string) string {
	if p := TextProblem(s); p != "" {
		return p
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Sprintf("must not contain control characters (found U+%04X)", r)
		}
	}
	return ""
}

// chars counts characters (runes), the unit every "at most N characters" uses.
func chars(s string) int { return utf8.RuneCountInString(s) }

// Validate trims the input and reports every bad field at once. Every string
// must be valid UTF-8 without NUL; external_id also without control characters.
func (in *LeadInput) Validate() error {
	f := FieldErrors{}
	in.ExternalID = strings.TrimSpace(in.ExternalID)
	switch {
	case in.ExternalID == "":
		f.Add("external_id", "required")
	case IDProblem(in.ExternalID) != "":
		f.Add("external_id", IDProblem(in.ExternalID))
	case chars(in.ExternalID) > MaxExternalID:
		f.Add("external_id", fmt.Sprintf("at most %d characters", MaxExternalID))
	}
	in.Email = strings.TrimSpace(in.Email)
	in.Phone = strings.TrimSpace(in.Phone)
	text := map[string]string{"first_name": in.FirstName, "last_name": in.LastName, "email": in.Email,
		"phone": in.Phone, "company": in.Company, "rating": in.Rating, "notes": in.Notes,
		"address.street": in.Address.Street, "address.city": in.Address.City, "address.state": in.Address.State,
		"address.postal_code": in.Address.PostalCode, "location": in.Location}
	for k, v := range text {
		if p := TextProblem(v); p != "" {
			f.Add(k, p)
		}
	}
	if in.Email != "" && f["email"] == "" && !ValidEmail(in.Email) {
		f.Add("email", "not a valid email address")
	}
	switch {
	case in.Phone == "" || f["phone"] != "":
	case chars(in.Phone) > MaxPhone:
		f.Add("phone", fmt.Sprintf("at most %d characters, separators included", MaxPhone))
	case !ValidPhone(in.Phone):
		f.Add("phone", "not a valid phone number (7 to 15 digits)")
	}
	if chars(in.Notes) > MaxNotes {
		f.Add("notes", fmt.Sprintf("at most %d characters", MaxNotes))
	}
	if in.Email == "" && in.Phone == "" {
		f.Add("email", "email or phone is required")
		f.Add("phone", "email or phone is required")
	}
	short := map[string]string{"first_name": in.FirstName, "last_name": in.LastName, "company": in.Company,
		"rating": in.Rating, "address.street": in.Address.Street, "address.city": in.Address.City,
		"address.state": in.Address.State, "address.postal_code": in.Address.PostalCode}
	for k, v := range short {
		if chars(v) > MaxShortField {
			f.Add(k, fmt.Sprintf("at most %d characters", MaxShortField))
		}
	}
	if len(in.Labels) > MaxLabels {
		f.Add("labels", fmt.Sprintf("at most %d labels", MaxLabels))
	}
	for i, l := range in.Labels {
		if p := TextProblem(l); p != "" {
			f.Add(fmt.Sprintf("labels[%d]", i), p)
			continue
		}
		l = strings.TrimSpace(l)
		if l == "" || chars(l) > MaxLabel {
			f.Add("labels", fmt.Sprintf("each label 1 to %d characters", MaxLabel))
		}
		in.Labels[i] = l
	}
	for k, v := range in.Attributes {
		if p := TextProblem(k); p != "" {
			f.Add("attributes", "keys "+p)
			continue
		}
		if k == "" || chars(k) > MaxAttributeKey {
			f.Add("attributes", fmt.Sprintf("keys 1 to %d characters", MaxAttributeKey))
		}
		if p := TextProblem(v); p != "" {
			f.Add("attributes."+k, p)
		} else if chars(v) > MaxAttributeValue {
			f.Add("attributes."+k, fmt.Sprintf("at most %d characters", MaxAttributeValue))
		}
	}
	if len(in.Attributes) > MaxAttributes {
		f.Add("attributes", fmt.Sprintf("at most %d attributes", MaxAttributes))
	}
	switch in.Kind {
	case "":
		in.Kind = KindLead
	case KindLead, KindTeamMember:
	default:
		f.Add("kind", "lead or team_member")
	}
	if in.Location != "" && in.Location != LocationPending && in.Location != LocationQueue && f["location"] == "" {
		f.Add("location", "pending or queue")
	}
	return f.Err("invalid lead")
}

// Placement is where the routing rules send a lead before a person is chosen.
type Placement struct {
	Location string // "", pending or queue
	Reason   string
}

// Place decides whether a lead waits in a location or goes on to be assigned:
// a source's force_location wins, then the vendor's wish, then the mode.
func Place(mode RoutingMode, forceLocation, vendorLocation string, queueDelay time.Duration) Placement {
	switch {
	case forceLocation != "":
		return Placement{forceLocation, fmt.Sprintf("source forces location %s", forceLocation)}
	case vendorLocation != "":
		return Placement{vendorLocation, fmt.Sprintf("vendor asked for location %s", vendorLocation)}
	case mode == RoutePending:
		return Placement{LocationPending, "source routing is pending: waits for someone with permission"}
	case mode == RouteQueue:
		return Placement{LocationQueue, fmt.Sprintf("source routing is queue: claimable after %s", queueDelay)}
	}
	return Placement{}
}
