package domains

import (
	"fmt"
	"strings"
)

// parseAllowPlain reads an allowlist entry without `*` (d has no protocol
// prefix). A non-nil notice with Ignored set means the entry is not
// compiled.
func parseAllowPlain(sc scope, d string) (entry, *Notice) {
	name := strings.TrimPrefix(d, ".") // squid's ".example.com" means the same as "example.com"
	c, kind := classify(name)
	switch kind {
	case kindIPv4, kindIPv6:
		return entry{}, ignored(KindRawIP, reasonRawIP, "")
	case kindInvalid:
		return entry{}, Options{}.invalidName(sc, d)
	}
	if _, icann, ok := spannedSuffix(c); ok && icann {
		return entry{}, ignored(KindPublicSuffix, fmt.Sprintf("'%s' is a public suffix: it would admit every domain under it, "+
			"whoever owns it (such as evil.%s); list the hosts you need", c, c), "")
	}
	return entry{scope: sc, domain: c}, nil
}

// parseAllowPattern reads an allowlist entry with `*`. A pattern is
// honoured when every name it can match lies under one registrable domain
// (the fixed labels after its last wildcard, which must not be a public
// suffix) or under a shared suffix of the list's private section (with a
// KindSharedSuffix notice).
func (o Options) parseAllowPattern(sc scope, d string) (entry, *Notice) {
	raw := strings.TrimSuffix(d, ".")
	if strings.HasPrefix(raw, ".") {
		return entry{}, ignored(KindInvalidName, "a pattern starting with '.' matches only names that start with a dot, so it can never match",
			o.suggest(sc, raw[1:]))
	}
	labels := strings.Split(raw, ".")
	last := -1
	for i, l := range labels {
		switch {
		case l == "":
			return entry{}, o.invalidName(sc, d)
		case strings.Contains(l, "*"):
			l = strings.ToLower(l)
			for j := 0; j < len(l); j++ {
				c := l[j]
				if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '*') {
					n := o.invalidName(sc, d)
					n.Reason = "a label with '*' may hold only ASCII letters, digits, hyphens and underscores, so it can never match"
					return entry{}, n
				}
			}
			labels[i], last = l, i
		default:
			a, err := toASCII(l)
			if err != nil {
				return entry{}, o.invalidName(sc, d)
			}
			labels[i] = a
		}
	}
	p := strings.Join(labels, ".")
	fixed := strings.Join(labels[last+1:], ".")
	if ipShaped(labels) || fixed != "" && endsInNumber(fixed) {
		return entry{}, ignored(KindRawIP, "an IP-shaped pattern: "+reasonRawIP, "")
	}
	if fixed == "" {
		var instead string
		if r := strings.TrimSuffix(strings.TrimRight(p, "*"), "."); r != p && strings.Contains(r, ".") {
			instead = o.suggest(sc, r)
		}
		return entry{}, ignored(KindTrailingWildcard, fmt.Sprintf("a wildcard in the last label matches names under any top-level domain, "+
			"whoever owns them (such as %s); list each name in full", trailingExample(p)), instead)
	}
	ps, icann, ok := spannedSuffix(fixed)
	if !ok {
		return entry{scope: sc, domain: p, wildcard: true, glob: compileGlob(p)}, nil
	}
	// A single label that is in no rule is a suffix by the list's default
	// rule: an unknown TLD (internal, local, test).
	private := !icann && strings.Contains(fixed, ".")
	e := entry{scope: sc, domain: p, wildcard: true, glob: compileGlob(p)}
	if private && !o.StrictPrivateSuffixes {
		return e, &Notice{List: ListAllow, Kind: KindSharedSuffix, Reason: sharedSuffixText(d, ps)}
	}
	if star := labels[last]; strings.Trim(star, "*") != "" {
		// `*` glued to the label above the suffix: *wild4.test matches
		// evilwild4.test. With nothing before the star, the name it was
		// glued to and its subdomains are the safe reading.
		var instead string
		if rest := strings.TrimLeft(star, "*"); last == 0 && !strings.Contains(rest, "*") {
			base := rest + "." + fixed
			if a, b := o.suggest(sc, base), o.suggest(sc, "*."+base); a != "" && b != "" {
				instead = a + "," + b
			}
		}
		return entry{}, ignored(KindGluedWildcard, fmt.Sprintf("the '*' is joined to a label, so it also matches names of other owners "+
			"under the public suffix '%s' (such as %s)", ps, example(p, "evil")), instead)
	}
	return entry{}, ignored(KindPublicSuffix, fmt.Sprintf("it spans the public suffix '%s': names under it belong to different owners "+
		"(such as %s); list the hosts you need", ps, example(p, "evil")), "")
}

// trailingExample is a name of another owner that a pattern with a
// wildcard in its last label matches.
func trailingExample(p string) string {
	switch {
	case strings.HasSuffix(p, ".*"):
		return example(p, "evil.example")
	case strings.HasSuffix(p, "*"):
		return example(p, ".evil.example")
	}
	return example(p, "evil.") // *.*c: x.evil.c
}

// ipShaped reports whether every label is digits and `*` only: a pattern
// over IPv4 addresses (203.0.113.*, *.100.9), which never match a name.
func ipShaped(labels []string) bool {
	digits := false
	for _, l := range labels {
		t := strings.ReplaceAll(l, "*", "")
		if t != "" && !allDigits(t) {
			return false
		}
		digits = digits || t != ""
	}
	return digits
}

func sharedSuffixText(d, ps string) string {
	return fmt.Sprintf("Pattern '%s' spans '%s', a shared suffix (Public Suffix List, private section): "+
		"it admits hosts of every owner under it; list the hosts you need if that is not intended", d, ps)
}
