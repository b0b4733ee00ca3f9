package domains

import (
	"strings"
	"testing"
)

// name253 is a 253-byte name of 63-byte labels: the longest DNS name.
var name253 = strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 56) + ".test"

// The rows of issue 12: allowlists that load in the original load here;
// what each entry admits or blocks; what is said about it.
func TestIssue12Rows(t *testing.T) {
	type req struct {
		host  string
		proto Proto
		allow bool
		rule  string
	}
	tests := []struct {
		name         string
		allow, block []string
		ignored      map[string]string // entry -> kind, for the allowlist entries not honoured
		reqs         []req
	}{
		{
			name:  "underscore labels in entries",
			allow: []string{"my_host.test", "*.u_w.test", "_dmarc.example.com"},
			reqs: []req{
				{"my_host.test", HTTPS, true, RuleAllowBothPlain},
				{"x.my_host.test", HTTP, true, RuleAllowBothPlain},
				{"MY_HOST.test.", HTTPS, true, RuleAllowBothPlain},
				{"a.u_w.test", HTTPS, true, RuleAllowBothRegex},
				{"a_b.u_w.test", HTTPS, true, RuleAllowBothRegex},
				{"u_w.test", HTTPS, false, RuleDenyDefault},
				{"myhost.test", HTTPS, false, RuleDenyDefault},
				{"_dmarc.example.com", HTTPS, true, RuleAllowBothPlain},
				{"example.com", HTTPS, false, RuleDenyDefault},
			},
		},
		{
			name:  "underscore in a requested name",
			allow: []string{"allowed.test"},
			reqs: []req{
				{"a_b.allowed.test", HTTPS, true, RuleAllowBothPlain},
				{"_x._tcp.allowed.test", HTTP, true, RuleAllowBothPlain},
				{"a_b.allowed.test.evil.test", HTTPS, false, RuleDenyDefault},
				{"a!b.allowed.test", HTTPS, false, RuleDenyDefault}, // other punctuation stays invalid
			},
		},
		{
			name:  "253-character name, 63-character labels",
			allow: []string{name253},
			reqs: []req{
				{name253, HTTPS, true, RuleAllowBothPlain},
				{strings.ToUpper(name253) + ".", HTTP, true, RuleAllowBothPlain},
				{"x" + name253, HTTPS, false, RuleDenyDefault},      // 254 bytes, and a 64-byte label
				{"x." + name253[2:], HTTPS, false, RuleDenyDefault}, // another name
			},
		},
		{
			name:  "block patterns with a wildcard at the end",
			allow: []string{"web.test", "tracker.web.test", "multi.test", "c.multi.test"},
			block: []string{"tracker.we*", "c.multi.*"},
			reqs: []req{
				{"tracker.web.test", HTTPS, false, RuleDenyBlockedRegex},
				{"tracker.we", HTTPS, false, RuleDenyBlockedRegex},
				{"tracker.weather.example", HTTP, false, RuleDenyBlockedRegex},
				{"c.multi.test", HTTPS, false, RuleDenyBlockedRegex},
				{"c.multi.x.y", HTTPS, false, RuleDenyBlockedRegex},
				{"x.web.test", HTTPS, true, RuleAllowBothPlain},
				{"x.tracker.web.test", HTTPS, true, RuleAllowBothPlain}, // the original's anchored regex: not blocked
				{"d.multi.test", HTTPS, true, RuleAllowBothPlain},
			},
		},
		{
			name:    "allow patterns with a wildcard at the end",
			allow:   []string{"static.tail*", "wtld.*", "*.tw.test*", "ok.test"},
			ignored: map[string]string{"static.tail*": KindTrailingWildcard, "wtld.*": KindTrailingWildcard, "*.tw.test*": KindTrailingWildcard},
			reqs: []req{
				{"static.tail.test", HTTPS, false, RuleDenyDefault},
				{"static.tailor.com", HTTPS, false, RuleDenyDefault},
				{"wtld.com", HTTPS, false, RuleDenyDefault},
				{"a.tw.test", HTTPS, false, RuleDenyDefault},
				{"a.tw.testing.com", HTTPS, false, RuleDenyDefault},
				{"ok.test", HTTPS, true, RuleAllowBothPlain},
			},
		},
		{
			name:    "star glued to a label",
			allow:   []string{"*wild4.test", "foo*.com", "*-cdn.example.com"},
			ignored: map[string]string{"*wild4.test": KindGluedWildcard, "foo*.com": KindGluedWildcard},
			reqs: []req{
				{"evilwild4.test", HTTPS, false, RuleDenyDefault},
				{"wild4.test", HTTPS, false, RuleDenyDefault},
				{"x.wild4.test", HTTPS, false, RuleDenyDefault},
				{"foobar.com", HTTPS, false, RuleDenyDefault},
				{"img-cdn.example.com", HTTPS, true, RuleAllowBothRegex}, // under one owner: honoured
			},
		},
		{
			name:    "IP-shaped patterns",
			allow:   []string{"203.0.113.*", "*.100.9", "198.51.100.7", "ok.test"},
			ignored: map[string]string{"203.0.113.*": KindRawIP, "*.100.9": KindRawIP, "198.51.100.7": KindRawIP},
			reqs: []req{
				{"203.0.113.5", HTTPS, false, RuleDenyRawIPv4},
				{"192.0.100.9", HTTP, false, RuleDenyRawIPv4},
				{"198.51.100.7", HTTP, false, RuleDenyRawIPv4},
				{"ok.test", HTTPS, true, RuleAllowBothPlain},
			},
		},
		{
			name:    "wildcards over public suffixes and URL-shaped entries",
			allow:   []string{"*.com", "*.co.uk", "com", "https://github.com/path", "*.example.1"},
			block:   []string{"https://evil.test/path", "bü*.de"},
			ignored: map[string]string{"*.com": KindPublicSuffix, "*.co.uk": KindPublicSuffix, "com": KindPublicSuffix, "https://github.com/path": KindInvalidName, "*.example.1": KindRawIP},
			reqs: []req{
				{"example.com", HTTPS, false, RuleDenyDefault},
				{"github.com", HTTPS, false, RuleDenyDefault},
				{"evil.test", HTTPS, false, RuleDenyBlockedPlain},
				{"xn--bcher-kva.de", HTTPS, false, RuleDenyBlockedRegex}, // bü*.de widened to *.de
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(tt.allow, tt.block)
			if err != nil {
				t.Fatalf("Compile: %v (the original accepts every entry: the run must start)", err)
			}
			got := map[string]string{}
			for _, n := range p.Ignored() {
				got[n.Entry] = n.Kind
			}
			if len(got) != len(tt.ignored) {
				t.Errorf("ignored = %v, want %v", got, tt.ignored)
			}
			for e, k := range tt.ignored {
				if got[e] != k {
					t.Errorf("entry %q: ignored as %q, want %q", e, got[e], k)
				}
			}
			for _, r := range tt.reqs {
				d := p.Decide(r.host, r.proto)
				if d.Allowed != r.allow || d.Rule != r.rule {
					t.Errorf("Decide(%q, %v) = %+v, want allowed=%v rule=%s", r.host, r.proto, d, r.allow, r.rule)
				}
			}
		})
	}
}

// What is said about each entry: the kind, the reason, the safe spelling,
// and the warning line.
func TestInspect(t *testing.T) {
	tests := []struct {
		entry   string
		blocked bool
		kind    string // "" = taken as written, no notice
		ignored bool
		reason  string // substring
		instead string
		warning string // substring of String()
	}{
		{"github.com", false, "", false, "", "", ""},
		{"my_host.test", false, "", false, "", "", ""},
		{"*.u_w.test", false, "", false, "", "", ""},
		{"api-*.example.com", false, "", false, "", "", ""},
		{"*-cdn.example.com", false, "", false, "", "", ""},
		{"*wild4.test", false, KindGluedWildcard, true, "such as evilwild4.test", "wild4.test,*.wild4.test",
			"Ignoring allowed domain '*wild4.test': the '*' is joined to a label, so it also matches names of other owners under the public suffix 'test' (such as evilwild4.test); use wild4.test,*.wild4.test instead"},
		{"https://*wild4.test", false, KindGluedWildcard, true, "", "https://wild4.test,https://*.wild4.test", ""},
		{"foo*.com", false, KindGluedWildcard, true, "such as fooevil.com", "", "Ignoring allowed domain 'foo*.com'"},
		{"static.tail*", false, KindTrailingWildcard, true, "such as static.tail.evil.example", "static.tail",
			"Ignoring allowed domain 'static.tail*': a wildcard in the last label matches names under any top-level domain"},
		{"wtld.*", false, KindTrailingWildcard, true, "such as wtld.evil.example", "", ""},
		{"*.tw.test*", false, KindTrailingWildcard, true, "such as x.tw.test.evil.example", "*.tw.test", "use *.tw.test instead"},
		{"*.*c", false, KindTrailingWildcard, true, "such as x.evil.c", "", ""},
		{"203.0.113.*", false, KindRawIP, true, "raw IP addresses are always denied", "", "allow the host by name"},
		{"*.100.9", false, KindRawIP, true, "IP-shaped", "", ""},
		{"[2001:db8::1]", false, KindRawIP, true, "", "", ""},
		{"*.com", false, KindPublicSuffix, true, "spans the public suffix 'com'", "", "list the hosts you need"},
		{"a.*.co.uk", false, KindPublicSuffix, true, "such as a.evil.co.uk", "", ""},
		{"*.kawasaki.jp", false, KindPublicSuffix, true, "'*.kawasaki.jp'", "", ""},
		{"co.uk", false, KindPublicSuffix, true, "'co.uk' is a public suffix", "", ""},
		{"https://github.com/path", false, KindInvalidName, true, "not a host name", "https://github.com", "use https://github.com instead"},
		{"github.com:443", false, KindInvalidName, true, "", "github.com", ""},
		{"ftp://x.example.com", false, KindInvalidName, true, "", "x.example.com", ""},
		{"-bad.com", false, KindInvalidName, true, "", "", ""},
		{strings.Repeat("a", 64) + ".com", false, KindInvalidName, true, "", "", ""},
		{"x" + name253, false, KindInvalidName, true, "", "", ""},
		{".*.example.com", false, KindInvalidName, true, "start with a dot", "*.example.com", ""},
		{"bü*.de", false, KindInvalidName, true, "may hold only ASCII", "", ""},
		{"evil\u202e.com", false, KindInvalidName, true, "", "", `Ignoring allowed domain "evil\u202e.com"`}, // a bidi override is escaped
		{"*.github.io", false, KindSharedSuffix, false, "a shared suffix", "", "Pattern '*.github.io' spans 'github.io'"},
		// blocklist: always honoured, broadened where it cannot be matched as written
		{"tracker.we*", true, "", false, "", "", ""},
		{"*.com", true, "", false, "", "", ""},
		{"203.0.113.*", true, "", false, "", "", ""},
		{"_x.evil.com", true, "", false, "", "", ""},
		{"https://evil.test/path", true, KindBroadened, false, "blocks all of evil.test", "", "Blocked domain 'https://evil.test/path': the proxy judges host names, not URLs"},
		{"bü*.de", true, KindBroadened, false, "so it blocks *.de", "", ""},
	}
	for _, tt := range tests {
		n, err := Inspect(tt.entry, tt.blocked)
		if err != nil {
			t.Errorf("Inspect(%q) error %v: the original accepts it", tt.entry, err)
			continue
		}
		if tt.kind == "" {
			if n != nil {
				t.Errorf("Inspect(%q, blocked=%v) = %+v, want no notice", tt.entry, tt.blocked, n)
			}
			continue
		}
		if n == nil {
			t.Errorf("Inspect(%q, blocked=%v) = nil, want a %s notice", tt.entry, tt.blocked, tt.kind)
			continue
		}
		if n.Kind != tt.kind || n.Ignored != tt.ignored || !strings.Contains(n.Reason, tt.reason) || n.Instead != tt.instead ||
			!strings.Contains(n.String(), tt.warning) || n.Entry != tt.entry {
			t.Errorf("Inspect(%q, blocked=%v) = %+v\n%s\nwant kind %s ignored %v reason ~%q instead %q warning ~%q",
				tt.entry, tt.blocked, n, n, tt.kind, tt.ignored, tt.reason, tt.instead, tt.warning)
		}
		if n.Instead != "" {
			// The safe spelling is itself taken as written.
			for _, e := range strings.Split(n.Instead, ",") {
				if m, err := Inspect(e, false); err != nil || m != nil && m.Ignored {
					t.Errorf("Inspect(%q): suggested %q is not honoured: %+v %v", tt.entry, e, m, err)
				}
			}
		}
	}
}

// Each entry is reported once, whatever the number of times it is listed,
// and the policy keeps blocking what the broadened entries block.
func TestNoticesOncePerEntry(t *testing.T) {
	p := mustCompile(t, []string{"*wild4.test", "ok.test", "*wild4.test", "*.github.io"}, []string{"https://evil.test/p", "https://evil.test/p"})
	var got []string
	for _, n := range p.Notices() {
		got = append(got, n.List+":"+n.Kind+":"+n.Entry)
	}
	want := []string{"allow:glued-wildcard:*wild4.test", "allow:shared-suffix:*.github.io", "block:broadened:https://evil.test/p"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Notices = %q, want %q", got, want)
	}
	if len(p.Ignored()) != 1 || p.Ignored()[0].Entry != "*wild4.test" {
		t.Errorf("Ignored = %+v", p.Ignored())
	}
	if d := p.Decide("x.evil.test", HTTPS); d.Rule != RuleDenyBlockedPlain {
		t.Errorf("broadened block: %+v", d)
	}
}

// Whatever the entry, Inspect terminates, an entry the original accepts
// loads, and a suggested spelling is honoured.
func FuzzInspect(f *testing.F) {
	for _, s := range []string{"*wild4.test", "static.tail*", "*.*c", ".*.x.test", "a*b.test", "https://x.test/p", "*.com", "bü*.de", "203.0.113.*"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, entry string, blocked bool) {
		if len(entry) > 300 {
			return
		}
		n, err := Inspect(entry, blocked)
		if (err == nil) != (validateOriginal(entry) == nil) {
			t.Fatalf("Inspect(%q) error %v, the original's rules say %v", entry, err, validateOriginal(entry))
		}
		if n != nil && n.Instead != "" {
			for _, e := range strings.Split(n.Instead, ",") {
				if m, err := Inspect(e, false); err != nil || m != nil && m.Ignored {
					t.Fatalf("Inspect(%q) suggests %q, which is not honoured: %+v %v", entry, e, m, err)
				}
			}
		}
	})
}
