// Package sessionstate gives the command the original's Copilot session
// state directory: --session-state-dir (or AWF_SESSION_STATE_DIR) on the
// host, shown read-write at ~/.copilot/session-state, so events.jsonl and
// the session data survive the run where gh-aw's later steps read them.
// Without it, session state stays inside the run's ~/.copilot overlay.
package sessionstate

import (
	"fmt"
	"os"
	"path"
	"syscall"

	"github.com/awf-dev/awf/internal/config"
)

// Target is where the directory shows inside the sandbox.
func Target(c *config.Config) string {
	return path.Join(c.User.Home, ".copilot", "session-state")
}

// Prepare creates the directory (owned by the run-as user, so the agent can
// write there) and adds its bind mount to c.Mounts. It refuses a symlink:
// chown and the bind would follow it to a path the user did not name.
func Prepare(c *config.Config) error {
	dir := c.Extras.SessionStateDir
	if dir == "" {
		return nil
	}
	uid, gid := c.User.UID, c.User.GID
	if uid == 0 {
		uid, gid = config.FallbackID, config.FallbackID
	}
	_, statErr := os.Lstat(dir)
	existed := statErr == nil
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("session state dir: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("session state dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("session state dir %s is not a directory", dir)
	}
	// awf runs as root: handing an existing directory of someone else's
	// (a system directory named by mistake) to the agent's user would let
	// the agent write there. Only a directory awf made, an empty one, or
	// one the user already owns is handed over.
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && existed && int(st.Uid) != uid {
		if ents, err := os.ReadDir(dir); err != nil || len(ents) > 0 {
			return fmt.Errorf("session state dir %s exists, is not empty and belongs to uid %d, not the agent's user %d", dir, st.Uid, uid)
		}
	}
	if err := os.Lchown(dir, uid, gid); err != nil {
		return fmt.Errorf("session state dir: %w", err)
	}
	c.Mounts = append(c.Mounts, config.Mount{Host: dir, Container: Target(c)})
	return nil
}

// Report is the original's closing line for the directory, or "".
func Report(c *config.Config) string {
	if c.Extras.SessionStateDir == "" {
		return ""
	}
	if _, err := os.Stat(c.Extras.SessionStateDir); err != nil {
		return ""
	}
	return "Agent session state available at: " + c.Extras.SessionStateDir
}
