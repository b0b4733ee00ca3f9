package domains

import "testing"

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, host string
		want          bool
	}{
		{"*.github.com", "a.github.com", true},
		{"*.github.com", "a.b.github.com", true},
		{"*.github.com", "github.com", false},
		{"*.github.com", "agithub.com", false},
		{"*.github.com", "a.github.com.evil", false},
		{"api-*.example.com", "api-v1.example.com", true},
		{"api-*.example.com", "api-.example.com", true}, // the star may match nothing (such a name is invalid anyway)
		{"api-*.example.com", "x.api-v1.example.com", false},
		{"a*b*c.example.io", "abc.example.io", true},
		{"a*b*c.example.io", "axxbyyc.example.io", true},
		{"a*b*c.example.io", "a.b.c.example.io", true},
		{"a*b*c.example.io", "acb.example.io", false},
		{"ab*ba.example", "aba.example", false}, // prefix and suffix may not overlap
		{"ab*ba.example", "abba.example", true},
		{"**.x.example", "a.x.example", true},
		{"*a*a*.x.example", "a.x.example", false},
		{"*a*a*.x.example", "aa.x.example", true},
	}
	for _, tt := range tests {
		g := compileGlob(tt.pattern)
		if got := g.match(tt.host); got != tt.want {
			t.Errorf("glob %q match %q = %v, want %v", tt.pattern, tt.host, got, tt.want)
		}
		if ref := refMatch(tt.pattern, tt.host); ref != tt.want {
			t.Errorf("reference matcher disagrees on %q ~ %q", tt.pattern, tt.host)
		}
	}
}

func TestWildcardRegex(t *testing.T) {
	for p, want := range map[string]string{
		"*.github.com":      `^[a-zA-Z0-9.-]*\.github\.com$`,
		"api-*.example.com": `^api-[a-zA-Z0-9.-]*\.example\.com$`,
		"a*b*c.example.io":  `^a[a-zA-Z0-9.-]*b[a-zA-Z0-9.-]*c\.example\.io$`,
	} {
		if got := wildcardRegex(p); got != want {
			t.Errorf("wildcardRegex(%q) = %q, want %q", p, got, want)
		}
	}
}
