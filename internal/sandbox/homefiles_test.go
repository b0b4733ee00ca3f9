package sandbox

import (
	"path"
	"strings"
	"testing"
)

// TestCredentialPlaceholders: every credential path of the original shows
// as an empty file, created where that writes nothing to the host (fresh
// home, tool-dir overlays) but never on a host-backed home (a workspace
// that is the home) outside the overlays; the credential dirs without a
// file list are hidden whole.
func TestCredentialPlaceholders(t *testing.T) {
	if len(CredentialFiles) != 30 {
		t.Errorf("%d credential files; the original's policy lists 30", len(CredentialFiles))
	}
	for _, tc := range []struct {
		name       string
		mod        func(*Input)
		wantCreate bool
	}{
		{"fresh home", func(*Input) {}, true},
		{"home is the workspace", func(in *Input) { in.Workspace = "/home/u" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput()
			tc.mod(&in)
			p, err := Build(in)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range CredentialFiles {
				i := findMount(p.Mounts, KindMask, path.Join("/home/u", c))
				if i < 0 {
					t.Errorf("%s not masked", c)
					continue
				}
				// A tool dir is an overlay even on a host-backed home.
				want := tc.wantCreate || contains(ToolDirs, strings.Split(c, "/")[0])
				if m := p.Mounts[i]; m.Create != want || !m.Owned {
					t.Errorf("%s: create %v owned %v", c, m.Create, m.Owned)
				}
			}
			for _, d := range CredentialDirs {
				if findMount(p.Mounts, KindHide, path.Join("/home/u", d)) < 0 {
					t.Errorf("%s not hidden", d)
				}
			}
		})
	}
}

// TestToolCacheShown: the runner tool cache is bound read-only at its own
// path, after the fresh home when it lies inside it (and with its mount
// points the user's).
func TestToolCacheShown(t *testing.T) {
	for _, tc := range []struct{ dir string }{{"/home/u/work/_tool"}, {"/opt/hostedtoolcache"}} {
		in := baseInput()
		in.ToolCache = tc.dir
		p, err := Build(in)
		if err != nil {
			t.Fatal(err)
		}
		i := findMount(p.Mounts, KindBind, tc.dir)
		if i < 0 {
			t.Fatalf("%s not bound", tc.dir)
		}
		m := p.Mounts[i]
		if !m.ReadOnly || m.Source != tc.dir || m.Owned != strings.HasPrefix(tc.dir, "/home/u/") {
			t.Errorf("%s: %+v", tc.dir, m)
		}
		if h := findMount(p.Mounts, KindTmpfs, "/home/u"); h > i {
			t.Errorf("tool cache bound before the home tmpfs")
		}
	}
	in := baseInput()
	in.ToolCache = "/"
	p, _ := Build(in)
	if findMount(p.Mounts, KindBind, "/") >= 0 {
		t.Error("a tool cache of / was bound")
	}
}
