package domains

import (
	"errors"
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
)

// lookupProfile is UTS #46 lookup processing (idna.Lookup) without the STD3
// ASCII rules, as the WHATWG URL parser and so Node, browsers and the
// original's Squid see names: `_` passes (`_dmarc.example.com`, `my_host`),
// and so would other ASCII punctuation, which checkLabels then rejects. With
// Unicode 16 tables STD3 only restricts ASCII, so nothing else changes.
var lookupProfile = idna.New(idna.MapForLookup(), idna.BidiRule(),
	idna.StrictDomainName(false), idna.Transitional(false))

// maxHostInput bounds the work done on a hostile name. A name longer than this
// could only shrink to 253 bytes through ignorable code points, and a name
// made of those has no business being admitted.
const maxHostInput = 1024

var (
	// ErrInvalidHost is returned for a name that is not a valid host name
	// after canonicalisation: IDNA failure, a character outside letters,
	// digits, hyphens, underscores and dots, an empty or over-long label, or
	// a last label that is a number (a resolver or URL parser would read it
	// as an address).
	ErrInvalidHost = errors.New("invalid host name")
	// ErrRawIP is returned by Canonical for a name that spells an IP address.
	ErrRawIP = errors.New("raw IP not allowed")
)

type hostKind int

const (
	kindName hostKind = iota
	kindIPv4
	kindIPv6
	kindInvalid
)

// Canonical returns the form of host every decision is made on: ASCII
// (UTS #46 lookup mapping, then punycode), lower case, one trailing dot
// removed. Any two spellings a resolver or TLS stack would treat as the same
// name have the same canonical form, so a caller that compares names (SNI
// against CONNECT target, Host header against URL) must compare these.
// Names that spell an IP address yield ErrRawIP, invalid names ErrInvalidHost.
func Canonical(host string) (string, error) {
	c, k := classify(host)
	switch k {
	case kindName:
		return c, nil
	case kindIPv4, kindIPv6:
		return c, ErrRawIP
	}
	return "", ErrInvalidHost
}

// classify canonicalises host and says what it is. For addresses the
// canonical form is the address's standard text (dotted decimal, RFC 5952).
func classify(host string) (string, hostKind) {
	if len(host) == 0 || len(host) > maxHostInput {
		return "", kindInvalid
	}
	if host[0] == '[' || strings.IndexByte(host, ':') >= 0 {
		a, ok := parseBracketed(host)
		if !ok {
			return "", kindInvalid
		}
		if a.Is4() {
			return a.String(), kindIPv4
		}
		return a.String(), kindIPv6
	}
	name, err := toASCII(host)
	if err != nil {
		return "", kindInvalid
	}
	if name[0] >= '0' && name[0] <= '9' { // every spelling of an IPv4 address starts with a digit
		if a, ok := parseIPv4Loose(name); ok {
			return a.String(), kindIPv4
		}
	}
	if endsInNumber(name) {
		// The original denies anything shaped like a dotted quad as a raw
		// IPv4 address even when a part is out of range; keep that rule id.
		if looksDottedQuad(name) {
			return name, kindIPv4
		}
		return "", kindInvalid
	}
	return name, kindName
}

// ParseRawIP reports whether host spells an IP address in any form that
// resolvers (inet_aton), URL parsers (WHATWG) or proxies accept, and which:
// dotted decimal, octal (`0177.0.0.1`) and hex (`0x7f.0.0.1`) parts, fewer
// than four parts (`203.0.28948`, `3405803796`), a trailing dot, fullwidth
// digits, and IPv6 with or without brackets and zone. The returned address
// is the canonical form.
func ParseRawIP(host string) (netip.Addr, bool) {
	if len(host) == 0 || len(host) > maxHostInput {
		return netip.Addr{}, false
	}
	if host[0] == '[' || strings.IndexByte(host, ':') >= 0 {
		return parseBracketed(host)
	}
	name, err := toASCII(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return parseIPv4Loose(name)
}

// IsRawIP reports whether host spells an IP address (see ParseRawIP).
func IsRawIP(host string) bool {
	_, ok := ParseRawIP(host)
	return ok
}

func parseBracketed(s string) (netip.Addr, bool) {
	if strings.HasPrefix(s, "[") {
		if !strings.HasSuffix(s, "]") {
			return netip.Addr{}, false
		}
		s = s[1 : len(s)-1]
	}
	// RFC 6874 writes the zone separator as %25 inside URLs.
	if i := strings.Index(s, "%25"); i >= 0 {
		s = s[:i] + "%" + s[i+3:]
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a, true
	}
	if name, err := toASCII(s); err == nil {
		return parseIPv4Loose(name)
	}
	return netip.Addr{}, false
}

// parseIPv4Loose reads s (already lower case, no trailing dot) the way
// inet_aton and the WHATWG URL parser do: one to four parts, each decimal,
// octal (leading 0) or hex (0x); the last part fills the remaining bytes.
func parseIPv4Loose(s string) (netip.Addr, bool) {
	var parts [4]uint64
	n := 0
	for {
		i := strings.IndexByte(s, '.')
		p := s
		if i >= 0 {
			p = s[:i]
		}
		if n == 4 {
			return netip.Addr{}, false
		}
		v, ok := parseIPv4Number(p)
		if !ok {
			return netip.Addr{}, false
		}
		parts[n] = v
		n++
		if i < 0 {
			break
		}
		s = s[i+1:]
	}
	for i := 0; i < n-1; i++ {
		if parts[i] > 255 {
			return netip.Addr{}, false
		}
	}
	last := parts[n-1]
	if last >= 1<<(8*(5-n)) {
		return netip.Addr{}, false
	}
	var v uint32
	for i := 0; i < n-1; i++ {
		v |= uint32(parts[i]) << (8 * (3 - i))
	}
	v |= uint32(last)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// parseIPv4Number reads one part; values above 2^32 saturate so that the
// range check rejects them without overflow.
func parseIPv4Number(p string) (uint64, bool) {
	if p == "" {
		return 0, false
	}
	base := uint64(10)
	switch {
	case len(p) >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'):
		base, p = 16, p[2:]
	case len(p) >= 2 && p[0] == '0':
		base, p = 8, p[1:]
	}
	var v uint64
	for i := 0; i < len(p); i++ {
		d, ok := digitValue(p[i])
		if !ok || d >= base {
			return 0, false
		}
		if v <= 1<<32 {
			v = v*base + d
		}
	}
	return v, true
}

func digitValue(c byte) (uint64, bool) {
	switch {
	case '0' <= c && c <= '9':
		return uint64(c - '0'), true
	case 'a' <= c && c <= 'f':
		return uint64(c-'a') + 10, true
	case 'A' <= c && c <= 'F':
		return uint64(c-'A') + 10, true
	}
	return 0, false
}

// endsInNumber is the WHATWG "ends in a number" test: a last label of only
// digits, or 0x followed by hex digits, makes a URL parser read the host as
// an IPv4 address, so such a name is never a DNS name.
func endsInNumber(name string) bool {
	last := name[strings.LastIndexByte(name, '.')+1:]
	if last == "" {
		return false
	}
	if allDigits(last) {
		return true
	}
	if len(last) >= 2 && last[0] == '0' && last[1] == 'x' {
		for i := 2; i < len(last); i++ {
			if _, ok := digitValue(last[i]); !ok {
				return false
			}
		}
		return true
	}
	return false
}

// looksDottedQuad is the original's dst_ipv4 test: ^[0-9]+(\.[0-9]+){3}$.
func looksDottedQuad(s string) bool {
	parts := 0
	for {
		i := strings.IndexByte(s, '.')
		p := s
		if i >= 0 {
			p = s[:i]
		}
		if p == "" || !allDigits(p) {
			return false
		}
		parts++
		if i < 0 {
			return parts == 4
		}
		s = s[i+1:]
	}
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// toASCII maps a host name to its canonical ASCII form. Plain lower-case
// ASCII names (the common case on the connection path) are checked in place
// without allocating; anything else goes through lookupProfile. Both paths
// apply the same label rules (the tests compare them).
func toASCII(h string) (string, error) {
	if len(h) == 0 || len(h) > maxHostInput {
		return "", ErrInvalidHost
	}
	simple, upper := true, false
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_':
		case 'A' <= c && c <= 'Z':
			upper = true
		default:
			simple = false
		}
	}
	if simple {
		s := h
		if upper {
			s = strings.ToLower(h)
		}
		s = strings.TrimSuffix(s, ".")
		if !hasACELabel(s) {
			return s, checkLabels(s)
		}
	}
	out, err := lookupProfile.ToASCII(h)
	if err != nil {
		return "", ErrInvalidHost
	}
	out = strings.TrimSuffix(out, ".")
	return out, checkLabels(out)
}

func hasACELabel(s string) bool {
	for {
		if strings.HasPrefix(s, "xn--") {
			return true
		}
		i := strings.IndexByte(s, '.')
		if i < 0 {
			return false
		}
		s = s[i+1:]
	}
}

// checkLabels enforces what DNS and the IDNA lookup profile require of an
// ASCII name: 1..253 bytes, labels of 1..63 letters, digits, hyphens and
// underscores, no leading or trailing hyphen, no "--" in positions 3-4
// except in an ACE ("xn--") label, which the IDNA decoder has already
// validated. Underscores are not host-name characters by RFC 952, but DNS
// has them (`_dmarc`, `_acme-challenge`, hosts named `my_host`), resolvers
// and TLS stacks pass them, and the original admits them.
func checkLabels(s string) error {
	if len(s) == 0 || len(s) > 253 {
		return ErrInvalidHost
	}
	for {
		i := strings.IndexByte(s, '.')
		l := s
		if i >= 0 {
			l = s[:i]
		}
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return ErrInvalidHost
		}
		if len(l) > 4 && l[2] == '-' && l[3] == '-' && !strings.HasPrefix(l, "xn--") {
			return ErrInvalidHost
		}
		for j := 0; j < len(l); j++ {
			c := l[j]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return ErrInvalidHost
			}
		}
		if i < 0 {
			return nil
		}
		s = s[i+1:]
	}
}
