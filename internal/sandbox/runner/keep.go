package runner

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/awf-dev/awf/internal/config"
	"github.com/awf-dev/awf/internal/sandbox/native"
)

// ShareKept makes what --keep-containers keeps readable by the run's user,
// as Preserve makes the preserved dirs: the work dir (it holds only the
// logs and the audit dir) and any flagged log or audit dir elsewhere. awf
// runs as root (often re-executed through sudo), so without this the user
// who asked to keep the logs could not read <workDir>/squid-logs, where the
// original's own tests look. Running sandboxes hide the dirs first;
// when one cannot, they stay root's.
func ShareKept(c *config.Config, log *slog.Logger) {
	d := RunDirs(c)
	gid := runGID(c)
	var dirs []string
	for _, dir := range []string{d.Work, d.Egress, d.APIProxy, d.Audit} {
		if dir == "" || (dir != d.Work && within(dir, d.Work)) {
			continue
		}
		if _, err := os.Stat(dir); err == nil {
			dirs = append(dirs, dir)
		}
	}
	if len(dirs) == 0 {
		return
	}
	if err := native.HideInLiveSandboxes(dirs, log); err != nil {
		log.Warn("keeping " + strings.Join(dirs, ", ") + " readable by root only: a running sandbox could not hide them")
		return
	}
	for _, dir := range dirs {
		shareTree(dir, gid)
	}
	recordArtifacts(dirs...)
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}
