package domains

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/net/idna"
)

func TestCanonical(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"api.openai.com", "api.openai.com", nil},
		{"API.OpenAI.com.", "api.openai.com", nil},
		{"api\u3002openai\u3002com", "api.openai.com", nil},      // ideographic full stop
		{"api\uff0eopenai\uff0ecom", "api.openai.com", nil},      // fullwidth full stop
		{"api\uff61openai.com", "api.openai.com", nil},           // halfwidth ideographic full stop
		{"\uff41\uff50\uff49.openai.com", "api.openai.com", nil}, // fullwidth letters
		{"exa\u00admple.com", "example.com", nil},                // soft hyphen is ignored by UTS #46
		{"bücher.de", "xn--bcher-kva.de", nil},
		{"BÜCHER.de", "xn--bcher-kva.de", nil},
		{"XN--BCHER-KVA.DE", "xn--bcher-kva.de", nil},
		{"faß.de", "xn--fa-hia.de", nil}, // non-transitional: ß stays ß
		{"rr3---sn-abc.googlevideo.com", "rr3---sn-abc.googlevideo.com", nil},
		{"123.example.com", "123.example.com", nil},
		{"0x1.example.com", "0x1.example.com", nil},
		{"localhost", "localhost", nil},
		// invalid
		{"", "", ErrInvalidHost},
		{".", "", ErrInvalidHost},
		{"example.com..", "", ErrInvalidHost},
		{".example.com", "", ErrInvalidHost},
		{"a..b", "", ErrInvalidHost},
		{"api%2eopenai.com", "", ErrInvalidHost},
		{"api.openai.com%00", "", ErrInvalidHost},
		{"api.openai.com:443", "", ErrInvalidHost},
		{"user@api.openai.com", "", ErrInvalidHost},
		{"api.openai.com/x", "", ErrInvalidHost},
		{"_dmarc.example.com", "_dmarc.example.com", nil}, // underscores, as DNS, resolvers and the original allow them
		{"My_Host.Example.", "my_host.example", nil},
		{"_dmarc.bücher.de", "_dmarc.xn--bcher-kva.de", nil},
		{"a\uff3fb.com", "a_b.com", nil}, // fullwidth low line
		{"a!b.com", "", ErrInvalidHost},  // other ASCII punctuation stays invalid
		{"a$b.com", "", ErrInvalidHost},
		{"a b.com", "", ErrInvalidHost},
		{"-a.com", "", ErrInvalidHost},
		{"a-.com", "", ErrInvalidHost},
		{"ab--c.com", "", ErrInvalidHost},
		{"xn--.com", "", ErrInvalidHost},
		{"xn--a.com", "", ErrInvalidHost},        // punycode for a lone control character
		{"xn--example-.com", "", ErrInvalidHost}, // punycode that decodes to ASCII
		{"example.123", "", ErrInvalidHost},      // ends in a number
		{"example.0x1f", "", ErrInvalidHost},     // ends in a hex number
		{strings.Repeat("a", 64) + ".com", "", ErrInvalidHost},
		{strings.Repeat("a.", 127) + "com", "", ErrInvalidHost}, // 257 bytes
		{strings.Repeat("\u00ad", 600) + "a.com", "", ErrInvalidHost},
		{"[example.com]", "", ErrInvalidHost},
		{"\u202eevil.com", "", ErrInvalidHost}, // bidi override
		// addresses
		{"1.2.3.4", "1.2.3.4", ErrRawIP},
		{"[::1]", "::1", ErrRawIP},
		{"1.2.3.999", "1.2.3.999", ErrRawIP}, // the original's dotted-quad rule
	}
	for _, tt := range tests {
		got, err := Canonical(tt.in)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("Canonical(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParseRawIP(t *testing.T) {
	tests := []struct {
		in, want string // want "" = not an address
	}{
		{"203.0.113.20", "203.0.113.20"},
		{"203.0.113.20.", "203.0.113.20"},
		{"0xcb.0.113.20", "203.0.113.20"},
		{"0XCB.0X0.0X71.0X14", "203.0.113.20"},
		{"0313.0.0161.024", "203.0.113.20"},
		{"203.0.28948", "203.0.113.20"},
		{"203.28948", "203.0.113.20"}, // the last part fills the remaining three bytes
		{"3405803796", "203.0.113.20"},
		{"0xcb007114", "203.0.113.20"},
		{"031300070424", "203.0.113.20"},
		{"0x7f.1", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"0", "0.0.0.0"},
		{"0x", "0.0.0.0"},
		{"\uff11\uff12\uff17.\uff10.\uff10.\uff11", "127.0.0.1"}, // fullwidth digits
		{"127\u30020\u30020\u30021", "127.0.0.1"},
		{"::1", "::1"},
		{"[::1]", "::1"},
		{"[2001:db8::1]", "2001:db8::1"},
		{"2001:DB8::1", "2001:db8::1"},
		{"fe80::1%eth0", "fe80::1%eth0"},
		{"[fe80::1%25eth0]", "fe80::1%eth0"},
		{"::ffff:127.0.0.1", "::ffff:127.0.0.1"},
		{"[127.0.0.1]", "127.0.0.1"},
		// not addresses
		{"", ""},
		{"256.0.0.1", ""},
		{"1.2.3.4.5", ""},
		{"1.2.3.256", ""},
		{"1.2.65536", ""},
		{"4294967296", ""},
		{"08.1.1.1", ""},
		{"0xg.1.1.1", ""},
		{"1..2", ""},
		{"example.com", ""},
		{"[::1", ""},
		{"::g", ""},
		{"1.2.3.4:80", ""},
	}
	for _, tt := range tests {
		a, ok := ParseRawIP(tt.in)
		got := ""
		if ok {
			got = a.String()
		}
		want := tt.want
		if got != want {
			t.Errorf("ParseRawIP(%q) = %q, want %q", tt.in, got, want)
		}
		if IsRawIP(tt.in) != (want != "") {
			t.Errorf("IsRawIP(%q) = %v", tt.in, !ok)
		}
	}
}

// refProfile is idna.Lookup without the STD3 ASCII rules (underscores
// pass), built here independently of the package's own profile.
var refProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.StrictDomainName(false))

// The ASCII fast path must agree with UTS #46 lookup processing (without
// STD3 rules) on every input it takes.
func TestToASCIIFastPathMatchesIDNA(t *testing.T) {
	for _, h := range asciiSeeds {
		checkFastPath(t, h)
	}
}

func FuzzToASCIIFastPath(f *testing.F) {
	for _, h := range asciiSeeds {
		f.Add(h)
	}
	f.Fuzz(checkFastPath)
}

var asciiSeeds = []string{
	"_dmarc.example.com", "a_b", "_", "A_B.xn--bcher-kva.de", "_-a", "a_-", "xn--a_b", "a", "a.", "a..", ".a", "A.B.C", "ab--cd", "ab--", "a-", "-a", "xn--bcher-kva", "XN--BCHER-KVA.de.",
	"xn--", "xn--a", "xn--zca.de", "r3---sn", "rr3---sn-x.googlevideo.com", "0x7f.1", "1.2.3.4", "a.b-c.d",
	strings.Repeat("a", 63) + ".com", strings.Repeat("a", 64), strings.Repeat("ab.", 90),
}

func checkFastPath(t *testing.T, h string) {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return // not the fast path's input
		}
	}
	got, gerr := toASCII(h)
	ref, rerr := refProfile.ToASCII(h)
	if rerr == nil {
		ref = strings.TrimSuffix(ref, ".")
		rerr = checkLabels(ref)
	}
	if len(h) == 0 || len(h) > maxHostInput {
		rerr = ErrInvalidHost
	}
	if (gerr == nil) != (rerr == nil) || gerr == nil && got != ref {
		t.Errorf("toASCII(%q) = %q, %v; idna.Lookup gives %q, %v", h, got, gerr, ref, rerr)
	}
}
