package domains

import (
	"regexp"
	"strings"
)

// glob is a compiled `*` pattern over canonical host names. The original
// turns `*` into the regex [a-zA-Z0-9.-]*; a canonical name consists of
// exactly those characters (in lower case), so here `*` matches any run of
// characters, dots included, and the match is anchored at both ends. That
// needs no regexp: a prefix, a suffix, and the middle pieces found leftmost
// in order (leftmost is optimal when the only operator is `*`).
type glob struct {
	prefix, suffix string
	middle         []string
	min            int // shortest name that can match
}

func compileGlob(p string) glob {
	parts := strings.Split(p, "*")
	g := glob{prefix: parts[0], suffix: parts[len(parts)-1]}
	for _, m := range parts[1 : len(parts)-1] {
		if m != "" {
			g.middle = append(g.middle, m)
		}
	}
	g.min = len(g.prefix) + len(g.suffix)
	for _, m := range g.middle {
		g.min += len(m)
	}
	return g
}

func (g *glob) match(s string) bool {
	if len(s) < g.min || !strings.HasSuffix(s, g.suffix) || !strings.HasPrefix(s, g.prefix) {
		return false
	}
	s = s[len(g.prefix) : len(s)-len(g.suffix)]
	for _, m := range g.middle {
		i := strings.Index(s, m)
		if i < 0 {
			return false
		}
		s = s[i+len(m):]
	}
	return true
}

// leadingStar reports whether the pattern starts with `*`, so that whatever
// it matches, it also matches every subdomain of (the star absorbs "x.").
func (g *glob) leadingStar() bool { return g.prefix == "" }

// wildcardRegex renders a canonical pattern as the original's dstdom_regex
// string. Canonical patterns hold no other regex metacharacters, but a
// blocklist pattern may keep a literal label (one no valid name has), so
// those are escaped all the same.
func wildcardRegex(p string) string {
	var b strings.Builder
	b.WriteByte('^')
	for _, r := range p {
		if r == '*' {
			b.WriteString("[a-zA-Z0-9.-]*")
		} else {
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteByte('$')
	return b.String()
}
