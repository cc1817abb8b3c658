package webhook

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
)

// An endpoint's secret must stay readable (it signs every delivery), so it
// cannot be hashed like a token. It is kept sealed instead: AES-256-GCM
// under WEBHOOK_SECRET_KEY, which only the API (sealing what it is given)
// and the worker (opening it to sign) hold. A copy of the database, a
// backup or a replica then holds no secret that signs.

// ErrNoKey says the process was started without WEBHOOK_SECRET_KEY.
var ErrNoKey = errors.New("this server has no WEBHOOK_SECRET_KEY: webhooks are off (docs/webhooks.md)")

// errSealed says a sealed secret does not open under the key: another key
// sealed it, or the bytes were changed.
var errSealed = errors.New("the endpoint's secret does not open under WEBHOOK_SECRET_KEY (was the key changed?)")

// sealAD binds a sealed value to what it is, so no other sealed value of
// a later use can be passed off as a webhook secret.
var sealAD = []byte("leadrelay webhook secret v1")

// Sealer seals and opens endpoint secrets. A nil Sealer has no key: every
// call answers ErrNoKey.
type Sealer struct{ aead cipher.AEAD }

// NewSealer returns the Sealer of a 32-byte key; no key, no Sealer (nil).
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) == 0 {
		return nil, nil
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal returns a fresh nonce followed by the sealed secret.
func (s *Sealer) Seal(secret string) ([]byte, error) {
	if s == nil {
		return nil, ErrNoKey
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(secret)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, []byte(secret), sealAD), nil
}

// Open returns the secret Seal sealed.
func (s *Sealer) Open(sealed []byte) (string, error) {
	if s == nil {
		return "", ErrNoKey
	}
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errSealed
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], sealAD)
	if err != nil {
		return "", errSealed
	}
	return string(plain), nil
}
