package urlrules

import (
	"slices"
	"strings"
)

// Views are the readings of a request path that some server could act on.
// A path is allowed only if every view matches: the proxy cannot know
// whether the real host decodes %2F into a separator, folds `//`, treats
// `\` as `/` or resolves `..`, so an agent must not be able to pick the
// reading the proxy checks and have the server act on another.
//
//   - as sent, with only unreserved characters decoded (%6F = o, %2E = .),
//     which every server treats alike (RFC 3986 6.2.2.2);
//   - with dot segments removed (RFC 3986 5.2.4);
//   - additionally with %2F, %5C and \ read as /;
//   - additionally with runs of / folded into one;
//   - additionally with ;parameters cut from each segment (Tomcat and
//     Spring read /a/..;/b as /a/../b).
func Views(escapedPath string) []string {
	if escapedPath == "" {
		escapedPath = "/"
	}
	base := decodeUnreserved(escapedPath)
	slashed := strings.NewReplacer("%2F", "/", "%5C", "/", `\`, "/").Replace(base)
	out := []string{
		base,
		removeDots(base),
		removeDots(slashed),
		removeDots(foldSlashes(slashed)),
		removeDots(foldSlashes(stripParams(slashed))),
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// decodeUnreserved decodes %XX of unreserved characters and upper-cases the
// hex of every other escape, so equal paths compare equal.
func decodeUnreserved(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) {
			hi, ok1 := unhex(p[i+1])
			lo, ok2 := unhex(p[i+2])
			if ok1 && ok2 {
				c := hi<<4 | lo
				if unreserved(c) {
					b.WriteByte(c)
				} else {
					b.WriteString("%" + strings.ToUpper(p[i+1:i+3]))
				}
				i += 2
				continue
			}
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

func stripParams(p string) string {
	if !strings.Contains(p, ";") {
		return p
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i], _, _ = strings.Cut(s, ";")
	}
	return strings.Join(segs, "/")
}

func foldSlashes(p string) string {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return p
}

// removeDots resolves "." and ".." segments; ".." never climbs above the
// root. A trailing dot segment leaves a trailing slash, as RFC 3986 does.
func removeDots(p string) string {
	if !strings.Contains(p, ".") {
		return p
	}
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	r := strings.Join(out, "/")
	if !strings.HasPrefix(r, "/") {
		r = "/" + r
	}
	return r
}
