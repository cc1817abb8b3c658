package domain

import (
	"strings"
	"time"
	_ "time/tzdata" // org timezones must resolve on machines without zoneinfo
)

// The bounds of an org's claim window (SPEC §5.5). Under a minute a rep
// could not open a claimed lead before it went back to the queue; past a
// week the claim is abandoned, not slow, and speed-to-lead is lost anyway.
const (
	MinClaimWindow = time.Minute
	MaxClaimWindow = 7 * 24 * time.Hour
)

// ClaimWindowRule is what the API says when a claim window is refused.
const ClaimWindowRule = "a Go duration such as 30m or 1h30m, from 1m to 168h (7 days), in whole seconds"

// ParseClaimWindow reads a claim window as a Go duration string ("30m",
// "1h30m"). Whole seconds only, so what PostgreSQL keeps is what was sent.
func ParseClaimWindow(s string) (time.Duration, bool) {
	d, err := time.ParseDuration(s)
	if err != nil || d < MinClaimWindow || d > MaxClaimWindow || d%time.Second != 0 {
		return 0, false
	}
	return d, true
}

// The bounds of an org's retention_days (issue 20). Under a month a lead
// closed by mistake and reopened loses its story before anyone looks;
// past ten years it is for ever in all but name, which null says.
const (
	MinRetentionDays = 30
	MaxRetentionDays = 3650
)

// RetentionDaysRule is what the API says when retention_days is refused.
const RetentionDaysRule = "30 to 3650 days, or null to keep closed leads' events for ever"

// OrgNameRule is what the API says when an org's name is refused.
const OrgNameRule = "required, at most 200 characters"

// CleanOrgName trims an org's name and reports whether it is 1 to 200
// characters, the bound the orgs table also enforces.
func CleanOrgName(name string) (string, bool) {
	name = strings.TrimSpace(name)
	return name, name != "" && chars(name) <= 200
}

// TimezoneRule is what the API says when a timezone is refused.
const TimezoneRule = "not an IANA time zone such as America/Chicago"

// OrgLocation is an org's time zone for its dates and clocks: UTC when the
// name does not load (the API refuses such a zone; an older row still gets
// its emails and digests).
func OrgLocation(tz string) *time.Location {
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return time.UTC
	}
	return loc
}

// ValidTimezone accepts IANA zone names. "Local" is refused: it means the
// server's zone, which is no org's.
func ValidTimezone(tz string) bool {
	if tz == "" || tz == "Local" {
		return false
	}
	_, err := time.LoadLocation(tz)
	return err == nil
}
