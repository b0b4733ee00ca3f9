// Package urlrules is --allow-urls: URL patterns with the original's
// syntax and messages, enforced on inspected HTTPS requests as an
// inspect.Hook. A host that a pattern names is inspected; each request to
// it must match a pattern (under every reading of its path, see views.go),
// else it is refused with 403 and nothing is sent upstream.
package urlrules

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/awf-dev/awf/internal/inspect"
)

// Rule is the rule id of a refusal, in logs, audit and the agent's 403.
const Rule = "allow-urls"

// Reason is the refusal's one line.
const Reason = "URL does not match any --allow-urls pattern"

// Parse splits a comma-separated --allow-urls value as the original does
// (trimmed, empty entries dropped).
func Parse(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// The original's refusals of patterns that would admit too much.
var tooBroad = []*regexp.Regexp{
	regexp.MustCompile(`^https://\*$`),
	regexp.MustCompile(`^https://\*\.\*$`),
	regexp.MustCompile(`^https://\.\*$`),
	regexp.MustCompile(`^\.\*$`),
	regexp.MustCompile(`^\*$`),
	regexp.MustCompile(`^https://[^/]*\*[^/]*$`),
}

// unsafeChars are refused as the original refuses them (there: they could
// break out of Squid's config; here they have no meaning in a URL either).
var unsafeChars = regexp.MustCompile("[\\s\\x00\"'`;#]")

// Validate checks patterns the way the original does, in its order and
// with its messages (each error's text may span lines).
func Validate(patterns []string, sslBump bool) error {
	if len(patterns) > 0 && !sslBump {
		return errors.New("--allow-urls requires --ssl-bump to be enabled")
	}
	for _, u := range patterns {
		if !strings.HasPrefix(u, "https://") {
			return fmt.Errorf("URL patterns must start with https:// (got: %s)\nUse --allow-domains for domain-level filtering without SSL Bump", u)
		}
		for _, re := range tooBroad {
			if re.MatchString(u) {
				return fmt.Errorf("URL pattern %q is too broad and would bypass security controls\nURL patterns must include a specific domain and path, e.g., https://github.com/org/*", u)
			}
		}
		if unsafeChars.MatchString(u) {
			return fmt.Errorf("URL pattern contains characters unsafe for Squid config: %s\nURL patterns must not contain whitespace, quotes, semicolons, backticks, hash characters, or null bytes.", jsonString(u))
		}
		if !strings.Contains(strings.TrimPrefix(u, "https://"), "/") {
			return fmt.Errorf("URL pattern %q must include a path component\nFor domain-only filtering, use --allow-domains instead\nExample: https://github.com/myorg/* (includes path)", u)
		}
	}
	return nil
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Wildcards: in the host a * never crosses into the path; in the path it
// matches anything but whitespace (the original's choices, free of
// backtracking blow-ups, which RE2 does not have anyway).
const (
	urlChars  = `[^\s]*`
	hostChars = `[^\s/]*`
)

var regexSpecial = regexp.MustCompile(`[.+?^${}()|[\]\\]`)

// Regex converts a pattern into the anchored regular expression it means,
// exactly as the original converts it for Squid's url_regex: a trailing
// slash is dropped, an explicit `.*` is kept as a wildcard, `*` is a
// wildcard (not crossing `/` in the host), everything else is literal, and
// the end is anchored unless the pattern ends in a wildcard.
func Regex(pattern string) string {
	const placeholder = "\x00W\x00"
	p := strings.TrimSuffix(pattern, "/")
	p = strings.ReplaceAll(p, ".*", placeholder)
	schemeLen := 0
	if strings.HasPrefix(p, "https://") {
		schemeLen = len("https://")
	} else if strings.HasPrefix(p, "http://") {
		schemeLen = len("http://")
	}
	hostPart, pathPart := p, ""
	if i := strings.Index(p[schemeLen:], "/"); i >= 0 {
		hostPart, pathPart = p[:schemeLen+i], p[schemeLen+i:]
	}
	hostPart = strings.ReplaceAll(regexSpecial.ReplaceAllString(hostPart, `\$0`), "*", hostChars)
	pathPart = strings.ReplaceAll(regexSpecial.ReplaceAllString(pathPart, `\$0`), "*", urlChars)
	p = strings.ReplaceAll(hostPart+pathPart, placeholder, urlChars)
	if strings.HasSuffix(p, urlChars) || strings.HasSuffix(p, hostChars) {
		return "^" + p
	}
	return "^" + p + "$"
}

type pattern struct {
	raw  string
	re   *regexp.Regexp
	host *regexp.Regexp // the host[:port] part alone, for Inspects
}

// Rules is a compiled --allow-urls list; it is an inspect.Hook.
type Rules struct{ pats []pattern }

var _ inspect.Hook = (*Rules)(nil)

// Compile validates nothing (Validate did) and compiles each pattern.
func Compile(patterns []string) (*Rules, error) {
	r := &Rules{}
	for _, raw := range patterns {
		// Hosts compare in lower case (the request's is canonical); the
		// path stays case-sensitive, as Squid's url_regex is.
		host := strings.TrimPrefix(raw, "https://")
		rest := ""
		if i := strings.Index(host, "/"); i >= 0 {
			host, rest = host[:i], host[i:]
		}
		host = strings.ToLower(host)
		re, err := regexp.Compile(Regex("https://" + host + rest))
		if err != nil {
			return nil, fmt.Errorf("Invalid URL pattern %q: %v", raw, err)
		}
		if i := strings.LastIndex(host, ":"); i >= 0 && strings.Trim(host[i+1:], "0123456789") == "" {
			host = host[:i] // Inspects is asked about names, without ports
		}
		h := strings.TrimPrefix(Regex("https://"+host+"/x"), "^https://")
		h = strings.TrimSuffix(h, "/x$")
		hre, err := regexp.Compile(`^(?i:` + h + `)(:[0-9]+)?$`)
		if err != nil {
			return nil, fmt.Errorf("Invalid URL pattern %q: %v", raw, err)
		}
		r.pats = append(r.pats, pattern{raw: raw, re: re, host: hre})
	}
	return r, nil
}

// Host is the host[:port] part of a pattern, lower case (the manifest's
// list of inspected hosts).
func Host(pattern string) string {
	h := strings.TrimPrefix(pattern, "https://")
	if i := strings.Index(h, "/"); i >= 0 {
		h = h[:i]
	}
	return strings.ToLower(h)
}

// InspectedHosts are the host parts of the patterns (inspect.HostLister).
func (r *Rules) InspectedHosts() []string {
	var out []string
	for _, p := range r.pats {
		if h := Host(p.raw); !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// Patterns are the patterns as given.
func (r *Rules) Patterns() []string {
	var out []string
	for _, p := range r.pats {
		out = append(out, p.raw)
	}
	return out
}

// Name is the hook's name in logs and the manifest.
func (r *Rules) Name() string { return Rule }

// Inspects reports whether a pattern names host: only such hosts are
// terminated, every other admitted host keeps its end-to-end TLS.
func (r *Rules) Inspects(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, p := range r.pats {
		if p.host.MatchString(host) {
			return true
		}
	}
	return false
}

// Request refuses a request to a host the patterns name unless its URL
// matches a pattern under every reading of its path.
func (r *Rules) Request(req *http.Request, host string) *inspect.Block {
	if !r.Inspects(host) {
		return nil
	}
	authority := strings.ToLower(req.URL.Host)
	if authority == "" {
		authority = strings.ToLower(host)
	}
	if r.Allowed(authority, req.URL.EscapedPath(), req.URL.RawQuery) {
		return nil
	}
	return &inspect.Block{Status: http.StatusForbidden, Rule: Rule, Reason: Reason}
}

// Allowed reports whether https://authority + path (+ ?query) matches a
// pattern in every view of the path (views.go).
func (r *Rules) Allowed(authority, escapedPath, rawQuery string) bool {
	q := ""
	if rawQuery != "" {
		q = "?" + rawQuery
	}
	for _, v := range Views(escapedPath) {
		u := "https://" + authority + v + q
		ok := false
		for _, p := range r.pats {
			if p.re.MatchString(u) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
