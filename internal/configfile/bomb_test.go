package configfile

import (
	"strings"
	"testing"
	"time"
)

// TestHostileDocumentsBounded: `--config -` with a billion-laughs YAML, a
// nesting 100 000 deep (JSON and YAML) and a document over MaxSize is
// refused, each within a second and without expanding the document.
func TestHostileDocumentsBounded(t *testing.T) {
	laughs := "a: &a [" + strings.Repeat(`"lol",`, 8) + `"lol"]` + "\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		laughs += n + ": &" + n + " [" + strings.Repeat("*"+prev+",", 8) + "*" + prev + "]\n"
		prev = n
	}
	for _, tc := range []struct{ name, doc, want string }{
		{"billion laughs", laughs, "excessive aliasing"},
		{"deep JSON", strings.Repeat("[", 100000) + strings.Repeat("]", 100000), "max depth"},
		{"deep YAML", strings.Repeat("- ", 20000) + "x", "max depth"},
		{"over MaxSize", `{"network":{"allowDomains":["` + strings.Repeat("a", MaxSize) + `"]}}`, "larger than"},
	} {
		t0 := time.Now()
		_, err := Load("-", Source{Stdin: strings.NewReader(tc.doc)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if d := time.Since(t0); d > time.Second {
			t.Errorf("%s: %v", tc.name, d)
		}
	}
}
