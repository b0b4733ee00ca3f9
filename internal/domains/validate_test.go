package domains

import (
	"errors"
	"strings"
	"testing"
)

const invalidCharTail = ". Domain names must not contain whitespace, quotes, semicolons, backticks, hash characters, backslashes, or control characters."

func TestValidateOriginalRules(t *testing.T) {
	tests := []struct {
		entry string
		want  string // "" means valid
	}{
		// accepted, as by the original
		{"github.com", ""},
		{"api.github.com", ""},
		{"sub.api.github.com", ""},
		{"*.github.com", ""},
		{"api-*.example.com", ""},
		{"*-cdn.example.com", ""},
		{"123.example.com", ""},
		{"http://github.com", ""},
		{"https://secure.example.com", ""},
		{"http://*.example.com", ""},
		{"https://github.com/", ""},
		{".github.com", ""},
		{"*.*.example.com", ""},
		{"localhost", ""},
		{"host.docker.internal", ""},
		{"1.2.3.4", ""}, // accepted but inert: raw IPs are denied before any allow rule
		{"[::1]", ""},
		// rejected, with the original's messages
		{"", "Domain cannot be empty"},
		{"   ", "Domain cannot be empty"},
		{"http://", "Domain cannot be empty"},
		{"https:///", "Domain cannot be empty"},
		{"evil.com\nhttp_access allow all", `Invalid domain "evil.com\nhttp_access allow all": contains invalid character U+000a` + invalidCharTail},
		{"evil.com\rx", `Invalid domain "evil.com\rx": contains invalid character U+000d` + invalidCharTail},
		{"evil.com\x00", `Invalid domain "evil.com\u0000": contains invalid character U+0000` + invalidCharTail},
		{"evil.com\tallowed", `Invalid domain "evil.com\tallowed": contains invalid character U+0009` + invalidCharTail},
		{"evil.com allowed", `Invalid domain "evil.com allowed": contains invalid character U+0020` + invalidCharTail},
		{"evil.com;rm", `Invalid domain "evil.com;rm": contains invalid character ';'` + invalidCharTail},
		{"evil.com#c", `Invalid domain "evil.com#c": contains invalid character '#'` + invalidCharTail},
		{`evil.com\n`, `Invalid domain "evil.com\\n": contains invalid character '\'` + invalidCharTail},
		{"evil.com'", `Invalid domain "evil.com'": contains invalid character '''` + invalidCharTail},
		{`evil.com"`, `Invalid domain "evil.com\"": contains invalid character '"'` + invalidCharTail},
		{"evil\u00a0com", "Invalid domain \"evil\u00a0com\": contains invalid character '\u00a0'" + invalidCharTail},
		{"*", "Pattern '*' matches all domains and is not allowed"},
		{"http://*", "Pattern '*' matches all domains and is not allowed"},
		{"*.*", "Pattern '*.*' is too broad and is not allowed"},
		{"https://*.*", "Pattern '*.*' is too broad and is not allowed"},
		{"*.*.*", "Pattern '*.*.*' is too broad and is not allowed"},
		{"*.", "Pattern '*.' is too broad and is not allowed"},
		{".*", "Pattern '.*' is too broad and is not allowed"},
		{"**", "Pattern '**' is too broad and is not allowed"},
		{"github..com", "Invalid domain 'github..com': contains double dots"},
		{"*.github..com", "Invalid domain '*.github..com': contains double dots"},
		{".", "Invalid domain: cannot be just a dot"},
		{"*.*.com", "Pattern '*.*.com' has too many wildcard segments and is not allowed"},
		{"*.*.*.com", "Pattern '*.*.*.com' has too many wildcard segments and is not allowed"},
	}
	for _, tt := range tests {
		err := Validate(tt.entry)
		if got := errText(err); got != tt.want {
			t.Errorf("Validate(%q) = %q, want %q", tt.entry, got, tt.want)
		}
	}
}

// Entries the original accepts always load now; those awf does not honour
// as written are covered by TestInspect (notice_test.go).
func TestValidateAcceptsWhatTheOriginalAccepts(t *testing.T) {
	for _, e := range []string{
		"*.com", "*.co.uk", "https://*.CO.UK", "foo*.com", "*example.com", "a.*.com", "*.internal", "*.kawasaki.jp",
		"kawasaki.jp", "*.foo.kawasaki.jp", "example.*", "192.168.*.*", "com", ".co.uk", "_dmarc.example.com",
		"https://github.com/path", "github.com:443", "ftp://x.com", "-bad.com", "ab--cd.com", "example.123", "evil.com\x01",
		strings.Repeat("a", 64) + ".com", "bü*.de", "a_*.example.com", ".*.example.com", "*.exa_mple.com", "*.example.1",
	} {
		if err := Validate(e); err != nil {
			t.Errorf("Validate(%q) = %v, want nil (the original accepts it)", e, err)
		}
		if err := ValidateBlocked(e); err != nil {
			t.Errorf("ValidateBlocked(%q) = %v, want nil (the original accepts it)", e, err)
		}
	}
}

func TestValidateAcceptsReasonablePatterns(t *testing.T) {
	for _, e := range []string{
		"*.github.com", "*.api.github.com", "api-*.example.com", "*.example.co.uk",
		"*.bücher.de", "*.XN--BCHER-KVA.de", "*.s3.us-east-1.amazonaws.com.example", "*.up1.test",
		"*.foo.github.io", "a*b.example.com", "*.*.example.com", "*.example.com.",
	} {
		if err := Validate(e); err != nil {
			t.Errorf("Validate(%q) = %v, want nil", e, err)
		}
	}
}

func TestPrivateSuffixOption(t *testing.T) {
	strict := Options{StrictPrivateSuffixes: true}
	for _, e := range []string{"*.githubusercontent.com", "*.github.io"} {
		if n, err := Inspect(e, false); err != nil || n == nil || n.Ignored || n.Kind != KindSharedSuffix {
			t.Errorf("by default, Inspect(%q) = %+v, %v; want an honoured entry with a shared-suffix notice", e, n, err)
		}
		if n, err := strict.Inspect(e, false); err != nil || n == nil || !n.Ignored || n.Kind != KindPublicSuffix {
			t.Errorf("with StrictPrivateSuffixes, Inspect(%q) = %+v, %v; want ignored", e, n, err)
		}
	}
	for _, e := range []string{"*.com", "*.co.uk", "*.internal"} {
		if n, err := strict.Inspect(e, false); err != nil || n == nil || !n.Ignored {
			t.Errorf("Inspect(%q) = %+v, %v; want the ICANN/default-rule entry ignored", e, n, err)
		}
	}
}

func TestValidateBlocked(t *testing.T) {
	// A blocklist may name whole suffixes: over-blocking is safe.
	for _, e := range []string{"*.com", "com", "*.github.io", "https://*.co.uk", "http://evil.com"} {
		if err := ValidateBlocked(e); err != nil {
			t.Errorf("ValidateBlocked(%q) = %v, want nil", e, err)
		}
	}
	for e, want := range map[string]string{
		"*":    "Pattern '*' matches all domains and is not allowed",
		"a..b": "Invalid domain 'a..b': contains double dots",
	} {
		if got := errText(ValidateBlocked(e)); got != want {
			t.Errorf("ValidateBlocked(%q) = %q, want %q", e, got, want)
		}
	}
}

func TestCompileErrorsNameTheEntry(t *testing.T) {
	tests := []struct {
		allow, block []string
		want         string
		blocked      bool
		entry        string
	}{
		{[]string{"ok.com", "*.*.com"}, nil, "Invalid domain or pattern: Pattern '*.*.com' has too many wildcard segments and is not allowed", false, "*.*.com"},
		{[]string{"ok.com"}, []string{"*"}, "Invalid blocked domain or pattern: Pattern '*' matches all domains and is not allowed", true, "*"},
		{[]string{"*.*"}, []string{"*"}, "Invalid domain or pattern: Pattern '*.*' is too broad", false, "*.*"}, // allowlist is checked first
		{[]string{"*.com", "tracker.we*"}, []string{"*"}, "Invalid blocked domain or pattern: Pattern '*' matches all domains", true, "*"},
		{[]string{""}, nil, "Invalid domain or pattern: Domain cannot be empty", false, ""},
	}
	for _, tt := range tests {
		_, err := Compile(tt.allow, tt.block)
		var ee *EntryError
		if !errors.As(err, &ee) {
			t.Fatalf("Compile(%q, %q) error %v is not an *EntryError", tt.allow, tt.block, err)
		}
		if !strings.HasPrefix(err.Error(), tt.want) || ee.Blocked != tt.blocked || ee.Entry != tt.entry {
			t.Errorf("Compile(%q, %q) = %q (blocked=%v entry=%q), want %q (blocked=%v entry=%q)",
				tt.allow, tt.block, err, ee.Blocked, ee.Entry, tt.want, tt.blocked, tt.entry)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestSharedSuffixWarning(t *testing.T) {
	for entry, warn := range map[string]bool{
		"*.githubusercontent.com":   true,
		"https://*.workers.dev":     true,
		"*.github.io":               true,
		"*.foo.github.io":           false, // one owner's subtree
		"*.github.com":              false,
		"raw.githubusercontent.com": false, // not a wildcard
		"api-*.example.com":         false,
	} {
		if got := SharedSuffixWarning(entry); (got != "") != warn {
			t.Errorf("SharedSuffixWarning(%q) = %q, want warning %v", entry, got, warn)
		}
	}
}
