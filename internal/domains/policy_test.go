package domains

import (
	"fmt"
	"sync"
	"testing"
)

func mustCompile(t testing.TB, allow, block []string) *Policy {
	t.Helper()
	p, err := Compile(allow, block)
	if err != nil {
		t.Fatalf("Compile(%q, %q): %v", allow, block, err)
	}
	return p
}

func TestDecide(t *testing.T) {
	p := mustCompile(t,
		[]string{
			"github.com", "api.github.com", "https://api.openai.com", "http://plain.example.org",
			"*.githubassets.com", "api-*.example.com", "https://*.secure.example.net", "http://*.cdn.example.net",
			"Bücher.DE", "1.2.3.4", "localhost",
		},
		[]string{"https://evil.github.com", "*.bad.github.com", "BAD.api.github.com."},
	)
	tests := []struct {
		host    string
		proto   Proto
		allowed bool
		rule    string
		reason  string
		entry   string
		canon   string // "" = same as host
	}{
		// allow-both-plain: the apex and every subdomain, any spelling
		{"github.com", HTTPS, true, RuleAllowBothPlain, "allowed by github.com", "github.com", ""},
		{"github.com", HTTP, true, RuleAllowBothPlain, "allowed by github.com", "github.com", ""},
		{"a.b.github.com", HTTPS, true, RuleAllowBothPlain, "allowed by github.com", "github.com", ""},
		{"api.github.com", HTTPS, true, RuleAllowBothPlain, "allowed by github.com", "github.com", ""}, // api.github.com was folded into github.com
		{"GitHub.COM.", HTTPS, true, RuleAllowBothPlain, "allowed by github.com", "github.com", "github.com"},
		{"github\u3002com", HTTPS, true, RuleAllowBothPlain, "allowed by github.com", "github.com", "github.com"},
		{"bücher.de", HTTPS, true, RuleAllowBothPlain, "allowed by xn--bcher-kva.de", "xn--bcher-kva.de", "xn--bcher-kva.de"},
		{"www.xn--bcher-kva.de", HTTP, true, RuleAllowBothPlain, "allowed by xn--bcher-kva.de", "xn--bcher-kva.de", ""},
		{"localhost", HTTP, true, RuleAllowBothPlain, "allowed by localhost", "localhost", ""},
		// not a subdomain
		{"evilgithub.com", HTTPS, false, RuleDenyDefault, ReasonNotInAllowlist, "", ""},
		{"github.com.evil.com", HTTPS, false, RuleDenyDefault, ReasonNotInAllowlist, "", ""},
		{"com", HTTPS, false, RuleDenyDefault, ReasonNotInAllowlist, "", ""},
		// protocol prefixes
		{"api.openai.com", HTTPS, true, RuleAllowHTTPSOnlyPlain, "allowed by https://api.openai.com", "https://api.openai.com", ""},
		{"x.api.openai.com", HTTPS, true, RuleAllowHTTPSOnlyPlain, "allowed by https://api.openai.com", "https://api.openai.com", ""},
		{"api.openai.com", HTTP, false, RuleDenyDefault, ReasonNotInAllowlist, "", ""},
		{"plain.example.org", HTTP, true, RuleAllowHTTPOnlyPlain, "allowed by http://plain.example.org", "http://plain.example.org", ""},
		{"plain.example.org", HTTPS, false, RuleDenyDefault, ReasonNotInAllowlist, "", ""},
		// patterns: anchored, `*` spans dots, not the apex
		{"avatars.githubassets.com", HTTPS, true, RuleAllowBothRegex, "allowed by *.githubassets.com", "*.githubassets.com", ""},
		{"a.b.githubassets.com", HTTP, true, RuleAllowBothRegex, "allowed by *.githubassets.com", "*.githubassets.com", ""},
		{"githubassets.com", HTTPS, false, RuleDenyDefault, ReasonNotInAllowlist, "", ""},
		{"x.githubassets.com.evil.com", HTTPS, false, RuleDenyDefault, ReasonNotInAllowlist, "", ""},
		{"API-V1.Example.com", HTTPS, true, RuleAllowBothRegex, "allowed by api-*.example.com", "api-*.example.com", "api-v1.example.com"},
		{"api-.example.com", HTTPS, false, RuleDenyDefault, ReasonInvalidHost, "", ""}, // the star may match nothing, but a label cannot end in "-"
		{"x.api-v1.example.com", HTTPS, false, RuleDenyDefault, ReasonNotInAllowlist, "", ""},
		{"api.example.com", HTTPS, false, RuleDenyDefault, ReasonNotInAllowlist, "", ""},
		{"a.secure.example.net", HTTPS, true, RuleAllowHTTPSOnlyRegex, "allowed by https://*.secure.example.net", "https://*.secure.example.net", ""},
		{"a.secure.example.net", HTTP, false, RuleDenyDefault, ReasonNotInAllowlist, "", ""},
		{"a.cdn.example.net", HTTP, true, RuleAllowHTTPOnlyRegex, "allowed by http://*.cdn.example.net", "http://*.cdn.example.net", ""},
		{"a.cdn.example.net", HTTPS, false, RuleDenyDefault, ReasonNotInAllowlist, "", ""},
		// blocklist wins, for both protocols whatever its prefix
		{"evil.github.com", HTTP, false, RuleDenyBlockedPlain, ReasonBlocked, "evil.github.com", ""},
		{"x.evil.github.com", HTTPS, false, RuleDenyBlockedPlain, ReasonBlocked, "evil.github.com", ""},
		{"EVIL.github.com.", HTTPS, false, RuleDenyBlockedPlain, ReasonBlocked, "evil.github.com", "evil.github.com"},
		{"bad.api.github.com", HTTPS, false, RuleDenyBlockedPlain, ReasonBlocked, "bad.api.github.com", ""},
		{"x.bad.github.com", HTTPS, false, RuleDenyBlockedRegex, ReasonBlocked, "*.bad.github.com", ""},
		{"bad.github.com", HTTPS, true, RuleAllowBothPlain, "allowed by github.com", "github.com", ""},
		// raw IPs, whatever the spelling, and even when listed
		{"1.2.3.4", HTTPS, false, RuleDenyRawIPv4, ReasonRawIP, "", ""},
		{"0x1.2.3.4", HTTPS, false, RuleDenyRawIPv4, ReasonRawIP, "", "1.2.3.4"},
		{"16909060", HTTP, false, RuleDenyRawIPv4, ReasonRawIP, "", "1.2.3.4"},
		{"999.1.1.1", HTTP, false, RuleDenyRawIPv4, ReasonRawIP, "", ""},
		{"[2001:db8::1]", HTTPS, false, RuleDenyRawIPv6, ReasonRawIP, "", "2001:db8::1"},
		{"::ffff:1.2.3.4", HTTPS, false, RuleDenyRawIPv6, ReasonRawIP, "", ""},
		// invalid names
		{"github.com:443", HTTPS, false, RuleDenyDefault, ReasonInvalidHost, "", ""},
		{"git%68ub.com", HTTPS, false, RuleDenyDefault, ReasonInvalidHost, "", ""},
		{"github.com..", HTTPS, false, RuleDenyDefault, ReasonInvalidHost, "", ""},
		{"", HTTPS, false, RuleDenyDefault, ReasonInvalidHost, "", ""},
		{"x_y.github.com", HTTPS, true, RuleAllowBothPlain, "allowed by github.com", "github.com", ""}, // underscores are name characters
		{"x-.github.com", HTTPS, false, RuleDenyDefault, ReasonInvalidHost, "", ""},
		{"github.com", Proto(0), false, RuleDenyDefault, ReasonUnknownProto, "", ""},
	}
	for _, tt := range tests {
		d := p.Decide(tt.host, tt.proto)
		canon := tt.canon
		if canon == "" {
			canon = tt.host
		}
		want := Decision{Allowed: tt.allowed, Host: canon, Rule: tt.rule, Reason: tt.reason, Entry: tt.entry}
		if d != want {
			t.Errorf("Decide(%q, %v) = %+v\n want %+v", tt.host, tt.proto, d, want)
		}
	}
}

func TestDecideRuleOrder(t *testing.T) {
	// The first rule in manifest order names the decision: http-only before
	// https-only before both, plain before regex within each.
	p := mustCompile(t, []string{"x.example.com", "http://*.example.com", "https://x.example.com"}, nil)
	for _, tt := range []struct {
		proto Proto
		rule  string
		entry string
	}{
		{HTTP, RuleAllowHTTPOnlyRegex, "http://*.example.com"},
		{HTTPS, RuleAllowHTTPSOnlyPlain, "https://x.example.com"},
	} {
		d := p.Decide("x.example.com", tt.proto)
		if !d.Allowed || d.Rule != tt.rule || d.Entry != tt.entry {
			t.Errorf("Decide(x.example.com, %v) = %+v, want rule %s entry %s", tt.proto, d, tt.rule, tt.entry)
		}
	}
}

func TestEmptyAndNilPolicyDenyEverything(t *testing.T) {
	empty := mustCompile(t, nil, nil)
	var nilPolicy *Policy
	for _, p := range []*Policy{empty, nilPolicy} {
		for _, h := range []string{"github.com", "localhost", "a.b.c"} {
			for _, proto := range []Proto{HTTP, HTTPS} {
				if d := p.Decide(h, proto); d.Allowed || d.Rule != RuleDenyDefault || d.Reason != ReasonNotInAllowlist {
					t.Errorf("Decide(%q) on an empty policy = %+v", h, d)
				}
			}
		}
	}
	rules := nilPolicy.Rules()
	if len(rules) != 5 || rules[4].ID != RuleDenyDefault {
		t.Errorf("nil policy rules = %+v", rules)
	}
}

func TestDecideAnyProto(t *testing.T) {
	p := mustCompile(t, []string{"http://h.example.com", "https://s.example.com", "b.example.com"}, []string{"x.b.example.com"})
	for h, want := range map[string]bool{
		"h.example.com": true, "s.example.com": true, "b.example.com": true,
		"x.b.example.com": false, "n.example.com": false, "1.2.3.4": false,
	} {
		if got := p.DecideAnyProto(h); got.Allowed != want {
			t.Errorf("DecideAnyProto(%q) = %+v, want allowed=%v", h, got, want)
		}
	}
	if d := p.DecideAnyProto("x.b.example.com"); d.Rule != RuleDenyBlockedPlain {
		t.Errorf("DecideAnyProto(blocked) rule = %s", d.Rule)
	}
}

func TestDecideConcurrent(t *testing.T) {
	p := mustCompile(t, benchAllow, benchBlock)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				h := fmt.Sprintf("h%d.svc%d.example.com", i, g)
				want := p.Decide(h, HTTPS)
				if got := p.Decide(h, HTTPS); got != want {
					errs <- fmt.Sprintf("%q: %+v then %+v", h, want, got)
					return
				}
				if d := p.Decide("api.github.com", HTTPS); !d.Allowed {
					errs <- "api.github.com denied"
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
