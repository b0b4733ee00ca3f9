package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/awf-dev/awf/internal/config"
)

// claimWorkDir creates the run's work dir so that nobody else can have
// prepared it. /tmp is shared with the agents of earlier runs: a directory
// or symlink planted at a predictable path would steer awf's writes and
// chmods as root. A generated name gets a random suffix (os.MkdirTemp
// creates it atomically, 0700); a --work-dir must be new, or a directory
// that only root can write.
func claimWorkDir(c *config.Config) error {
	if c.WorkDirGenerated {
		old := c.WorkDir
		dir, err := os.MkdirTemp(filepath.Dir(old), filepath.Base(old)+"-*")
		if err != nil {
			return err
		}
		c.WorkDir, c.WorkDirGenerated = dir, false
		if c.AuditDir == filepath.Join(old, "audit") {
			c.AuditDir = filepath.Join(dir, "audit")
		}
		return nil
	}
	return claimDir(c.WorkDir)
}

// claimDir creates dir (and its parents) or accepts an existing one only
// if it is a real directory owned by root that no one else can write.
func claimDir(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	err := os.Mkdir(dir, 0o700)
	if err == nil || !errors.Is(err, fs.ErrExist) {
		return err
	}
	return checkOwnedDir(dir)
}

func checkOwnedDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s exists and is not a directory that only awf's user can write (a symlink or a directory others could have prepared); remove it or choose another path", dir)
	}
	return nil
}

// ownedBy reports whether path is owned by uid.
func ownedBy(path string, uid int) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == uid
}
