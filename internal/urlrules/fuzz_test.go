package urlrules

import (
	"strings"
	"testing"
)

// FuzzAllowed: whatever the path, an allowed request has every view
// inside the allowed prefix (no reading of it escapes /myorg/), and views
// never panic or grow without bound.
func FuzzAllowed(f *testing.F) {
	for _, s := range []string{"/myorg/x", "/myorg/../x", "/myorg%2F..%2Fx", "//x", "/myorg/%2e%2e/x", `/myorg/..\x`, "/my%6Frg/a/./b", "/%", "/%zz/..", ""} {
		f.Add(s)
	}
	r, err := Compile([]string{"https://h.test/myorg/*"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, " \t\r\n?#") {
			return
		}
		views := Views(p)
		for _, v := range views {
			if len(v) > len(p)+1 {
				t.Fatalf("view %q longer than %q", v, p)
			}
		}
		if !r.Allowed("h.test", p, "") {
			return
		}
		for _, v := range views {
			if !strings.HasPrefix(v, "/myorg/") {
				t.Fatalf("%q allowed but one reading is %q", p, v)
			}
			for _, seg := range strings.Split(removeDots(foldSlashes(strings.NewReplacer("%2F", "/", "%5C", "/", `\`, "/").Replace(v))), "/") {
				if seg == ".." {
					t.Fatalf("%q allowed with a .. left in %q", p, v)
				}
			}
		}
	})
}
