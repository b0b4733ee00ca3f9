package sessionstate

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/awf-dev/awf/internal/config"
)

func TestPrepare(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	tmp := t.TempDir()
	c := &config.Config{User: config.Identity{UID: 1001, GID: 1001, Home: "/home/runner"}}

	c.Extras.SessionStateDir = filepath.Join(tmp, "new", "session-state")
	if err := Prepare(c); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(c.Extras.SessionStateDir)
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 1001 || st.Gid != 1001 {
		t.Errorf("owner %d:%d", st.Uid, st.Gid)
	}
	if len(c.Mounts) != 1 || c.Mounts[0].Container != "/home/runner/.copilot/session-state" || c.Mounts[0].ReadOnly {
		t.Errorf("mounts %+v", c.Mounts)
	}

	// A non-empty directory of another user is not handed over.
	other := filepath.Join(tmp, "system")
	os.MkdirAll(other, 0o755)
	os.WriteFile(filepath.Join(other, "tool"), []byte("x"), 0o755)
	c2 := &config.Config{User: c.User}
	c2.Extras.SessionStateDir = other
	if err := Prepare(c2); err == nil || !strings.Contains(err.Error(), "belongs to uid 0") {
		t.Errorf("root's non-empty dir: %v", err)
	}
	if fi, _ := os.Stat(other); fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Error("ownership changed")
	}
	// A symlink is refused.
	link := filepath.Join(tmp, "link")
	os.Symlink(other, link)
	c2.Extras.SessionStateDir = link
	if err := Prepare(c2); err == nil {
		t.Error("symlink accepted")
	}
	// An empty root-owned directory (made by an earlier root step) is fine.
	empty := filepath.Join(tmp, "empty")
	os.Mkdir(empty, 0o755)
	c2.Extras.SessionStateDir = empty
	if err := Prepare(c2); err != nil {
		t.Error(err)
	}
}
