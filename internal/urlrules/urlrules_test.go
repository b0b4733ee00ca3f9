package urlrules

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestRegexIsTheOriginals(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://github.com/myorg/*", `^https://github\.com/myorg/[^\s]*`},
		{"https://api.example.com/v1/users", `^https://api\.example\.com/v1/users$`},
		{"https://api.example.com/v1/users/", `^https://api\.example\.com/v1/users$`},
		{"https://api-*.example.com/v1/*", `^https://api-[^\s/]*\.example\.com/v1/[^\s]*`},
		{"https://example.com/a.*b", `^https://example\.com/a[^\s]*b$`},
		{"https://example.com/a+b?c=(1)", `^https://example\.com/a\+b\?c=\(1\)$`},
	} {
		if got := Regex(tc.in); got != tc.want {
			t.Errorf("Regex(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestValidateMessages(t *testing.T) {
	for _, tc := range []struct {
		in   string
		bump bool
		want string // first line; "" = valid
	}{
		{"https://github.com/org/*", true, ""},
		{"https://github.com/org/*", false, "--allow-urls requires --ssl-bump to be enabled"},
		{"http://github.com/org/*", true, "URL patterns must start with https:// (got: http://github.com/org/*)"},
		{"github.com/org/*", true, "URL patterns must start with https:// (got: github.com/org/*)"},
		{"https://*", true, `URL pattern "https://*" is too broad and would bypass security controls`},
		{"https://*.*", true, `URL pattern "https://*.*" is too broad`},
		{"https://*.github.com", true, `URL pattern "https://*.github.com" is too broad`},
		{"https://github.com", true, `URL pattern "https://github.com" must include a path component`},
		{"https://github.com/a;b", true, `URL pattern contains characters unsafe for Squid config: "https://github.com/a;b"`},
		{"https://github.com/a#b", true, "unsafe for Squid config"},
	} {
		err := Validate([]string{tc.in}, tc.bump)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: unexpected %v", tc.in, err)
		case tc.want != "" && (err == nil || !strings.Contains(strings.SplitN(err.Error(), "\n", 2)[0], tc.want)):
			t.Errorf("%q: got %v, want %q", tc.in, err, tc.want)
		}
	}
	if Validate(nil, false) != nil {
		t.Error("no patterns, no ssl-bump: fine")
	}
	if got := Parse(" https://a.test/x , ,https://b.test/y "); len(got) != 2 || got[1] != "https://b.test/y" {
		t.Errorf("Parse: %q", got)
	}
}

func TestViews(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"/a/b", []string{"/a/b"}},
		{"/my%6frg/x", []string{"/myorg/x"}},
		{"/a/%2e%2E/b", []string{"/a/../b", "/b"}},
		{"/a%2F..%2Fb", []string{"/a%2F..%2Fb", "/b"}},
		{"//b", []string{"//b", "/b"}},
		{"/a/..", []string{"/", "/a/.."}},
		{"/../../etc", []string{"/../../etc", "/etc"}},
		{"/a%20b/%7e", []string{"/a%20b/~"}},
		{"/a/..;x/b", []string{"/a/..;x/b", "/b"}},
	} {
		got := Views(tc.in)
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("Views(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestAllowDenyByPath(t *testing.T) {
	r, err := Compile([]string{"https://github.com/myorg/*", "https://api.example.com/v1/users", "https://*.svc.test/api/*"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host, uri string
		allow     bool
	}{
		{"github.com", "/myorg/repo", true},
		{"github.com", "/myorg/repo/blob/main/x?y=1", true},
		{"github.com", "/otherorg/repo", false},
		{"github.com", "/myorg", false},                  // the pattern needs the slash after myorg
		{"github.com", "/my%6Frg/repo", true},            // unreserved escape: same resource
		{"github.com", "/myorg/../otherorg/repo", false}, // dot segments
		{"github.com", "/myorg/%2e%2e/otherorg/repo", false},
		{"github.com", "/myorg%2F..%2Fotherorg/repo", false},
		{"github.com", "/myorg/x%2F..%2F..%2Fotherorg", false},
		{"github.com", "/myorg/..%5C..%5Cotherorg", false},
		{"github.com", `/myorg/..\..\otherorg`, false},
		{"github.com", "//otherorg/repo", false},
		{"github.com", "/myorg//..//otherorg", false},
		{"github.com", "/otherorg/..%2Fmyorg/x", false},   // the server may not resolve it
		{"github.com", "/myorg/..;/otherorg/repo", false}, // path parameters (Tomcat, Spring)
		{"github.com", "/myorg/a;v=1/b", true},
		{"github.com", "/myorg/a/./b", true},
		{"github.com", "/myorg/a/../b", true},
		{"github.com", "/MyOrg/repo", false}, // paths are case-sensitive, as url_regex
		{"api.example.com", "/v1/users", true},
		{"api.example.com", "/v1/users?page=2", false}, // exact pattern, as the original
		{"api.example.com", "/v1/users/1", false},
		{"api.example.com", "/v1/users/..", false},
		{"x.svc.test", "/api/q", true},
		{"x.y.svc.test", "/api/q", true},
		{"x.svc.test", "/admin", false},
	} {
		u, err := url.ParseRequestURI(tc.uri)
		if err != nil {
			t.Fatalf("%s: %v", tc.uri, err)
		}
		u.Host = tc.host
		req := &http.Request{Method: "GET", URL: u, Header: http.Header{}}
		b := r.Request(req, tc.host)
		if (b == nil) != tc.allow {
			t.Errorf("%s%s: allowed=%v, want %v (%v)", tc.host, tc.uri, b == nil, tc.allow, Views(u.EscapedPath()))
		}
		if b != nil && (b.Rule != Rule || b.Status != 403) {
			t.Errorf("block %+v", b)
		}
	}
}

func TestInspectsOnlyNamedHosts(t *testing.T) {
	r, err := Compile([]string{"https://GitHub.com/myorg/*", "https://*.svc.test/api/*", "https://h.test:8443/x/*"})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"github.com": true, "GITHUB.COM": true, "api.github.com": false, "evilgithub.com": false,
		"a.svc.test": true, "svc.test": false, "h.test": true, "other.test": false,
	} {
		if got := r.Inspects(host); got != want {
			t.Errorf("Inspects(%q) = %v", host, got)
		}
	}
	// A host not named is never judged here (it is not even inspected).
	req := &http.Request{URL: &url.URL{Host: "other.test", Path: "/anything"}}
	if r.Request(req, "other.test") != nil {
		t.Error("unnamed host judged")
	}
	if !r.Allowed("github.com", "/myorg/x", "") {
		t.Error("upper-case host in the pattern")
	}
	if !r.Allowed("h.test:8443", "/x/y", "") || r.Allowed("h.test", "/x/y", "") {
		t.Error("port in the pattern")
	}
}
