package runner

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/awf-dev/awf/internal/config"
)

// A work dir kept by --keep-containers becomes readable (not writable) by
// the run's group, root keeping ownership; a flagged audit dir outside it
// too; symlinks are not followed.
func TestShareKept(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (chown to the run's group)")
	}
	root := t.TempDir()
	work := filepath.Join(root, "awf-123")
	audit := filepath.Join(root, "audit-elsewhere")
	outside := filepath.Join(root, "outside.txt")
	for _, d := range []string{filepath.Join(work, "squid-logs"), filepath.Join(work, "api-proxy-logs"), audit} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(work, 0o700)
	files := []string{filepath.Join(work, "squid-logs", "access.log"), filepath.Join(audit, "policy-manifest.json"), outside}
	for _, f := range files {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(work, "squid-logs", "link")); err != nil {
		t.Fatal(err)
	}
	c := &config.Config{WorkDir: work, AuditDir: audit, User: config.Identity{UID: 4242, GID: 4343}}
	ShareKept(c, slog.New(slog.NewTextHandler(io.Discard, nil)))

	check := func(p string, want os.FileMode, gid int) {
		t.Helper()
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != want || int(st.Gid) != gid || st.Uid != 0 {
			t.Errorf("%s: mode %o uid %d gid %d; want %o uid 0 gid %d", p, fi.Mode().Perm(), st.Uid, st.Gid, want, gid)
		}
	}
	check(work, 0o750, 4343)
	check(filepath.Join(work, "squid-logs"), 0o750, 4343)
	check(files[0], 0o640, 4343)
	check(audit, 0o750, 4343)
	check(files[1], 0o640, 4343)
	check(outside, 0o600, 0) // reached only through a symlink: untouched
}
