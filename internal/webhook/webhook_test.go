package webhook

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The signature is checked by the Standard Webhooks project's own Go
// verifier: what a receiver runs.
func TestSignVerifiedByStandardWebhooks(t *testing.T) {
	secret := NewSecret()
	key, err := SecretKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"lead.assigned","timestamp":"2026-12-06T03:00:00Z","data":{"schema_version":1}}`)
	h := http.Header{}
	for k, v := range Headers(key, "msg_abc", time.Now(), body) {
		h.Set(k, v)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(body, h); err != nil {
		t.Fatalf("the standard verifier refused our signature: %v", err)
	}
	if err := wh.Verify(append(body, ' '), h); err == nil {
		t.Fatal("a changed body verified")
	}
	other, _ := standardwebhooks.NewWebhook(NewSecret())
	if err := other.Verify(body, h); err == nil {
		t.Fatal("another secret verified")
	}
	want, _ := wh.Sign("msg_abc", time.Unix(1700000000, 0), body)
	if got := Sign(key, "msg_abc", time.Unix(1700000000, 0), body); got != want {
		t.Fatalf("Sign = %s, the library signs %s", got, want)
	}
}

func TestSecretKey(t *testing.T) {
	for _, s := range []string{"", "whsec_", "whsec_!!!", "abc", "whsec_c2hvcnQ=", NewSecret()[len(SecretPrefix):]} {
		if _, err := SecretKey(s); !errors.Is(err, ErrSecret) {
			t.Errorf("SecretKey(%q) = %v, want ErrSecret", s, err)
		}
	}
	if m := Mask(NewSecret()); !strings.HasPrefix(m, "whsec_…") || len(m) > 14 {
		t.Errorf("Mask = %q", m)
	}
}

func TestForbidden(t *testing.T) {
	for a, want := range map[string]bool{
		"127.0.0.1": true, "::1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true,
		"169.254.169.254": true, "fe80::1": true, "fc00::1": true, "0.0.0.0": true, "::": true,
		"224.0.0.1": true, "ff02::1": true, "100.64.0.1": true, "::ffff:127.0.0.1": true, "::ffff:10.0.0.1": true,
		"8.8.8.8": false, "2001:4860:4860::8888": false, "93.184.216.34": false,
	} {
		if got := Forbidden(netip.MustParseAddr(a)); got != want {
			t.Errorf("Forbidden(%s) = %v, want %v", a, got, want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	ctx := context.Background()
	g := Guard{}
	for _, u := range []string{"http://127.0.0.1:8080/x", "https://[::1]/", "http://localhost/", "http://169.254.169.254/latest",
		"http://10.0.0.8/"} {
		if err := g.CheckURL(ctx, u); err == nil {
			t.Errorf("CheckURL(%s) allowed", u)
		}
	}
	if err := g.CheckURL(ctx, "https://93.184.216.34/hook"); err != nil {
		t.Errorf("a public address refused: %v", err)
	}
	if err := (Guard{AllowPrivate: true}).CheckURL(ctx, "http://127.0.0.1/"); err != nil {
		t.Errorf("AllowPrivate refused loopback: %v", err)
	}
}

// The dial-time check is what stops a name that resolved to a public
// address when saved and to a private one when sent.
func TestClientRefusesAtDial(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	_, err := Guard{}.Client(5 * time.Second).Get(srv.URL)
	if err == nil || !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("a loopback receiver was reached through the guard: %v", err)
	}
	resp, err := Guard{AllowPrivate: true}.Client(5 * time.Second).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// A sealed secret opens under its key only, and not once changed; a
// process without a key neither seals nor opens.
func TestSealedSecretOpensUnderItsKeyOnly(t *testing.T) {
	key := make([]byte, 32)
	key[0] = 1
	s, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	secret := NewSecret()
	sealed, err := s.Seal(secret)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), strings.TrimPrefix(secret, SecretPrefix)) {
		t.Fatal("the sealed bytes hold the secret")
	}
	again, _ := s.Seal(secret)
	if string(again) == string(sealed) {
		t.Fatal("two seals of one secret are equal: the nonce is not fresh")
	}
	if got, err := s.Open(sealed); err != nil || got != secret {
		t.Fatalf("open: %q %v", got, err)
	}
	other := make([]byte, 32)
	o, _ := NewSealer(other)
	if _, err := o.Open(sealed); err == nil {
		t.Fatal("another key opened it")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := s.Open(sealed); err == nil {
		t.Fatal("a changed seal opened")
	}
	if _, err := s.Open(sealed[:5]); err == nil {
		t.Fatal("a short seal opened")
	}
	var none *Sealer
	if n, err := NewSealer(nil); n != nil || err != nil {
		t.Fatalf("no key: %v %v", n, err)
	}
	if _, err := none.Seal(secret); !errors.Is(err, ErrNoKey) {
		t.Fatalf("seal without a key: %v", err)
	}
	if _, err := none.Open(again); !errors.Is(err, ErrNoKey) {
		t.Fatalf("open without a key: %v", err)
	}
}
