package egress

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/awf-dev/awf/internal/domains"
)

// Destination classes the SSRF guard refuses. Private ones are admitted
// with Config.AllowPrivate; the others never are.
const (
	addrOK = iota
	addrPrivate
	addrForbidden
)

var (
	privatePrefixes = []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("100.64.0.0/10"),
		netip.MustParsePrefix("fc00::/7"),
	}
	forbiddenPrefixes = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),    // "this network": 0.x reaches the local host on Linux
		netip.MustParsePrefix("240.0.0.0/4"),  // reserved, incl. broadcast
		netip.MustParsePrefix("192.0.0.0/24"), // IETF protocol assignments
		netip.MustParsePrefix("100::/64"),     // discard-only
		netip.MustParsePrefix("2001:10::/28"), // ORCHID
		netip.MustParsePrefix("fec0::/10"),    // deprecated site-local
		// Deprecated IPv4-compatible addresses (::a.b.c.d): never valid
		// destinations, and some stacks would read the IPv4 inside.
		netip.MustParsePrefix("::/96"),
	}
	// NAT64 prefixes embed an IPv4 address that must pass the same checks.
	nat64Prefixes = []netip.Prefix{
		netip.MustParsePrefix("64:ff9b::/96"),
		netip.MustParsePrefix("64:ff9b:1::/48"),
	}
)

// classify sorts a destination address for the SSRF guard.
func classify(a netip.Addr) int {
	a = a.Unmap()
	if a.Is6() {
		for _, p := range nat64Prefixes {
			if p.Contains(a) {
				b := a.As16()
				return classify(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
			}
		}
	}
	if !a.IsValid() || a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() {
		return addrForbidden
	}
	for _, p := range forbiddenPrefixes {
		if p.Contains(a) {
			return addrForbidden
		}
	}
	for _, p := range privatePrefixes {
		if p.Contains(a) {
			return addrPrivate
		}
	}
	return addrOK
}

// destAllowed reports whether the guard lets a connection go to a.
func destAllowed(a netip.Addr, allowPrivate bool) bool {
	switch classify(a) {
	case addrOK:
		return true
	case addrPrivate:
		return allowPrivate
	}
	return false
}

// isRawIP reports whether host names an address rather than a domain, in
// any spelling a resolver would accept: bracketed or bare IPv6, dotted
// IPv4, and the shortened, decimal, octal and hex IPv4 forms ("ends in a
// number", as the WHATWG URL parser puts it).
func isRawIP(host string) bool {
	if domains.IsRawIP(host) {
		return true
	}
	h := strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if h == "" {
		return false
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if strings.Contains(h, ":") {
		return true // nothing with a colon is a domain name
	}
	last := h[strings.LastIndexByte(h, '.')+1:]
	if last == "" {
		return false
	}
	if _, err := strconv.ParseUint(last, 10, 64); err == nil {
		return true
	}
	l := strings.ToLower(last)
	if strings.HasPrefix(l, "0x") {
		_, err := strconv.ParseUint(l[2:]+"0", 16, 64)
		return err == nil
	}
	return false
}
