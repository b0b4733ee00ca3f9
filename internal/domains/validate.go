package domains

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Options are the knobs of the allowlist language. The zero value is the
// default.
type Options struct {
	// StrictPrivateSuffixes also rejects a wildcard whose fixed part is a
	// suffix from the private section of the Public Suffix List, such as
	// *.githubusercontent.com or *.github.io. It is off by default because
	// such wildcards are common in gh-aw allowlists and name one operator's
	// hosts; wildcards over ICANN suffixes (*.com, *.co.uk) are always
	// rejected.
	StrictPrivateSuffixes bool
}

// EntryError is a rejected allowlist or blocklist entry. Its text is the
// original's: "Invalid domain or pattern: <why>" (or "Invalid blocked
// domain or pattern: <why>").
type EntryError struct {
	Entry   string // the entry as given
	Blocked bool   // the entry came from the blocklist
	Err     error  // why, without the prefix
}

func (e *EntryError) Error() string {
	if e.Blocked {
		return "Invalid blocked domain or pattern: " + e.Err.Error()
	}
	return "Invalid domain or pattern: " + e.Err.Error()
}

func (e *EntryError) Unwrap() error { return e.Err }

// Validate checks one allowlist entry (an optional http:// or https://
// prefix, then a domain or a `*` pattern) with the default Options.
func Validate(entry string) error { return Options{}.Validate(entry) }

// ValidateBlocked checks one blocklist entry with the default Options.
func ValidateBlocked(entry string) error { return Options{}.ValidateBlocked(entry) }

// Validate checks one allowlist entry; the error is the bare reason, as the
// original's validateDomainOrPattern throws it. It fails only for entries
// the original rejects: an entry awf does not honour as written loads with
// a notice (see Inspect).
func (o Options) Validate(entry string) error {
	_, _, err := o.parseEntry(entry, false)
	return err
}

// ValidateBlocked checks one blocklist entry. Blocklist entries skip the
// public-suffix checks: blocking a whole suffix is legitimate.
func (o Options) ValidateBlocked(entry string) error {
	_, _, err := o.parseEntry(entry, true)
	return err
}

// Inspect checks one entry and returns what awf has to say about it: a
// notice for an allowlist entry that is ignored, for a blocklist entry that
// is broadened, or for a wildcard over a shared suffix that is honoured; nil
// when the entry is taken as written. The error is the original's rejection.
func (o Options) Inspect(entry string, blocked bool) (*Notice, error) {
	_, n, err := o.parseEntry(entry, blocked)
	return n, err
}

// Inspect is Options.Inspect with the default Options.
func Inspect(entry string, blocked bool) (*Notice, error) { return Options{}.Inspect(entry, blocked) }

// scope is which protocols an entry admits.
type scope int

const (
	scopeBoth scope = iota
	scopeHTTP
	scopeHTTPS
)

func (s scope) String() string {
	switch s {
	case scopeHTTP:
		return "http"
	case scopeHTTPS:
		return "https"
	}
	return "both"
}

func (s scope) prefix() string {
	switch s {
	case scopeHTTP:
		return "http://"
	case scopeHTTPS:
		return "https://"
	}
	return ""
}

// entry is one validated, canonicalised list entry.
type entry struct {
	scope    scope
	domain   string // canonical name or pattern, no leading dot
	wildcard bool
	inert    bool // a blocked raw IP: never matches, raw IPs are denied first
	glob     glob
}

func (e *entry) display() string { return e.scope.prefix() + e.domain }

// splitPrefix strips an http:// or https:// prefix and one trailing slash.
func splitPrefix(input string) (scope, string) {
	t := trimJS(input)
	s := scopeBoth
	switch {
	case strings.HasPrefix(t, "http://"):
		s, t = scopeHTTP, t[len("http://"):]
	case strings.HasPrefix(t, "https://"):
		s, t = scopeHTTPS, t[len("https://"):]
	}
	return s, strings.TrimSuffix(t, "/")
}

// parseEntry validates and canonicalises one entry. An error is fatal and
// only ever the original's own rejection (validateOriginal): every entry the
// original accepts loads. A blocklist entry is always honoured, broadened
// when its shape cannot be matched as written (a notice says so). An
// allowlist entry that could admit other owners' names, or could never
// match, comes back with an ignored notice and must not be compiled.
func (o Options) parseEntry(input string, blocked bool) (entry, *Notice, error) {
	if err := validateOriginal(input); err != nil {
		return entry{}, nil, err
	}
	sc, d := splitPrefix(input)
	if blocked {
		e, n := parseBlock(input, d)
		return e, n, nil
	}
	var (
		e entry
		n *Notice
	)
	if strings.Contains(d, "*") {
		e, n = o.parseAllowPattern(sc, d)
	} else {
		e, n = parseAllowPlain(sc, d)
	}
	if n != nil {
		n.Entry = input
	}
	return e, n, nil
}

// validateOriginal applies the original's rejections, in its order and with
// its messages.
func validateOriginal(input string) error {
	if trimJS(input) == "" {
		return errors.New("Domain cannot be empty")
	}
	_, t := splitPrefix(input)
	if t == "" {
		return errors.New("Domain cannot be empty")
	}
	if i := strings.IndexFunc(t, isSquidUnsafe); i >= 0 {
		r := []rune(t[i:])[0]
		desc := fmt.Sprintf("'%c'", r)
		if r <= 0x20 || r == 0x7f {
			desc = fmt.Sprintf("U+%04x", r)
		}
		return fmt.Errorf("Invalid domain %s: contains invalid character %s. "+
			"Domain names must not contain whitespace, quotes, semicolons, backticks, hash characters, backslashes, or control characters.",
			jsonQuote(t), desc)
	}
	switch {
	case t == "*":
		return errors.New("Pattern '*' matches all domains and is not allowed")
	case t == "*.*":
		return errors.New("Pattern '*.*' is too broad and is not allowed")
	case strings.Trim(t, "*.") == "" && strings.Contains(t, "*"):
		// Also covers "*." and ".*", which the original tests separately
		// only after this check, so its "incomplete domain" branch never fires.
		return fmt.Errorf("Pattern '%s' is too broad and is not allowed", t)
	case strings.Contains(t, ".."):
		return fmt.Errorf("Invalid domain '%s': contains double dots", t)
	case t == ".":
		return errors.New("Invalid domain: cannot be just a dot")
	}
	segs := strings.Split(t, ".")
	stars := 0
	for _, s := range segs {
		if s == "*" {
			stars++
		}
	}
	if stars > 1 && stars >= len(segs)-1 {
		return fmt.Errorf("Pattern '%s' has too many wildcard segments and is not allowed", t)
	}
	return nil
}

// isSquidUnsafe is the original's [\s\0"'`;#\\].
func isSquidUnsafe(r rune) bool {
	switch r {
	case 0, '"', '\'', '`', ';', '#', '\\':
		return true
	}
	return isJSSpace(r)
}

// spannedSuffix reports whether name, with everything under it, reaches
// across a public suffix: name is itself one, or the list has a wildcard
// rule that makes each of its children one (*.kawasaki.jp, *.ck). It cannot
// see explicit suffixes further down (amazonaws.com holds s3.amazonaws.com):
// the package offers no way to enumerate the list.
func spannedSuffix(name string) (suffix string, icann, ok bool) {
	if ps, ic := publicsuffix.PublicSuffix(name); ps == name {
		return name, ic, true
	}
	probe := "awf-probe." + name
	if ps, ic := publicsuffix.PublicSuffix(probe); ps == probe {
		return "*." + name, ic, true
	}
	return "", false, false
}

// jsonQuote is JavaScript's JSON.stringify for a string.
func jsonQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// SharedSuffixWarning is a notice for an admitted wildcard whose fixed part
// is a suffix from the private section of the Public Suffix List
// (*.githubusercontent.com, *.workers.dev): it admits names of many owners,
// some of which anyone can register. "" when there is nothing to say.
func SharedSuffixWarning(entry string) string {
	_, d := splitPrefix(strings.TrimSpace(entry))
	if !strings.Contains(d, "*") {
		return ""
	}
	labels := strings.Split(strings.ToLower(strings.TrimSuffix(d, ".")), ".")
	last := -1
	for i, l := range labels {
		if strings.Contains(l, "*") {
			last = i
		}
	}
	fixed := strings.Join(labels[last+1:], ".")
	if fixed == "" {
		return ""
	}
	if ps, icann, ok := spannedSuffix(fixed); ok && !icann {
		return sharedSuffixText(d, ps)
	}
	return ""
}
