package domains

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestRulesManifestShape(t *testing.T) {
	p := mustCompile(t,
		[]string{
			"github.com", "api.github.com", // subdomain folded into its parent
			"http://github.com",                                                      // same domain, other scope: kept (as the original)
			"https://raw.example.org", "raw.example.org", "http://a.raw.example.org", // http-only child of a both parent: folded
			"https://x.example.org", "x.example.org", // both plain, https-only plain at the same name: both kept
			"*.githubassets.com", "avatars.githubassets.com", // covered by a leading-* pattern: folded
			"https://*.secure.example.net", "https://a.secure.example.net", "b.secure.example.net", // https-only pattern covers https-only plain only
			"api-*.example.com", "api-v1.example.com", // not folded: the pattern does not cover x.api-v1.example.com
			"GitHub.com", ".github.com", // spellings of an entry already present
			"1.2.3.4", "*.com", // ignored: in no rule
		},
		[]string{"https://evil.github.com", "*.bad.github.com", "evil.github.com", "x.evil.github.com"},
	)
	want := []Rule{
		{RuleDenyUnsafePorts, 1, "deny", "!Safe_ports", "both", []string{}, "Deny requests to ports not in Safe_ports ACL (only 80, 443, and user-specified ports allowed)"},
		{RuleDenyConnectUnsafePorts, 2, "deny", "CONNECT !Safe_ports", "https", []string{}, "Deny CONNECT (HTTPS) to ports not in Safe_ports ACL"},
		{RuleDenyRawIPv4, 3, "deny", "dst_ipv4", "both", []string{`^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$`}, "Deny requests to raw IPv4 addresses (bypasses domain filtering)"},
		{RuleDenyRawIPv6, 4, "deny", "dst_ipv6", "both", []string{`^\[?[0-9a-fA-F:]+\]?$`}, "Deny requests to raw IPv6 addresses (bypasses domain filtering)"},
		{RuleDenyBlockedPlain, 5, "deny", "blocked_domains", "both", []string{".evil.github.com", ".x.evil.github.com"}, "Deny requests to explicitly blocked domains"},
		{RuleDenyBlockedRegex, 6, "deny", "blocked_domains_regex", "both", []string{`^[a-zA-Z0-9.-]*\.bad\.github\.com$`}, "Deny requests to explicitly blocked domain patterns"},
		{RuleAllowHTTPOnlyPlain, 7, "allow", "allowed_http_only", "http", []string{".github.com"}, "Allow HTTP-only traffic to these domains (no HTTPS)"},
		{RuleAllowHTTPSOnlyPlain, 8, "allow", "allowed_https_only", "https", []string{".raw.example.org", ".x.example.org"}, "Allow HTTPS-only traffic to these domains (no HTTP)"},
		{RuleAllowHTTPSOnlyRegex, 9, "allow", "allowed_https_only_regex", "https", []string{`^[a-zA-Z0-9.-]*\.secure\.example\.net$`}, "Allow HTTPS-only traffic matching these patterns"},
		{RuleAllowBothPlain, 10, "allow", "allowed_domains", "both", []string{".github.com", ".raw.example.org", ".x.example.org", ".b.secure.example.net", ".api-v1.example.com"}, "Allow HTTP and HTTPS traffic to these domains"},
		{RuleAllowBothRegex, 11, "allow", "allowed_domains_regex", "both", []string{`^[a-zA-Z0-9.-]*\.githubassets\.com$`, `^api-[a-zA-Z0-9.-]*\.example\.com$`}, "Allow HTTP and HTTPS traffic matching these patterns"},
		{RuleDenyDefault, 12, "deny", "all", "both", []string{}, "Deny all traffic not matching any allow rule (default deny)"},
	}
	got := p.Rules()
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", "  ")
		t.Errorf("Rules() =\n%s", gj)
	}
	// The JSON names are the manifest's, and empty lists are [] not null.
	b, err := json.Marshal(got[0])
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `{"id":"deny-unsafe-ports","order":1,"action":"deny","aclName":"!Safe_ports","protocol":"both","domains":[],` +
		`"description":"Deny requests to ports not in Safe_ports ACL (only 80, 443, and user-specified ports allowed)"}`
	if string(b) != wantJSON {
		t.Errorf("JSON = %s\nwant   %s", b, wantJSON)
	}
}

func TestRulesDeduplicationKeepsDecisions(t *testing.T) {
	// Folding entries changes which entry is named, never the verdict.
	allow := []string{"github.com", "api.github.com", "http://x.github.com", "*.githubassets.com", "avatars.githubassets.com",
		"https://*.secure.example.net", "b.secure.example.net", "api-*.example.com", "api-v1.example.com"}
	p := mustCompile(t, allow, nil)
	hosts := []string{"api.github.com", "x.github.com", "y.x.github.com", "avatars.githubassets.com", "a.avatars.githubassets.com",
		"b.secure.example.net", "c.b.secure.example.net", "api-v1.example.com", "x.api-v1.example.com"}
	for _, h := range hosts {
		for _, proto := range []Proto{HTTP, HTTPS} {
			if d := p.Decide(h, proto); !d.Allowed {
				t.Errorf("Decide(%q, %v) = %+v, want allowed", h, proto, d)
			}
		}
	}
	if d := p.Decide("githubassets.com", HTTPS); d.Allowed {
		t.Errorf("githubassets.com admitted by %s", d.Entry)
	}
}

func TestDangerousPortsIsACopy(t *testing.T) {
	a := DangerousPorts()
	if len(a) != 21 || a[0] != 22 || a[20] != 28017 {
		t.Fatalf("DangerousPorts() = %v", a)
	}
	a[0] = 1
	if DangerousPorts()[0] != 22 {
		t.Error("DangerousPorts returned shared storage")
	}
}
