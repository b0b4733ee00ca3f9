package runner

import (
	"io/fs"
	"os"
	"path/filepath"

	"github.com/awf-dev/awf/internal/config"
	"github.com/awf-dev/awf/internal/runstate"
	"github.com/awf-dev/awf/internal/sandbox/native"
)

// hiddenDirs lists the host directories the sandbox must not show: this
// run's own log and audit dirs (a --proxy-logs-dir inside a directory the
// agent gets, as gh-aw's /tmp/gh-aw/sandbox/firewall/logs inside a
// read-write /tmp/gh-aw), every root-owned work or preserved dir named as
// awf names them in the temp dirs, and the dirs earlier runs recorded.
// The agent runs as the invoking user, so modes cannot keep it out; these
// hold other runs' commands, environments (hashed) and traffic.
func hiddenDirs(c *config.Config) []string {
	d := RunDirs(c)
	return append([]string{d.Work, d.Egress, d.APIProxy, d.Audit}, native.ArtifactDirs(tempDirs())...)
}

// tempDirs are where runs keep their logs under generated names.
func tempDirs() []string { return []string{os.TempDir(), "/tmp"} }

// recordArtifacts remembers dirs for later runs to hide (best effort: the
// pattern scan still finds generated names).
func recordArtifacts(dirs ...string) {
	_ = runstate.RecordArtifacts(native.StateRoot, dirs...)
}

// shareTree makes preserved logs readable by the run's user, as the
// original makes them readable (a+rX), but through the group: root keeps
// ownership (nobody can alter them), the user's group may read, others
// nothing. It never follows a symlink: the change would hit its target.
func shareTree(dir string, gid int) {
	filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		fi, err := de.Info()
		if err != nil || !(fi.Mode().IsRegular() || fi.IsDir()) {
			return nil
		}
		mode := fi.Mode().Perm()&0o700 | 0o040
		if fi.IsDir() {
			mode |= 0o010
		}
		os.Lchown(p, -1, gid)
		os.Chmod(p, mode)
		return nil
	})
}

// runGID is the group preserved logs are shared with: the run-as user's.
func runGID(c *config.Config) int {
	if c.User.UID == 0 {
		return config.FallbackID
	}
	return c.User.GID
}
