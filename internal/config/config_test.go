package config

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"
)

func load(env map[string]string) (*Config, error) {
	return Load(func(k string) string { return env[k] })
}

func TestDefaults(t *testing.T) {
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.TemporalAddress != "127.0.0.1:7233" || c.TemporalNamespace != "default" || c.TaskQueue != "leadrelay" ||
		c.HTTPAddr != "127.0.0.1:8080" || c.PublicBaseURL != "http://127.0.0.1:8080" || c.DigestAt != "08:00" ||
		c.VendorRate != (RateLimit{50, 200}) || c.MailFrom != "leadrelay <noreply@localhost>" || c.DigestDelay != 0 ||
		c.MetricsAddr != "127.0.0.1:9464" {
		t.Fatalf("defaults: %+v", c)
	}
	if err := c.Require("DATABASE_URL"); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("Require: %v", err)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	for k, v := range map[string]string{
		"DATABASE_URL": "mysql://x", "TEMPORAL_ADDRESS": "nohostport", "HTTP_ADDR": "127.0.0.1:99999",
		"PUBLIC_BASE_URL": "ftp://x", "ADMIN_TOKEN": "short", "SMTP_URL": "http://mail", "MAIL_FROM": "nobody",
		"NEW_LEAD_DIGEST_AT": "25:00", "NEW_LEAD_DIGEST_DELAY": "soon", "VENDOR_RATE_LIMIT": "fast",
		"METRICS_ADDR": "9464",
	} {
		_, err := load(map[string]string{k: v})
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%q: %v, want an error naming %s", k, v, err, k)
		}
	}
}

func TestParsing(t *testing.T) {
	c, err := load(map[string]string{"VENDOR_RATE_LIMIT": "120/m,burst=5", "NEW_LEAD_DIGEST_DELAY": "2m",
		"SMTP_URL": "smtps://u:p@mail.example:2465", "HTTP_ADDR": "0.0.0.0:9000", "PUBLIC_BASE_URL": "https://leads.example/"})
	if err != nil {
		t.Fatal(err)
	}
	if c.VendorRate != (RateLimit{2, 5}) || c.DigestDelay != 2*time.Minute || c.PublicBaseURL != "https://leads.example" {
		t.Fatalf("%+v", c)
	}
	if c, err := load(map[string]string{"METRICS_ADDR": "off"}); err != nil || c.MetricsAddr != "" {
		t.Fatalf("METRICS_ADDR=off: %v %+v, want no metrics listener", err, c)
	}
	s, _ := ParseSMTPURL(c.SMTPURL)
	if s != (SMTP{Host: "mail.example", Port: 2465, User: "u", Pass: "p", ImplicitTLS: true}) {
		t.Fatalf("%+v", s)
	}
	if _, err := load(map[string]string{"DATABASE_URL": "postgres://u:secret@h/db", "SMTP_URL": "smtp://u:hunter2@:x"}); err == nil ||
		strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("a bad SMTP_URL error must not print the password: %v", err)
	}
}

// The limits on user tokens and the trusted proxies: their defaults, off,
// and a bad value stops the process naming the variable.
func TestUserLimitsAndTrustedProxies(t *testing.T) {
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.UserRate != (RateLimit{50, 200}) || c.TransfersPerOrg != 3 || len(c.TrustedProxies) != 0 || c.WebhookAllowPrivate {
		t.Fatalf("defaults: user rate %+v, transfers %d, proxies %v", c.UserRate, c.TransfersPerOrg, c.TrustedProxies)
	}
	c, err = load(map[string]string{"USER_RATE_LIMIT": "off", "TRANSFERS_PER_ORG": "off", "TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7,::1/128"})
	if err != nil {
		t.Fatal(err)
	}
	if c.UserRate != (RateLimit{}) || c.TransfersPerOrg != 0 || fmt.Sprint(c.TrustedProxies) != "[10.0.0.0/8 192.0.2.7/32 ::1/128]" {
		t.Fatalf("off: %+v %d %v", c.UserRate, c.TransfersPerOrg, c.TrustedProxies)
	}
	if c, err := load(map[string]string{"WEBHOOK_ALLOW_PRIVATE": "true"}); err != nil || !c.WebhookAllowPrivate {
		t.Fatalf("WEBHOOK_ALLOW_PRIVATE=true: %v", err)
	}
	for k, v := range map[string]string{"USER_RATE_LIMIT": "lots", "TRANSFERS_PER_ORG": "0", "TRUSTED_PROXIES": "10.0.0.0/33",
		"WEBHOOK_ALLOW_PRIVATE": "yes", "WEBHOOK_SECRET_KEY": "c2hvcnQ="} {
		if _, err := load(map[string]string{k: v}); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%q: %v, want an error naming %s", k, v, err, k)
		}
	}
}

// WEBHOOK_SECRET_KEY is the base64 of 32 bytes in either alphabet, padded
// or not; anything else stops the process naming the variable, never
// printing the value.
func TestWebhookSecretKey(t *testing.T) {
	c, err := load(nil)
	if err != nil || c.WebhookSecretKey != nil {
		t.Fatalf("unset: %v %v", c.WebhookSecretKey, err)
	}
	key := bytes.Repeat([]byte{0xfb, 0xff, 0x01}, 11)[:32]
	for _, v := range []string{base64.StdEncoding.EncodeToString(key), base64.RawStdEncoding.EncodeToString(key),
		base64.URLEncoding.EncodeToString(key), base64.RawURLEncoding.EncodeToString(key)} {
		c, err := load(map[string]string{"WEBHOOK_SECRET_KEY": v})
		if err != nil || !bytes.Equal(c.WebhookSecretKey, key) {
			t.Errorf("%q: %x %v", v, c.WebhookSecretKey, err)
		}
	}
	for _, bad := range []string{base64.StdEncoding.EncodeToString(key[:31]), base64.StdEncoding.EncodeToString(append(key, 1)),
		"not base64 at all, secretvalue"} {
		_, err := load(map[string]string{"WEBHOOK_SECRET_KEY": bad})
		if err == nil || !strings.Contains(err.Error(), "WEBHOOK_SECRET_KEY") || strings.Contains(err.Error(), bad) {
			t.Errorf("%q: %v, want an error naming the variable without the value", bad, err)
		}
	}
}
