package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/awf-dev/awf/internal/config"
	"github.com/awf-dev/awf/internal/workdir"
)

// claimWorkDir creates the run's work dir so that nobody else can have
// prepared it. /tmp is shared with the agents of earlier runs: a directory
// or symlink planted at a predictable path would steer awf's writes and
// chmods as root. A generated name keeps the original's awf-<digits> shape
// and is created exclusively (workdir.Claim); a --work-dir must be new, or
// a directory that only root can write.
func claimWorkDir(c *config.Config) error {
	if c.WorkDirGenerated {
		old := c.WorkDir
		ms, err := strconv.ParseInt(strings.TrimPrefix(filepath.Base(old), "awf-"), 10, 64)
		if err != nil {
			ms = time.Now().UnixMilli()
		}
		dir, err := workdir.Claim(filepath.Dir(old), ms)
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
