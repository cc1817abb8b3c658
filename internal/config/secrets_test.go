package config

import (
	"strings"
	"testing"
)

// DATABASE_URL may be libpq's keyword form; a malformed one is refused with
// an error that names the variable and never prints the password.
func TestKeywordDatabaseURL(t *testing.T) {
	for _, ok := range []string{
		"host=db.example port=5432 user=lr password=secret dbname=leads sslmode=require",
		"host=db.example password='se cret \\' x' dbname=leads",
		"host = db.example dbname=leads",
	} {
		if _, err := load(map[string]string{"DATABASE_URL": ok}); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{
		"host=x password=secret dbname",                // a keyword without =
		"host=x password='secret dbname=y",             // no closing quote
		"host=x password='secret'dbname=y",             // no space after the quote
		"host=x password=secret password=secret",       // twice
		"host=x Password=secret dbname=y garbage",      // not keywords
		"host=x password = secret%secret dbname=y !!!", // trailing junk
		"user:secret@host/db?x=1",                      // a URL without its scheme
		"postgres://u:secret@[::1/db",                  // a URL that does not parse
		"host=x password=ab\\ secret dbname",           // a backslash-escaped space in a bare value
		"postgres://h:bad/db?password=secret",          // the password as a query parameter of a broken URL
	} {
		_, err := load(map[string]string{"DATABASE_URL": bad})
		if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
			t.Errorf("%q: %v, want an error naming DATABASE_URL", bad, err)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("%q: the error prints the password: %v", bad, err)
		}
	}
}

func TestAuthFailureRateLimit(t *testing.T) {
	c, err := load(nil)
	if err != nil || c.AuthFailureRate != (RateLimit{10, 100}) {
		t.Fatalf("default: %+v %v", c.AuthFailureRate, err)
	}
	c, err = load(map[string]string{"AUTH_FAILURE_RATE_LIMIT": "off"})
	if err != nil || c.AuthFailureRate != (RateLimit{}) {
		t.Fatalf("off: %+v %v", c.AuthFailureRate, err)
	}
	c, err = load(map[string]string{"AUTH_FAILURE_RATE_LIMIT": "60/m,burst=5"})
	if err != nil || c.AuthFailureRate != (RateLimit{1, 5}) {
		t.Fatalf("60/m: %+v %v", c.AuthFailureRate, err)
	}
	if _, err := load(map[string]string{"AUTH_FAILURE_RATE_LIMIT": "lots"}); err == nil || !strings.Contains(err.Error(), "AUTH_FAILURE_RATE_LIMIT") {
		t.Fatalf("bad value: %v", err)
	}
}
