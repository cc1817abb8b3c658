// Package webhook holds what outbound webhooks need below the layers that
// use them (the API checks a URL when saved, the activities sign and send):
// signing per the Standard Webhooks specification, and the guard that
// keeps deliveries off loopback, private and link-local addresses.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every secret, as the specification writes them: the
// rest is the key in standard base64.
const SecretPrefix = "whsec_"

// NewSecret returns a fresh secret: 32 random bytes (the specification
// asks for 24 to 64).
func NewSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// ErrSecret says a secret given is not whsec_ and the base64 of 24 to 64
// bytes. It never quotes the secret.
var ErrSecret = errors.New("want whsec_ followed by the base64 of 24 to 64 random bytes")

// SecretKey decodes a secret to the HMAC key it stands for.
func SecretKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || !strings.HasPrefix(secret, SecretPrefix) || len(key) < 24 || len(key) > 64 {
		return nil, ErrSecret
	}
	return key, nil
}

// Mask shows a secret's prefix and its last four characters only: enough to
// tell two apart, never enough to sign.
func Mask(secret string) string {
	if len(secret) < len(SecretPrefix)+8 {
		return SecretPrefix + "…"
	}
	return SecretPrefix + "…" + secret[len(secret)-4:]
}

// Sign returns the webhook-signature header of one message: "v1," and the
// base64 HMAC-SHA256, keyed by the secret's key, of "id.timestamp.body".
func Sign(key []byte, msgID string, at time.Time, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msgID + "." + strconv.FormatInt(at.Unix(), 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Headers are the three headers of a signed message, by name.
func Headers(key []byte, msgID string, at time.Time, body []byte) map[string]string {
	return map[string]string{
		"webhook-id":        msgID,
		"webhook-timestamp": strconv.FormatInt(at.Unix(), 10),
		"webhook-signature": Sign(key, msgID, at, body),
	}
}
