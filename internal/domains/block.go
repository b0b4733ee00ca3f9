package domains

import (
	"fmt"
	"strings"
)

// parseBlock reads a blocklist entry (d has no protocol prefix). Every
// entry the original accepts is honoured, with the original's meaning or a
// broader one, since blocking more is always safe:
//   - a wildcard anywhere, the last label included (tracker.we*, c.multi.*),
//     and over public suffixes (*.com);
//   - a URL-shaped entry (github.com/path, ftp://x, host:8080) blocks its
//     whole host, the proxy seeing names, not paths (a notice says so);
//   - a label with `*` and characters no canonical name has (bü*.de) is
//     widened to `*` (a notice says so);
//   - a name that is no valid host name (-x.com, a 64-byte label) is kept
//     as a literal: every name it could match is invalid, and invalid names
//     are denied before any rule.
func parseBlock(input, d string) (entry, *Notice) {
	var note *Notice
	h := d
	if c := cleanHost(d); c != d && c != "" {
		h = c
		note = &Notice{Entry: input, List: ListBlock, Kind: KindBroadened,
			Reason: fmt.Sprintf("the proxy judges host names, not URLs, so it blocks all of %s", c)}
	}
	if strings.Contains(h, "*") {
		p, widened := blockPattern(h)
		if widened {
			note = &Notice{Entry: input, List: ListBlock, Kind: KindBroadened,
				Reason: fmt.Sprintf("a label with '*' and other characters than ASCII letters, digits, hyphens and underscores "+
					"cannot be matched as written, so it blocks %s", p)}
		}
		return entry{scope: scopeBoth, domain: p, wildcard: true, glob: compileGlob(p)}, note
	}
	name := strings.TrimPrefix(h, ".")
	c, kind := classify(name)
	switch kind {
	case kindIPv4, kindIPv6:
		return entry{scope: scopeBoth, domain: c, inert: true}, note // raw IPs are denied before any rule
	case kindInvalid:
		return entry{scope: scopeBoth, domain: strings.ToLower(name)}, note
	}
	return entry{scope: scopeBoth, domain: c}, note
}

// blockPattern canonicalises a blocklist pattern label by label. A leading
// dot is dropped (the original's regex would demand a name starting with a
// dot). widened reports that a label was replaced by `*`.
func blockPattern(h string) (p string, widened bool) {
	labels := strings.Split(strings.TrimPrefix(strings.TrimSuffix(h, "."), "."), ".")
	for i, l := range labels {
		if !strings.Contains(l, "*") {
			if a, err := toASCII(l); err == nil {
				labels[i] = a
			} else {
				labels[i] = strings.ToLower(l) // matches only invalid names, denied anyway
			}
			continue
		}
		l = strings.ToLower(l)
		for j := 0; j < len(l); j++ {
			if c := l[j]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '*') {
				l, widened = "*", true
				break
			}
		}
		labels[i] = l
	}
	return strings.Join(labels, "."), widened
}
