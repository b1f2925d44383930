package webhook

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/toteorg/tote"
)

// An endpoint is any URL an app names, so without care Tote would POST to
// its own network: the database, the cloud metadata service, the admin
// port. Endpoints must be https and public: checked when a subscription is
// created or changed (CheckEndpoint), and again for every connection, on
// the address it actually dials (NewClient), so a name that resolves to a
// private address later is refused too. --webhook-allow-private lifts both
// checks, for development and tests.

// MaxEndpointLength bounds remote_endpoint.
const MaxEndpointLength = 2048

// CheckEndpoint checks a subscription's URL: absolute, https (http too when
// allowPrivate), with a host that is not a private, loopback or otherwise
// non-public address. It returns EINVALID naming field.
func CheckEndpoint(raw string, allowPrivate bool, field string) error {
	bad := func(msg string) error { return tote.Invalid(tote.FieldError{Field: field, Message: msg}) }
	if raw == "" {
		return bad("is required")
	}
	if len(raw) > MaxEndpointLength {
		return bad(fmt.Sprintf("must be at most %d characters", MaxEndpointLength))
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return bad("must be an absolute URL such as https://example.com/webhooks")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowPrivate:
	case u.Scheme == "http":
		return bad("must use https (plain http needs --webhook-allow-private)")
	default:
		return bad("must use https")
	}
	if u.Fragment != "" {
		return bad("must not have a #fragment")
	}
	if allowPrivate {
		return nil
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".local") ||
		strings.HasSuffix(host, ".internal") || !strings.Contains(host, ".") && net.ParseIP(host) == nil {
		return bad("must be a public host (private hosts need --webhook-allow-private)")
	}
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil && !Public(ip) {
		return bad("must be a public address (private addresses need --webhook-allow-private)")
	}
	return nil
}

// nonPublic lists the special-purpose ranges Public refuses beyond what
// netip classifies itself (RFC 6890 and its successors).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: may reach IPv4 private space
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4: embeds an IPv4 address
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
}

// Public reports whether a delivery may connect to ip: a global unicast
// address outside private, loopback, link-local (cloud metadata) and other
// special ranges. IPv4-mapped IPv6 addresses are judged as IPv4.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// guardDial refuses connections to non-public addresses. It runs after name
// resolution, on the very address being dialled.
func guardDial(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook: refusing to dial %s: %w", address, err)
	}
	if !Public(ap.Addr()) {
		return fmt.Errorf("webhook: refusing to dial %s: not a public address (see --webhook-allow-private)", ap.Addr())
	}
	return nil
}

// NewClient returns the HTTP client deliveries are sent with: timeout per
// attempt (headers and body), no redirects followed (a 3xx is a failed
// attempt), no proxy from the environment, and, unless allowPrivate,
// connections only to public addresses.
func NewClient(timeout time.Duration, allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: min(timeout, 5*time.Second), KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = guardDial
	}
	transport := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   min(timeout, 10*time.Second),
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          1000,
		MaxIdleConnsPerHost:   100,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport:     transport,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// schemeAllowed re-checks the scheme at delivery time, so a subscription
// made with --webhook-allow-private is not served plain http by a server
// running without it.
func schemeAllowed(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme == "https" || u.Scheme == "http" && allowPrivate {
		return nil
	}
	return fmt.Errorf("webhook: refusing %s endpoint (see --webhook-allow-private)", u.Scheme)
}
