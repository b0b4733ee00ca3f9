package domains

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Which list an entry came from, as a Notice records it.
const (
	ListAllow = "allow"
	ListBlock = "block"
)

// Notice kinds: why an entry is not taken as written.
const (
	// KindTrailingWildcard: `*` in the last label (`wtld.*`, `static.tail*`)
	// matches names under any top-level domain. Allowlist: ignored.
	KindTrailingWildcard = "trailing-wildcard"
	// KindGluedWildcard: `*` joined to the label right above a public
	// suffix (`*wild4.test`, `foo*.com`) matches other registrable names
	// (`evilwild4.test`). Allowlist: ignored.
	KindGluedWildcard = "glued-wildcard"
	// KindPublicSuffix: a wildcard over a public suffix (`*.com`,
	// `*.co.uk`) or a plain entry that is one (`com`). Allowlist: ignored.
	KindPublicSuffix = "public-suffix"
	// KindRawIP: an address or IP-shaped pattern (`203.0.113.*`, `*.100.9`):
	// raw IPs are denied before any allow rule, so it can never match.
	// Allowlist: ignored.
	KindRawIP = "raw-ip"
	// KindInvalidName: not a host name (`github.com/path`, `a:8080`,
	// `-x.com`, a 64-byte label): it can never match. Allowlist: ignored.
	KindInvalidName = "invalid-name"
	// KindSharedSuffix: a wildcard over a suffix of the Public Suffix
	// List's private section (`*.github.io`): honoured, with a warning.
	KindSharedSuffix = "shared-suffix"
	// KindBroadened: a blocklist entry that cannot be matched as written
	// (`github.com/path`) blocks a broader set (`github.com`).
	KindBroadened = "broadened"
)

// Notice is what awf says about an entry that the original accepts but awf
// does not take as written. An ignored allowlist entry admits nothing
// (fail-closed); the run goes on without it.
type Notice struct {
	Entry   string `json:"entry"`             // as given
	List    string `json:"list"`              // ListAllow or ListBlock
	Kind    string `json:"kind"`              // Kind*
	Ignored bool   `json:"ignored"`           // not honoured at all
	Reason  string `json:"reason"`            // why, with an example of what it would have admitted
	Instead string `json:"instead,omitempty"` // a safe spelling, as comma-separated entries
}

// String is the warning printed once per entry.
func (n Notice) String() string {
	switch {
	case n.Kind == KindSharedSuffix:
		return n.Reason
	case n.List == ListBlock:
		return fmt.Sprintf("Blocked domain %s: %s", shown(n.Entry), n.Reason)
	}
	s := fmt.Sprintf("Ignoring allowed domain %s: %s", shown(n.Entry), n.Reason)
	if n.Instead != "" {
		s += "; use " + n.Instead + " instead"
	}
	return s
}

// shown quotes an entry for a terminal: entries may hold any character but
// whitespace and quotes, so format and control characters are escaped.
func shown(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsGraphic(r) }) >= 0 {
		return strconv.QuoteToGraphic(s)
	}
	return "'" + s + "'"
}

// example renders a pattern as one name it matches: the last `*` becomes
// last, every other `*` becomes "x".
func example(p string, last string) string {
	i := strings.LastIndexByte(p, '*')
	return strings.ReplaceAll(p[:i], "*", "x") + last + strings.ReplaceAll(p[i+1:], "*", "x")
}

// cleanHost reduces a URL-shaped entry to its host: a scheme, user info,
// a path or query and a port are dropped. It returns s when there is
// nothing to drop.
func cleanHost(s string) string {
	h := s
	if i := strings.Index(h, "://"); i >= 0 {
		h = h[i+3:]
	}
	if i := strings.IndexAny(h, "/?"); i >= 0 {
		h = h[:i]
	}
	if i := strings.LastIndexByte(h, '@'); i >= 0 {
		h = h[i+1:]
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h, ':') == i && allDigits(h[i+1:]) {
		h = h[:i]
	}
	return h
}

// suggest returns the entry prefix+s if it would be honoured as written,
// else "".
func (o Options) suggest(sc scope, s string) string {
	if s == "" || validateOriginal(sc.prefix()+s) != nil {
		return ""
	}
	var n *Notice
	if strings.Contains(s, "*") {
		_, n = o.parseAllowPattern(sc, s)
	} else {
		_, n = parseAllowPlain(sc, s)
	}
	if n != nil && n.Ignored {
		return ""
	}
	return sc.prefix() + s
}

func ignored(kind, reason, instead string) *Notice {
	return &Notice{List: ListAllow, Kind: kind, Ignored: true, Reason: reason, Instead: instead}
}

const reasonRawIP = "raw IP addresses are always denied (deny-raw-ipv4, deny-raw-ipv6), so it can never match; allow the host by name"

func (o Options) invalidName(sc scope, d string) *Notice {
	var instead string
	if c := cleanHost(d); c != d {
		instead = o.suggest(sc, c)
	}
	return ignored(KindInvalidName, "not a host name (labels of letters, digits, hyphens and underscores, "+
		"up to 63 characters each and 253 in all), so it can never match", instead)
}
