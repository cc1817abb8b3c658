package api

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/domain"
)

// allow spends one token of the vendor key's bucket; it returns how long to
// wait when the bucket is empty.
func (s *Server) allow(key string) (bool, time.Duration) {
	d := s.vendors.take(key)
	return d == 0, d
}

func retryAfter(d time.Duration) string {
	return fmt.Sprint(int(math.Ceil(d.Seconds())))
}

// preAuth limits failed authentications per client address, before anything
// is looked up: once an address has spent its allowance of failures (401s,
// and 404s for unknown invitation links), its requests get 429 with
// Retry-After until the bucket refills, without reaching a handler. Requests
// that authenticate spend nothing. Health checks and scrapes are never limited.
func (s *Server) preAuth(h http.Handler) http.Handler {
	if s.authFails == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" {
			h.ServeHTTP(w, r)
			return
		}
		key := clientKey(s.clientAddr(r))
		if wait := s.authFails.wait(key); wait > 0 {
			w.Header().Set("Retry-After", retryAfter(wait))
			writeErr(w, domain.Errorf(domain.ERateLimited, "too many failed authentications from this address: retry after %s", wait.Round(time.Millisecond)))
			return
		}
		// preAuth runs inside logged: the status is read from its recorder.
		rec := w.(*recorder)
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusUnauthorized || (rec.status == http.StatusNotFound && tokenRoute(r.URL.Path)) {
			s.authFails.spend(key)
		}
	})
}

// tokenRoute: the path carries an invitation token (/invitations/{token}…,
// /v1/invitations/{token}/…), so a 404 there is a wrong guess.
func tokenRoute(p string) bool {
	return strings.HasPrefix(p, "/invitations/") || strings.HasPrefix(p, "/v1/invitations/")
}

// clientAddr is the client's address: the peer's, unless the peer is a
// trusted proxy (TRUSTED_PROXIES). Then X-Forwarded-For is read from the
// right, past every trusted proxy, to the first address none of them is:
// the one the nearest trusted proxy saw. Entries left of it are whatever
// the client wrote and are never believed.
func (s *Server) clientAddr(r *http.Request) string {
	peer := r.RemoteAddr
	if len(s.Cfg.TrustedProxies) == 0 || !s.trusted(peer) {
		return peer
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if _, err := netip.ParseAddr(hop); err != nil {
			// A hop that is not an address: the proxy that passed it on is
			// the last one known.
			return peer
		}
		if !s.trusted(hop) {
			return hop
		}
		peer = hop
	}
	return peer
}

// trusted: addr (host or host:port) is in TRUSTED_PROXIES.
func (s *Server) trusted(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range s.Cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientKey is the address a request is limited by: the client's IP (IPv4),
// or its /64 for IPv6, where one client commonly holds a whole /64.
func clientKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// keyedLimiter is a token bucket per key (a vendor's source, a client
// address). Buckets that have refilled are forgotten when the map grows, so a
// spread of keys cannot grow it without bound for longer than a refill.
type keyedLimiter struct {
	mu        sync.Mutex
	perSecond float64
	burst     int
	buckets   map[string]*rate.Limiter
	sweepAt   int
}

const sweepFloor = 4096

func newKeyedLimiter(perSecond float64, burst int) *keyedLimiter {
	return &keyedLimiter{perSecond: perSecond, burst: burst, buckets: map[string]*rate.Limiter{}, sweepAt: sweepFloor}
}

// bucket is key's bucket; nil when it has none and create is false.
func (l *keyedLimiter) bucket(key string, create bool) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b != nil || !create {
		return b
	}
	if len(l.buckets) >= l.sweepAt {
		for k, v := range l.buckets {
			if v.Tokens() >= float64(l.burst) {
				delete(l.buckets, k)
			}
		}
		l.sweepAt = max(sweepFloor, 2*len(l.buckets))
	}
	b = rate.NewLimiter(rate.Limit(l.perSecond), l.burst)
	l.buckets[key] = b
	return b
}

// KeyedLimiter is the API's token bucket per key, for the process's other
// front door: the console limits sign-in asks per client address with it.
type KeyedLimiter = keyedLimiter

// NewKeyedLimiter refills each key's bucket at perSecond, up to burst.
func NewKeyedLimiter(perSecond float64, burst int) *KeyedLimiter {
	return newKeyedLimiter(perSecond, burst)
}

// Allow spends one token of key's bucket, if it has one.
func (l *keyedLimiter) Allow(key string) bool { return l.take(key) == 0 }

// wait is how long key must wait before its next attempt (0: go ahead). It
// spends nothing.
func (l *keyedLimiter) wait(key string) time.Duration {
	b := l.bucket(key, false)
	if b == nil {
		return 0
	}
	tokens := b.Tokens()
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / l.perSecond * float64(time.Second))
}

// take spends one token of key's bucket: 0 when there was one, else how
// long to wait for it (and nothing is spent).
func (l *keyedLimiter) take(key string) time.Duration {
	res := l.bucket(key, true).Reserve()
	if d := res.Delay(); d > 0 {
		res.Cancel()
		return d
	}
	return 0
}

// spend records one failure of key.
func (l *keyedLimiter) spend(key string) { l.bucket(key, true).Allow() }

// ClientKey is the address a request is limited by, read as the API reads it
// (TRUSTED_PROXIES honoured, IPv6 by /64): the console's sign-in limit
// counts per client with it.
func ClientKey(cfg *config.Config, r *http.Request) string {
	return clientKey((&Server{Cfg: cfg}).clientAddr(r))
}
