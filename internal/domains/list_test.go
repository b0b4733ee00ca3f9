package domains

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestSplitList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , ,", nil},
		{"github.com", []string{"github.com"}},
		{" github.com , api.github.com ,, github.com", []string{"github.com", "api.github.com"}},
		{"https://a.com,http://a.com,a.com", []string{"https://a.com", "http://a.com", "a.com"}},
		{"\u00a0a.com\ufeff,b.com\t", []string{"a.com", "b.com"}}, // JavaScript's trim() set
		{"A.com,a.com", []string{"A.com", "a.com"}},               // textual de-duplication, as the original; Compile merges spellings
	}
	for _, tt := range tests {
		if got := SplitList(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseFile(t *testing.T) {
	content := "\uFEFF# allowlist\n" +
		"github.com\n" +
		"  api.github.com   # inline comment\r\n" +
		"\n" +
		"a.com, b.com,,c.com\n" +
		"#d.com\n" +
		"github.com\n" +
		"https://x.com#, y.com\n"
	want := []string{"github.com", "api.github.com", "a.com", "b.com", "c.com", "https://x.com"}
	if got := ParseFile(content); !reflect.DeepEqual(got, want) {
		t.Errorf("ParseFile = %q, want %q", got, want)
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "domains.txt")
	if err := os.WriteFile(p, []byte("a.com\n# c\nb.com,c.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(p)
	if err != nil || !reflect.DeepEqual(got, []string{"a.com", "b.com", "c.com"}) {
		t.Errorf("ReadFile = %q, %v", got, err)
	}
	missing := filepath.Join(dir, "nope.txt")
	if _, err := ReadFile(missing); err == nil || err.Error() != "Domains file not found: "+missing {
		t.Errorf("ReadFile(missing) error = %v, want %q", err, "Domains file not found: "+missing)
	}
	if _, err := ReadFile(dir); err == nil {
		t.Error("ReadFile(directory) succeeded")
	}
}
