// Package config reads leadrelay's settings from the environment (SPEC §3).
// A missing or malformed setting is an error that names the variable, so a
// process stops at start instead of failing on the first request.
package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Config is every setting a process reads, checked once by Load so that
// nothing later has to handle a malformed value.
type Config struct {
	DatabaseURL       string
	TemporalAddress   string
	TemporalNamespace string
	TaskQueue         string
	HTTPAddr          string
	PublicBaseURL     string
	AdminToken        string
	SMTPURL           string
	MailFrom          string
	DigestAt          string        // "HH:MM", org-local
	DigestDelay       time.Duration // 0 = unset
	VendorRate        RateLimit
	// AuthFailureRate limits failed authentications per client address
	// (AUTH_FAILURE_RATE_LIMIT); the zero value (off) limits nothing.
	AuthFailureRate RateLimit
	// UserRate limits the requests of each user token (USER_RATE_LIMIT);
	// the zero value (off) limits nothing.
	UserRate RateLimit
	// TransfersPerOrg bounds the transfers one org has running at once
	// (TRANSFERS_PER_ORG); 0 (off) bounds nothing.
	TransfersPerOrg int
	// TrustedProxies are the peers whose X-Forwarded-For is believed
	// (TRUSTED_PROXIES); empty: the peer is the client.
	TrustedProxies []netip.Prefix
	// MetricsAddr is where the worker serves Prometheus metrics
	// (METRICS_ADDR); "" when set to off.
	MetricsAddr string
	// WebhookAllowPrivate lets webhooks reach loopback, private and
	// link-local addresses (WEBHOOK_ALLOW_PRIVATE=true): tests and a
	// receiver on the same network; off by default, so an org cannot aim
	// deliveries at the machine's neighbours.
	WebhookAllowPrivate bool
	// WebhookSecretKey seals webhook endpoints' secrets in the database
	// (WEBHOOK_SECRET_KEY, the base64 of 32 random bytes): the API seals,
	// the worker opens, so both get the same key. Empty: webhooks are off.
	WebhookSecretKey []byte
}

// RateLimit is VENDOR_RATE_LIMIT: PerSecond sustained with a Burst.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// Error names the offending variable.
type Error struct {
	Var, Value, Why string
}

func (e *Error) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("config: %s: %s", e.Var, e.Why)
	}
	return fmt.Sprintf("config: %s=%q: %s", e.Var, e.Value, e.Why)
}

// Load reads the environment. getenv is os.Getenv in production; tests pass a map.
func Load(getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	get := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	c := &Config{
		DatabaseURL:       get("DATABASE_URL", ""),
		TemporalAddress:   get("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		TemporalNamespace: get("TEMPORAL_NAMESPACE", "default"),
		TaskQueue:         get("TEMPORAL_TASK_QUEUE", "leadrelay"),
		HTTPAddr:          get("HTTP_ADDR", "127.0.0.1:8080"),
		AdminToken:        get("ADMIN_TOKEN", ""),
		SMTPURL:           get("SMTP_URL", ""),
		MailFrom:          get("MAIL_FROM", "leadrelay <noreply@localhost>"),
		DigestAt:          get("NEW_LEAD_DIGEST_AT", "08:00"),
		MetricsAddr:       get("METRICS_ADDR", "127.0.0.1:9464"),
	}
	c.PublicBaseURL = get("PUBLIC_BASE_URL", "http://"+c.HTTPAddr)

	if c.DatabaseURL != "" {
		if err := checkDatabaseURL(c.DatabaseURL); err != nil {
			return nil, &Error{"DATABASE_URL", redact(c.DatabaseURL), err.Error()}
		}
	}
	if err := hostPort(c.TemporalAddress); err != nil {
		return nil, &Error{"TEMPORAL_ADDRESS", c.TemporalAddress, err.Error()}
	}
	if err := hostPort(c.HTTPAddr); err != nil {
		return nil, &Error{"HTTP_ADDR", c.HTTPAddr, err.Error()}
	}
	if c.MetricsAddr == "off" {
		c.MetricsAddr = ""
	} else if err := hostPort(c.MetricsAddr); err != nil {
		return nil, &Error{"METRICS_ADDR", c.MetricsAddr, err.Error() + ", or off"}
	}
	if u, err := url.Parse(c.PublicBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &Error{"PUBLIC_BASE_URL", c.PublicBaseURL, "want an absolute http(s) URL"}
	}
	c.PublicBaseURL = strings.TrimRight(c.PublicBaseURL, "/")
	if c.AdminToken != "" && len(c.AdminToken) < 22 {
		// 22 base64 characters carry 128 bits; anything shorter is guessable.
		return nil, &Error{"ADMIN_TOKEN", "", "must be at least 22 characters (128 random bits)"}
	}
	if c.SMTPURL != "" {
		if _, err := ParseSMTPURL(c.SMTPURL); err != nil {
			return nil, &Error{"SMTP_URL", redact(c.SMTPURL), err.Error()}
		}
	}
	if a, err := mail.ParseAddress(c.MailFrom); err != nil || a.Address == "" {
		return nil, &Error{"MAIL_FROM", c.MailFrom, "not an email address"}
	}
	if _, err := ParseClock(c.DigestAt); err != nil {
		return nil, &Error{"NEW_LEAD_DIGEST_AT", c.DigestAt, err.Error()}
	}
	if v := get("NEW_LEAD_DIGEST_DELAY", ""); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, &Error{"NEW_LEAD_DIGEST_DELAY", v, "want a positive Go duration such as 2m"}
		}
		c.DigestDelay = d
	}
	rl := get("VENDOR_RATE_LIMIT", "50/s,burst=200")
	r, err := ParseRateLimit(rl)
	if err != nil {
		return nil, &Error{"VENDOR_RATE_LIMIT", rl, err.Error()}
	}
	c.VendorRate = r
	if al := get("AUTH_FAILURE_RATE_LIMIT", "10/s,burst=100"); al != "off" {
		r, err := ParseRateLimit(al)
		if err != nil {
			return nil, &Error{"AUTH_FAILURE_RATE_LIMIT", al, err.Error() + ", or off"}
		}
		c.AuthFailureRate = r
	}
	if ul := get("USER_RATE_LIMIT", "50/s,burst=200"); ul != "off" {
		r, err := ParseRateLimit(ul)
		if err != nil {
			return nil, &Error{"USER_RATE_LIMIT", ul, err.Error() + ", or off"}
		}
		c.UserRate = r
	}
	if v := get("TRANSFERS_PER_ORG", "3"); v != "off" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return nil, &Error{"TRANSFERS_PER_ORG", v, "want a number from 1 to 10000, or off"}
		}
		c.TransfersPerOrg = n
	}
	switch v := get("WEBHOOK_ALLOW_PRIVATE", "false"); v {
	case "true":
		c.WebhookAllowPrivate = true
	case "false":
	default:
		return nil, &Error{"WEBHOOK_ALLOW_PRIVATE", v, "want true or false"}
	}
	if v := get("WEBHOOK_SECRET_KEY", ""); v != "" {
		k, err := decodeKey(v)
		if err != nil || len(k) != 32 {
			// The value is a secret: the error never quotes it.
			return nil, &Error{"WEBHOOK_SECRET_KEY", "", "want the base64 of 32 random bytes, e.g. `openssl rand -base64 32`"}
		}
		c.WebhookSecretKey = k
	}
	if v := get("TRUSTED_PROXIES", ""); v != "" {
		ps, err := parsePrefixes(v)
		if err != nil {
			return nil, &Error{"TRUSTED_PROXIES", v, err.Error()}
		}
		c.TrustedProxies = ps
	}
	return c, nil
}

// decodeKey reads standard or URL-safe base64, padded or not: what
// openssl and the usual generators print.
func decodeKey(v string) ([]byte, error) {
	v = strings.TrimRight(v, "=")
	if strings.ContainsAny(v, "-_") {
		return base64.RawURLEncoding.DecodeString(v)
	}
	return base64.RawStdEncoding.DecodeString(v)
}

// parsePrefixes reads comma-separated CIDRs; a bare address is its own /32
// or /128.
func parsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			a, aerr := netip.ParseAddr(part)
			if aerr != nil {
				return nil, fmt.Errorf("want comma-separated CIDRs such as 10.0.0.0/8,::1/128: %q is not one", part)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// checkDatabaseURL accepts the two forms libpq and pgx read: a URL
// (postgres://user:pass@host:port/db?opt=v) and keyword=value pairs
// (host=h port=5432 user=u password='p w' dbname=d).
func checkDatabaseURL(s string) error {
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		if _, err := url.Parse(s); err != nil {
			return fmt.Errorf("not a valid URL: want postgres://user@host:port/db")
		}
		return nil
	}
	if !strings.Contains(s, "=") {
		return fmt.Errorf("want postgres://user@host:port/db or host=… dbname=… keyword pairs")
	}
	if _, err := parseKeywords(s); err != nil {
		return fmt.Errorf("keyword form: %v", err)
	}
	return nil
}

var keywordRE = regexp.MustCompile(`^[a-z_]+$`)

// parseKeywords reads libpq's keyword=value form: values are bare words or
// single-quoted with \' and \\ escapes. Its errors never quote a value.
func parseKeywords(s string) (map[string]string, error) {
	out := map[string]string{}
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			return out, nil
		}
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[start:i]
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) || s[i] != '=' || !keywordRE.MatchString(key) {
			return nil, fmt.Errorf("want keyword=value pairs (keywords are lowercase letters and _)")
		}
		i++
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		var v strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					v.WriteByte(s[i+1])
					i += 2
					continue
				}
				i++
				if c == '\'' {
					closed = true
					break
				}
				v.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("the value of %s has no closing quote", key)
			}
			if i < len(s) && !isSpace(s[i]) {
				return nil, fmt.Errorf("the quoted value of %s must be followed by a space", key)
			}
		} else {
			for i < len(s) && !isSpace(s[i]) {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				v.WriteByte(s[i])
				i++
			}
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("%s is given twice", key)
		}
		out[key] = v.String()
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// Require reports the first of the named settings that is empty.
func (c *Config) Require(names ...string) error {
	for _, n := range names {
		var v string
		switch n {
		case "DATABASE_URL":
			v = c.DatabaseURL
		case "SMTP_URL":
			v = c.SMTPURL
		case "ADMIN_TOKEN":
			v = c.AdminToken
		default:
			panic("config: Require of unknown " + n)
		}
		if v == "" {
			return &Error{Var: n, Why: "required but not set"}
		}
	}
	return nil
}

func hostPort(s string) error {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("want host:port")
	}
	_ = h
	if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("bad port %q", p)
	}
	return nil
}

var rateRE = regexp.MustCompile(`^\s*([0-9]+(?:\.[0-9]+)?)\s*/\s*(s|m|h)\s*(?:,\s*burst\s*=\s*([0-9]+)\s*)?$`)

// ParseRateLimit reads "50/s,burst=200" (also /m and /h; burst defaults to the rate).
func ParseRateLimit(s string) (RateLimit, error) {
	m := rateRE.FindStringSubmatch(s)
	if m == nil {
		return RateLimit{}, fmt.Errorf("want N/s,burst=M such as 50/s,burst=200")
	}
	n, _ := strconv.ParseFloat(m[1], 64)
	if n <= 0 {
		return RateLimit{}, fmt.Errorf("rate must be positive")
	}
	per := map[string]float64{"s": 1, "m": 60, "h": 3600}[m[2]]
	r := RateLimit{PerSecond: n / per, Burst: int(n)}
	if m[3] != "" {
		b, _ := strconv.Atoi(m[3])
		if b < 1 {
			return RateLimit{}, fmt.Errorf("burst must be at least 1")
		}
		r.Burst = b
	}
	if r.Burst < 1 {
		r.Burst = 1
	}
	return r, nil
}

// ParseClock reads "HH:MM" and returns minutes after midnight.
func ParseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("want HH:MM (24-hour)")
	}
	return t.Hour()*60 + t.Minute(), nil
}

// SMTP is a parsed SMTP_URL.
type SMTP struct {
	Host        string
	Port        int
	User, Pass  string
	ImplicitTLS bool
}

// ParseSMTPURL is shared by Load, which checks SMTP_URL at start, and the
// mail sender, so both agree on the scheme, default port and credentials.
func ParseSMTPURL(s string) (SMTP, error) {
	u, err := url.Parse(s)
	if err != nil {
		return SMTP{}, fmt.Errorf("not a URL")
	}
	var out SMTP
	switch u.Scheme {
	case "smtp":
	case "smtps":
		out.ImplicitTLS = true
	default:
		return SMTP{}, fmt.Errorf("scheme must be smtp or smtps")
	}
	out.Host = u.Hostname()
	if out.Host == "" {
		return SMTP{}, fmt.Errorf("missing host")
	}
	port := u.Port()
	if port == "" {
		port = map[bool]string{false: "25", true: "465"}[out.ImplicitTLS]
	}
	out.Port, err = strconv.Atoi(port)
	if err != nil || out.Port < 1 || out.Port > 65535 {
		return SMTP{}, fmt.Errorf("bad port %q", port)
	}
	if u.User != nil {
		out.User = u.User.Username()
		out.Pass, _ = u.User.Password()
	}
	return out, nil
}

var credsRE = regexp.MustCompile(`://[^/@]*@`)

// passwordKWRE finds the password of a keyword-form connection string, quoted
// (up to an unescaped closing quote, or the end when there is none) or bare.
// A bare value may hold backslash-escaped spaces (libpq reads `a\ b` as "a b").
var passwordKWRE = regexp.MustCompile(`(?i)(password\s*=\s*)(?:'(?:[^'\\]|\\.)*(?:'|\\?$)|(?:[^\s'\\]|\\.)(?:[^\s\\]|\\.)*\\?|'?$)`)

// queryPasswordRE finds a password given as a URL query parameter.
var queryPasswordRE = regexp.MustCompile(`(?i)([?&]password=)[^&#]*`)

// looseCredsRE finds user:password@ in something that is not a URL at all.
var looseCredsRE = regexp.MustCompile(`((?:^|[\s/])[^\s/:@]*):[^\s/@]*@`)

// redact hides a password in a URL or a keyword-form connection string
// (password=…) before it is printed, also in one too broken to parse.
func redact(s string) string {
	if !strings.Contains(s, "://") {
		s = passwordKWRE.ReplaceAllString(s, "${1}xxxxx")
		return looseCredsRE.ReplaceAllString(s, "${1}:xxxxx@")
	}
	s = queryPasswordRE.ReplaceAllString(s, "${1}xxxxx")
	u, err := url.Parse(s)
	if err != nil {
		return credsRE.ReplaceAllString(s, "://xxxxx@")
	}
	if u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
