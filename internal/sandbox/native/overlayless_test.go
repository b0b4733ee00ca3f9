package native

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/awf-dev/awf/internal/sandbox"
)

// TestCopyToolDir: the copy keeps modes (without set-id bits), owners and
// links as links (never followed), leaves out excluded credential paths,
// shows an oversized top-level dir empty and skips special files.
func TestCopyToolDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (owners)")
	}
	src, root := t.TempDir(), t.TempDir()
	secret := filepath.Join(t.TempDir(), "root-only")
	os.WriteFile(secret, []byte("ROOTSECRET"), 0o600)
	for p, data := range map[string]string{
		"tool.conf": "conf", "gh/config.yml": "cfg", "gh/hosts.yml": "TOKEN", "heroku/netrc": "TOKEN",
		"big/blob": strings.Repeat("x", 5000), "small/keep": "kept",
	} {
		os.MkdirAll(filepath.Join(src, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(src, p), []byte(data), 0o644)
	}
	os.Chmod(filepath.Join(src, "tool.conf"), 0o4755)
	os.Chown(filepath.Join(src, "tool.conf"), 1000, 1001)
	os.Symlink(secret, filepath.Join(src, "link"))
	os.Symlink(filepath.Dir(secret), filepath.Join(src, "dirlink"))
	unix.Mkfifo(filepath.Join(src, "fifo"), 0o644)

	m := sandbox.Mount{Kind: sandbox.KindCopy, Source: src, Target: "/copy", Shown: "/home/u/.config", MaxBytes: 1000, MaxFiles: 100,
		Exclude: []string{"gh/hosts.yml", "heroku"}}
	if err := copyToolDir(root, m); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(root, "copy")
	var found []string
	filepath.WalkDir(dst, func(p string, d os.DirEntry, _ error) error {
		rel, _ := filepath.Rel(dst, p)
		found = append(found, rel)
		if d.Type()&os.ModeSymlink != 0 {
			return nil // its target is resolved in the sandbox, not here
		}
		if b, err := os.ReadFile(p); err == nil && (strings.Contains(string(b), "TOKEN") || strings.Contains(string(b), "ROOTSECRET")) {
			t.Errorf("%s holds a secret", rel)
		}
		return nil
	})
	if got, want := strings.Join(found, " "), ". big dirlink gh gh/config.yml link small small/keep tool.conf"; got != want {
		t.Errorf("copied %q, want %q", got, want)
	}
	fi, err := os.Stat(filepath.Join(dst, "tool.conf"))
	if err != nil || fi.Mode().Perm() != 0o755 || fi.Mode()&os.ModeSetuid != 0 {
		t.Errorf("tool.conf mode: %v %v", fi.Mode(), err)
	}
	var st unix.Stat_t
	if unix.Lstat(filepath.Join(dst, "tool.conf"), &st); st.Uid != 1000 || st.Gid != 1001 {
		t.Errorf("owner %d:%d", st.Uid, st.Gid)
	}
	if l, err := os.Readlink(filepath.Join(dst, "link")); err != nil || l != secret {
		t.Errorf("link: %q %v", l, err)
	}
}

// TestOverlayProbe: the probe answers on this host, and a lower dir two
// overlays deep makes the kernel refuse (EINVAL), as the fallback expects.
func TestOverlayProbe(t *testing.T) {
	if os.Geteuid() != 0 || !OverlayAvailable() {
		t.Skip("needs root and overlayfs")
	}
	if err := OverlayProbe(); err != nil {
		t.Fatalf("probe on a plain host: %v", err)
	}
	d := t.TempDir()
	for _, s := range []string{"l", "e", "a", "b", "t"} {
		os.Mkdir(filepath.Join(d, s), 0o755)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(unix.Mount("overlay", d+"/a", "overlay", 0, "lowerdir="+d+"/l:"+d+"/e"))
	defer unix.Unmount(d+"/a", unix.MNT_DETACH)
	must(unix.Mount("overlay", d+"/b", "overlay", 0, "lowerdir="+d+"/a:"+d+"/e"))
	defer unix.Unmount(d+"/b", unix.MNT_DETACH)
	err := probeIn(d + "/b")
	if err == nil || !overlayRefused(err) {
		t.Fatalf("a third overlay: %v (want a refusal)", err)
	}
}
