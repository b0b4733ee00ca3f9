package logs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sampleRules() []Rule {
	return []Rule{
		{ID: "deny-unsafe-ports", Action: "deny", ACLName: "!Safe_ports", Protocol: "both", Description: "ports"},
		{ID: "deny-raw-ipv4", Action: "deny", ACLName: "dst_ipv4", Protocol: "both", Domains: []string{`^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$`}, Description: "ipv4"},
		{ID: "deny-blocked-plain", Action: "deny", ACLName: "blocked_domains", Protocol: "both", Domains: []string{".bad.github.com"}, Description: "blocked"},
		{ID: "allow-http-only-plain", Action: "allow", ACLName: "allowed_http_only", Protocol: "http", Domains: []string{".plain.test"}, Description: "http only"},
		{ID: "allow-https-only-regex", Action: "allow", ACLName: "allowed_https_only_regex", Protocol: "https", Domains: []string{`^.*\.secure\.test$`, `(?<=bad)`}, Description: "https only re"},
		{ID: "allow-both-plain", Action: "allow", ACLName: "allowed_domains", Protocol: "both", Domains: []string{".github.com", "exact.test"}, Description: "both"},
		{ID: "deny-default", Action: "deny", ACLName: "all", Protocol: "both", Description: "default"},
	}
}

func TestWritePolicyManifest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit", "policy-manifest.json")
	at := time.Date(2026, 3, 23, 18, 34, 53, 894e6, time.UTC)
	if err := WritePolicyManifest(path, sampleRules(), ManifestOptions{DNSServers: []string{"1.1.1.1"}, GeneratedAt: at}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["generatedAt"] != "2026-03-23T18:34:53.894Z" || raw["allowHostPorts"] != nil || raw["version"].(float64) != 1 {
		t.Errorf("%s", b)
	}
	if _, ok := raw["allowHostPorts"]; !ok {
		t.Error("allowHostPorts must be present (null)")
	}
	m, err := ReadManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Rules) != 7 || m.Rules[6].Order != 7 || m.Rules[0].Domains == nil || len(m.DangerousPorts) != 21 {
		t.Errorf("%+v", m)
	}
	if !strings.Contains(string(b), "\n  \"rules\": [\n    {\n      \"id\": \"deny-unsafe-ports\",\n      \"order\": 1,") {
		t.Errorf("not indented like JSON.stringify(m, null, 2):\n%s", b)
	}
	if st, _ := os.Stat(filepath.Dir(path)); st.Mode().Perm() != 0o700 {
		t.Errorf("audit dir mode %v", st.Mode().Perm())
	}
	if _, err := ReadManifest(filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Error("missing manifest read")
	}
}

func TestAttribution(t *testing.T) {
	m := NewManifest(sampleRules(), ManifestOptions{})
	a := NewAttributor(&m)
	cases := []struct {
		domain, method string
		allowed        bool
		rule           string
	}{
		{"api.github.com", "CONNECT", true, "allow-both-plain"},
		{"GitHub.com", "GET", true, "allow-both-plain"},
		{"exact.test", "GET", true, "allow-both-plain"},
		{"sub.exact.test", "GET", true, "unknown"}, // no leading dot: exact only
		{"x.plain.test", "GET", true, "allow-http-only-plain"},
		{"x.plain.test", "CONNECT", true, "unknown"}, // http-only rule never admits https
		{"a.secure.test", "CONNECT", true, "allow-https-only-regex"},
		{"x.bad.github.com", "CONNECT", false, "deny-blocked-plain"},
		{"1.2.3.4", "CONNECT", false, "deny-raw-ipv4"},
		{"api.github.com", "CONNECT", false, "deny-default"}, // allowed name, denied (port): replay says default
		{"other.test", "CONNECT", false, "deny-default"},
	}
	for _, c := range cases {
		e := Entry{Domain: c.domain, Method: c.method, IsAllowed: c.allowed, IsHTTPS: c.method == "CONNECT"}
		for i := 0; i < 2; i++ { // second time from the cache
			if got := a.Attribute(&e); got.RuleID != c.rule {
				t.Errorf("%s %s allowed=%v: got %s want %s", c.method, c.domain, c.allowed, got.RuleID, c.rule)
			}
		}
	}
	// The egress proxy's own attribution wins over the replay.
	e := Entry{Domain: "api.github.com", IsAllowed: false, IsHTTPS: true, Rule: "deny-unsafe-ports", Reason: "port 8443 not allowed"}
	if got := a.Attribute(&e); got.RuleID != "deny-unsafe-ports" || got.Reason != "ports" {
		t.Errorf("%+v", got)
	}
	e.Rule = "deny-private-destination"
	if got := a.Attribute(&e); got.RuleID != "deny-private-destination" || got.Reason != "port 8443 not allowed" {
		t.Errorf("%+v", got)
	}
	stats := RuleCounter{"allow-both-plain": 2, "unknown": 1, "deny-private-destination": 1}.Stats(&m)
	if n := len(stats); n != 9 || stats[7].RuleID != "deny-private-destination" || stats[8].RuleID != "unknown" || stats[8].Hits != 1 {
		t.Errorf("%+v", stats)
	}
}

func TestBlockedReport(t *testing.T) {
	line := func(s string) Entry {
		e, err := ParseAccessLine(s)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	entries := []Entry{
		line(`1.0 1.2.3.4:5 evil.test:443 -:- 1.1 CONNECT 403 TCP_DENIED:HIER_NONE evil.test:443 "-"`),
		line(`1.1 1.2.3.4:5 evil.test:443 -:- 1.1 CONNECT 403 TCP_DENIED:HIER_NONE evil.test:443 "-"`),
		line(`1.2 1.2.3.4:5 api.github.com:8443 -:- 1.1 CONNECT 403 TCP_DENIED:HIER_NONE api.github.com:8443 "-"`),
		line(`1.3 1.2.3.4:5 x.test -:- 1.1 GET 403 TCP_DENIED:HIER_NONE http://x.test/p "-"`),
		line(`1.4 1.2.3.4:5 10.0.0.1:443 -:- 1.1 CONNECT 403 TCP_DENIED:HIER_NONE 10.0.0.1:443 "-"`),
		line(`1.5 1.2.3.4:5 ok.github.com:443 1.1.1.1:443 1.1 CONNECT 200 TCP_TUNNEL:HIER_DIRECT ok.github.com:443 "-"`),
		line(`1.6 1.2.3.4:5 a.wild.test:443 -:- 1.1 CONNECT 403 TCP_DENIED:HIER_NONE a.wild.test:443 "-"`),
	}
	r := Blocked(entries, []string{"github.com", "*.wild.test"})
	if len(r.Targets) != 5 || r.Targets[0].Count != 2 {
		t.Fatalf("%+v", r.Targets)
	}
	kinds := []string{}
	for _, tg := range r.Targets {
		kinds = append(kinds, tg.Target+"="+tg.Kind)
	}
	want := "evil.test:443=domain api.github.com:8443=port x.test:80=domain 10.0.0.1:443=raw-ip a.wild.test:443=other"
	if strings.Join(kinds, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(kinds, " "), want)
	}
	if r.Suggestion != `--allow-domains "github.com,*.wild.test,evil.test,x.test"` || !r.PortIssues {
		t.Errorf("%+v", r)
	}
	if len(Blocked(nil, nil).Lines()) != 0 {
		t.Error("nothing blocked must print nothing")
	}
}
