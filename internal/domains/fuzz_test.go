package domains

import (
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/idna"
)

// The reference model: the allowlist language written as plainly as
// possible, sharing no matching code with the package. Entries are in the
// canonical form a user would expect them to denote.
type refEntry struct {
	pattern string // canonical domain, or a pattern with `*`
	scope   string // "http", "https", "both"
}

var (
	refAllow = []refEntry{
		{"github.com", "both"}, {"api.github.com", "both"}, {"api.openai.com", "https"}, {"plain.example.org", "http"},
		{"*.githubassets.com", "both"}, {"api-*.example.com", "both"}, {"*.secure.example.net", "https"},
		{"xn--bcher-kva.de", "both"}, {"a*b*c.example.io", "http"},
	}
	refBlock   = []string{"evil.github.com", "*.bad.github.com"}
	fuzzAllow  = []string{"github.com", "API.github.com", "https://api.openai.com", "http://plain.example.org/", "*.githubassets.com", "api-*.example.com", "https://*.secure.example.net", "bücher.de", "http://a*b*c.example.io"}
	fuzzBlock  = []string{"https://Evil.GitHub.com", "*.bad.github.com"}
	fuzzSeedsH = []string{
		"github.com", "GitHub.com.", "api.github.com", "github.com.evil.com", "evilgithub.com", "ｇithub.com", "github\u3002com",
		"git\u00adhub.com", "github.com..", ".github.com", "github.com:443", "github.com%2f", "x.evil.github.com", "EVIL.github.com",
		"a.bad.github.com", "bad.github.com", "api.openai.com", "API.OPENAI.COM.", "api\uff0eopenai\uff0ecom", "plain.example.org",
		"githubassets.com", "x.y.githubassets.com", "api-v1.example.com", "x.api-v1.example.com", "a.secure.example.net",
		"bücher.de", "www.BÜCHER.de", "xn--bcher-kva.de", "abc.example.io", "aXbYc.example.io", "ab.example.io",
		"0x7f.1", "127.0.0.1", "[::1]", "2130706433", "１２７.０.０.１", "github.com\x00", "", "xn--github-.com",
		"a_b.github.com", "_x.bad.github.com", "evil_github.com", "x.api-v_1.example.com", "api-v_1.example.com",
	}
)

func FuzzNoUnlistedHostAdmitted(f *testing.F) {
	for i, h := range fuzzSeedsH {
		extras := []string{"", "*.example.com", "http://foo.bar.example", ".x.example", "a-*.b.example.com",
			"*hub.com", "github.*", "api.git*", "*.com", "203.0.113.*", "my_host.example", "*.u_w.example"}
		extra := extras[i%len(extras)]
		f.Add(h, extra, i%2 == 0)
	}
	base, err := Compile(fuzzAllow, fuzzBlock)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, host, extra string, https bool) {
		p, allow := base, refAllow
		if e, ok := refParseExtra(extra); ok {
			// An entry awf ignores (it could admit other owners' names, or
			// never match) admits nothing: the reference leaves it out.
			if q, err := Compile(append(append([]string(nil), fuzzAllow...), extra), fuzzBlock); err == nil {
				p, allow = q, refAllow
				if len(q.Ignored()) == 0 {
					allow = append(append([]refEntry(nil), refAllow...), e)
				}
			}
		}
		proto := HTTP
		if https {
			proto = HTTPS
		}
		d := p.Decide(host, proto)
		canon, valid := refCanonical(host)
		want := valid && !refBlocked(canon) && refAllowed(allow, canon, proto)
		if d.Allowed && !want {
			t.Fatalf("Decide(%q, %v) admitted %q by %q; reference: canonical %q valid=%v blocked=%v",
				host, proto, d.Host, d.Entry, canon, valid, valid && refBlocked(canon))
		}
		if want && !d.Allowed {
			t.Fatalf("Decide(%q, %v) = %+v; the reference admits %q", host, proto, d, canon)
		}
		if d.Allowed && d.Host != canon {
			t.Fatalf("Decide(%q) judged %q, reference canonical form is %q", host, d.Host, canon)
		}
		// Case and one trailing dot never change the verdict.
		if mapped, _ := refLookup.ToASCII(host); valid && !strings.HasSuffix(mapped, ".") {
			v := p.Decide(asciiUpper(host)+".", proto)
			if v.Allowed != d.Allowed || v.Rule != d.Rule || v.Host != d.Host {
				t.Fatalf("Decide(%q) = %+v but Decide(%q) = %+v", host, d, asciiUpper(host)+".", v)
			}
		}
	})
}

// refLookup is UTS #46 lookup processing without the STD3 ASCII rules, as
// the WHATWG URL parser applies it: underscores pass.
var refLookup = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.StrictDomainName(false))

// refCanonical is the reference canonical form: UTS #46 lookup mapping, one
// trailing dot dropped, then DNS host name rules (letters, digits, hyphens
// and underscores); addresses and names ending in a number are not names.
func refCanonical(host string) (string, bool) {
	if len(host) > maxHostInput {
		return "", false
	}
	a, err := refLookup.ToASCII(host)
	if err != nil {
		return "", false
	}
	a = strings.TrimSuffix(a, ".")
	if a == "" || len(a) > 253 {
		return "", false
	}
	labels := strings.Split(a, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "", false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", false
			}
		}
	}
	last := labels[len(labels)-1]
	if strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x") && strings.Trim(last[2:], "0123456789abcdef") == "" {
		return "", false
	}
	if _, err := netip.ParseAddr(a); err == nil {
		return "", false
	}
	return a, true
}

func refMatch(pattern, host string) bool {
	if !strings.Contains(pattern, "*") {
		return host == pattern || strings.HasSuffix(host, "."+pattern)
	}
	// Plain dynamic programming over (pattern, host) positions.
	m, n := len(pattern), len(host)
	ok := make([][]bool, m+1)
	for i := range ok {
		ok[i] = make([]bool, n+1)
	}
	ok[m][n] = true
	for i := m - 1; i >= 0; i-- {
		for j := n; j >= 0; j-- {
			if pattern[i] == '*' {
				ok[i][j] = ok[i+1][j] || j < n && ok[i][j+1]
			} else {
				ok[i][j] = j < n && pattern[i] == host[j] && ok[i+1][j+1]
			}
		}
	}
	return ok[0][0]
}

func refBlocked(h string) bool {
	for _, b := range refBlock {
		if refMatch(b, h) {
			return true
		}
	}
	return false
}

func refAllowed(allow []refEntry, h string, proto Proto) bool {
	for _, e := range allow {
		if (e.scope == "both" || e.scope == proto.String()) && refMatch(e.pattern, h) {
			return true
		}
	}
	return false
}

// refParseExtra reads a fuzzed allowlist entry when it is simple enough for
// the reference to know what it denotes: an optional prefix, then ASCII
// letters, digits, '-', '.', '*'.
func refParseExtra(s string) (refEntry, bool) {
	e := refEntry{scope: "both"}
	switch {
	case strings.HasPrefix(s, "http://"):
		e.scope, s = "http", s[7:]
	case strings.HasPrefix(s, "https://"):
		e.scope, s = "https", s[8:]
	}
	s = strings.TrimSuffix(s, "/")
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '*') {
			return e, false
		}
	}
	s = strings.ToLower(strings.TrimSuffix(s, "."))
	if !strings.Contains(s, "*") {
		s = strings.TrimPrefix(s, ".")
	}
	e.pattern = s
	return e, s != ""
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
