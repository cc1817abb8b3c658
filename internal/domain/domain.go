package domain

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Role decides what a user may do in an org and whether routing rotates
// leads to them (SPEC §1).
type Role string

// The roles of SPEC §1, in the form the API and the database store them.
const (
	RoleOwner        Role = "owner"
	RoleAdmin        Role = "admin"
	RoleManager      Role = "manager"
	RoleProfessional Role = "professional"
	RoleStaff        Role = "staff"
)

// Valid reports whether r is one of the five roles, since a role arrives
// as free text from the API.
func (r Role) Valid() bool {
	switch r {
	case RoleOwner, RoleAdmin, RoleManager, RoleProfessional, RoleStaff:
		return true
	}
	return false
}

// Licensed roles hold a sales licence (SPEC §1).
func (r Role) Licensed() bool { return r == RoleManager || r == RoleProfessional }

// ManagesOrg reports whether r may add users and configure sources.
func (r Role) ManagesOrg() bool { return r == RoleOwner || r == RoleAdmin }

// Rotates reports whether staff_evenly rotates leads to r (SPEC §5.2).
func (r Role) Rotates() bool { return r == RoleStaff || r == RoleProfessional || r == RoleManager }

// RotatingRoles is Rotates as a list, for SQL.
var RotatingRoles = []string{string(RoleStaff), string(RoleProfessional), string(RoleManager)}

// RoutingMode is how a source hands out its leads (SPEC §4, §5.2).
type RoutingMode string

// The routing modes a source may be configured with.
const (
	RouteOwner       RoutingMode = "owner"
	RouteStaffEvenly RoutingMode = "staff_evenly"
	RouteSubAgencies RoutingMode = "sub_agencies_evenly"
	RoutePending     RoutingMode = "pending"
	RouteQueue       RoutingMode = "queue"
)

// Where an unassigned lead waits (SPEC §1): pending until someone with
// permission acts, or queue until a rep claims it.
const (
	LocationPending = "pending"
	LocationQueue   = "queue"
)

// DateLayout is how dates read in emails and pages.
const DateLayout = "Mon 2 Jan 2006 15:04 MST"

// Priorities are a source's priorities, lowest first.
var Priorities = []string{"normal", "medium", "high"}

// Token kinds and their printed prefixes, so a leaked token is recognisable.
const (
	TokenUser   = "user"
	TokenVendor = "vendor"
)

// NewToken returns a random 256-bit token with a readable prefix, and its hash.
func NewToken(prefix string) (plain string, hash []byte) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	plain = prefix + base64.RawURLEncoding.EncodeToString(b)
	return plain, HashToken(plain)
}

// NewID returns a random (version 4) UUID, for rows whose id must be known
// before they are written (a lead's id names its workflow).
func NewID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// HashToken is how tokens are stored and looked up: the plain token never is.
func HashToken(plain string) []byte {
	h := sha256.Sum256([]byte(plain))
	return h[:]
}

// ---- sources ----

// Routing is the routing workflow of one (org, source).
type Routing struct {
	Mode        RoutingMode `json:"mode"`
	SubAgencies []string    `json:"sub_agencies,omitempty"`
	QueueDelay  string      `json:"queue_delay,omitempty"`
	Group       string      `json:"group,omitempty"` // mode group: the group's name
	User        string      `json:"user,omitempty"`  // mode user: the user's id
}

// SourceConfig is the body of PUT /v1/orgs/{org}/sources/{slug}.
type SourceConfig struct {
	Name                       string   `json:"name"`
	Routing                    Routing  `json:"routing"`
	ForceLocation              *string  `json:"force_location,omitempty"`
	Priority                   string   `json:"priority"`
	PurchaseNotificationEmails []string `json:"purchase_notification_emails,omitempty"`
	ReturnNotificationEmails   []string `json:"return_notification_emails,omitempty"`
	IncludeCommentsOnReturn    bool     `json:"include_comments_on_return,omitempty"`
	ReturnTemplate             *string  `json:"return_template,omitempty"`
	// Rules come before Routing, the default (SPEC §5.6); WhenNobody says
	// what happens when a rotation finds nobody available ("" : owner).
	Rules          []Rule `json:"rules,omitempty"`
	WhenNobody     string `json:"when_nobody,omitempty"`
	VendorDailyCap *int   `json:"vendor_daily_cap,omitempty"`
	// SLA escalates a routed lead nobody worked in time (SPEC §5.7); nil:
	// none.
	SLA *SLA `json:"sla,omitempty"`
	// Return rules (SPEC §5.7): how long after its arrival a lead may be
	// returned ("" : any time) and the reasons a return may give (none:
	// any reason).
	ReturnWindow  string   `json:"return_window,omitempty"`
	ReturnReasons []string `json:"return_reasons,omitempty"`
}

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// ValidSlug accepts lower-case letters, digits, '-' and '_' (at most 64),
// so a slug can go into URL paths and workflow IDs as it is.
func ValidSlug(s string) bool { return slugRE.MatchString(s) }

// Validate checks everything that needs no database and normalises the config.
// It returns the parsed queue delay.
func (c *SourceConfig) Validate() (time.Duration, error) {
	f := FieldErrors{}
	c.Name = strings.TrimSpace(c.Name)
	if c.Name == "" || len(c.Name) > 200 {
		f.Add("name", "required, at most 200 characters")
	}
	routingProblems("routing", &c.Routing, f)
	var delay time.Duration
	if c.Routing.QueueDelay != "" {
		delay, _ = time.ParseDuration(c.Routing.QueueDelay)
	}
	c.rulesProblems(f)
	if c.SLA != nil {
		c.SLA.Validate("sla", f)
	}
	if c.ForceLocation != nil && *c.ForceLocation != LocationPending && *c.ForceLocation != LocationQueue {
		f.Add("force_location", "pending or queue")
	}
	if c.Priority == "" {
		c.Priority = "normal"
	}
	if !slices.Contains(Priorities, c.Priority) {
		f.Add("priority", "normal, medium or high")
	}
	for i, e := range c.PurchaseNotificationEmails {
		if !ValidEmail(e) {
			f.Add("purchase_notification_emails", "not an email address: "+e)
		}
		c.PurchaseNotificationEmails[i] = strings.TrimSpace(e)
	}
	for i, e := range c.ReturnNotificationEmails {
		if !ValidEmail(e) {
			f.Add("return_notification_emails", "not an email address: "+e)
		}
		c.ReturnNotificationEmails[i] = strings.TrimSpace(e)
	}
	if len(c.PurchaseNotificationEmails) > 20 {
		f.Add("purchase_notification_emails", "at most 20 addresses")
	}
	if len(c.ReturnNotificationEmails) > 20 {
		f.Add("return_notification_emails", "at most 20 addresses")
	}
	if c.ReturnTemplate != nil && strings.TrimSpace(*c.ReturnTemplate) == "" {
		c.ReturnTemplate = nil // blank: the built-in template
	}
	if c.ReturnTemplate != nil {
		// Checked here, once: a template that saves never fails an email.
		if p := ReturnTemplateProblem(*c.ReturnTemplate); p != "" {
			f.Add("return_template", p)
		}
	}
	c.returnRulesProblems(f)
	return delay, f.Err("invalid source")
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// ValidUUID lets a malformed id be refused before it reaches a uuid column,
// where PostgreSQL would fail the whole query (a 500, not a 404 or 422).
func ValidUUID(s string) bool { return uuidRE.MatchString(s) }

// NormalID is the one spelling of an id that the API compares, stores and
// answers with: the hyphenated form in lower case. PostgreSQL finds a uuid
// row whatever its case, so an id compared as text must be normalised first,
// or ABC… and abc… pass as two orgs. It accepts what ValidUUID accepts, in
// any case; braces, URNs and unhyphenated forms are refused (false), as
// nothing leadrelay hands out is spelled that way.
func NormalID(s string) (string, bool) {
	if !uuidRE.MatchString(s) {
		return "", false
	}
	return strings.ToLower(s), true
}

// ValidEmail accepts a bare address (no display name) with a dotted domain.
func ValidEmail(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 254 {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && strings.Contains(s[at+1:], ".") && !strings.HasSuffix(s, ".")
}

// ValidPhone accepts 7–15 digits (E.164 length) with the usual punctuation.
func ValidPhone(s string) bool {
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, r == ' ', r == '-', r == '(', r == ')', r == '.':
		default:
			return false
		}
	}
	return digits >= 7 && digits <= 15
}

// Invitation statuses: the word the API shows and the invitation's workflow
// reports.
const (
	InvitePending  = "pending"
	InviteAccepted = "accepted"
	InviteDeclined = "declined"
	InviteExpired  = "expired"
	InviteRevoked  = "revoked"
)
