package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// ErrForbiddenAddress says a host resolves to an address a webhook may not
// reach unless WEBHOOK_ALLOW_PRIVATE=true.
var ErrForbiddenAddress = errors.New("resolves to a loopback, private, link-local, unspecified or multicast address (WEBHOOK_ALLOW_PRIVATE=true allows them)")

// Forbidden says whether a delivery may not reach a: loopback, private
// (RFC 1918, RFC 4193), link-local (cloud metadata lives there), CGNAT,
// unspecified or multicast. An IPv4-mapped IPv6 address is judged as the
// IPv4 one it carries.
func Forbidden(a netip.Addr) bool {
	a = a.Unmap()
	return !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() || cgnat.Contains(a)
}

// cgnat is the shared address space of RFC 6598, private in practice.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// Guard decides which addresses deliveries may reach.
type Guard struct {
	// AllowPrivate lets deliveries reach every address: WEBHOOK_ALLOW_PRIVATE.
	AllowPrivate bool
	// Resolver looks hosts up (nil: net.DefaultResolver).
	Resolver *net.Resolver
}

// CheckURL resolves the URL's host and refuses it if any of its addresses
// is forbidden: what the API checks when an endpoint is saved. A delivery
// checks again when it dials (Client), so a name that later resolves
// elsewhere cannot slip through.
func (g Guard) CheckURL(ctx context.Context, raw string) error {
	if g.AllowPrivate {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		if Forbidden(a) {
			return ErrForbiddenAddress
		}
		return nil
	}
	r := g.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("host %s does not resolve", host)
	}
	for _, a := range addrs {
		if Forbidden(a) {
			return ErrForbiddenAddress
		}
	}
	return nil
}

// control refuses, just before connecting, an address the guard forbids:
// the address dialled is the one checked, whatever DNS said before.
func (g Guard) control(_, address string, _ syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return err
	}
	if Forbidden(ap.Addr()) {
		return fmt.Errorf("dial %s: %w", ap.Addr(), ErrForbiddenAddress)
	}
	return nil
}

// Client is the HTTP client deliveries are sent with: every connection it
// opens is checked by the guard as it is dialled, no proxy from the
// environment, no redirects followed (a redirect is the receiver's answer,
// not a new destination), and timeout bounding one attempt.
func (g Guard) Client(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, Control: g.control, Resolver: g.Resolver}
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: t, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
