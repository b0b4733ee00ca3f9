package workdir

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// The shape the original's test runner extracts from stderr.
var shape = regexp.MustCompile(`^awf-\d+$`)

func TestNamesHaveTheOriginalShape(t *testing.T) {
	n := int64(0)
	names := Names(1700000000123, 5, func() int64 { n++; return n })
	if names[0] != "awf-1700000000123" {
		t.Errorf("first name %q", names[0])
	}
	seen := map[string]bool{}
	for _, name := range names {
		if !shape.MatchString(name) || seen[name] {
			t.Errorf("bad or repeated name %q", name)
		}
		seen[name] = true
	}
	if names[1] != "awf-1700000000123000001" {
		t.Errorf("retry name %q", names[1])
	}
}

// TestClaimNeverUsesAPlantedName: a symlink or a directory someone else
// prepared at the predictable name is skipped, never followed or reused.
func TestClaimNeverUsesAPlantedName(t *testing.T) {
	for _, plant := range []string{"symlink", "dangling", "dir", "file"} {
		t.Run(plant, func(t *testing.T) {
			parent := t.TempDir()
			target := t.TempDir()
			p := filepath.Join(parent, "awf-42")
			switch plant {
			case "symlink":
				os.Symlink(target, p)
			case "dangling":
				os.Symlink(filepath.Join(target, "nowhere"), p)
			case "dir":
				os.Mkdir(p, 0o777)
			case "file":
				os.WriteFile(p, nil, 0o644)
			}
			got, err := Claim(parent, 42)
			if err != nil {
				t.Fatal(err)
			}
			if got == p || !shape.MatchString(filepath.Base(got)) || filepath.Dir(got) != parent {
				t.Fatalf("claimed %q", got)
			}
			fi, err := os.Lstat(got)
			if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
				t.Fatalf("claimed dir %v %v", fi.Mode(), err)
			}
			if ents, _ := os.ReadDir(target); len(ents) != 0 {
				t.Errorf("the symlink's target was written to: %v", ents)
			}
			if _, err := os.Stat(filepath.Join(target, "nowhere")); err == nil {
				t.Error("the dangling symlink was followed")
			}
		})
	}
}

func TestClaimTwiceInOneMillisecond(t *testing.T) {
	parent := t.TempDir()
	a, err1 := Claim(parent, 7)
	b, err2 := Claim(parent, 7)
	if err1 != nil || err2 != nil || a == b {
		t.Fatalf("%q %q %v %v", a, b, err1, err2)
	}
}

func TestCheckRefusesOthersDirs(t *testing.T) {
	d := t.TempDir()
	os.Chmod(d, 0o777)
	if Check(d) == nil {
		t.Error("a world-writable dir passed")
	}
	l := filepath.Join(t.TempDir(), "l")
	os.Symlink(t.TempDir(), l)
	if Check(l) == nil {
		t.Error("a symlink passed")
	}
}
