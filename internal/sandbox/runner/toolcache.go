package runner

import (
	"os"
	"path/filepath"

	"github.com/awf-dev/awf/internal/config"
	"github.com/awf-dev/awf/internal/sandbox"
)

// toolCache resolves the runner tool cache as the original does: the first
// of $RUNNER_TOOL_CACHE and <home>/work/_tool that is a directory itself
// (not a symlink to one). The sandbox shows it read-only at its own path;
// the fresh $HOME would otherwise hide the fallback.
func toolCache(c *config.Config) string {
	for _, p := range []string{c.HostEnv["RUNNER_TOOL_CACHE"], filepath.Join(c.User.Home, sandbox.ToolCacheDir)} {
		if !filepath.IsAbs(p) {
			continue
		}
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
			return filepath.Clean(p)
		}
	}
	return ""
}
