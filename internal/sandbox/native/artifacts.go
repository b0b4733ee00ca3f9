package native

import (
	"os"
	"path/filepath"
	"syscall"

	"github.com/awf-dev/awf/internal/runstate"
	"github.com/awf-dev/awf/internal/sandbox"
)

// ArtifactDirs lists the logs and artifacts of runs that a sandbox must
// not show: the root-owned directories named as awf names its work and
// preserved dirs (sandbox.ArtifactName) directly under each of tmps, and
// the directories runs recorded (runstate.RecordArtifacts). The agent runs
// as the invoking user, so modes cannot keep it out of them.
func ArtifactDirs(tmps []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, tmp := range tmps {
		if tmp == "" || seen[tmp] {
			continue
		}
		seen[tmp] = true
		ents, _ := os.ReadDir(tmp)
		for _, e := range ents {
			if p := filepath.Join(tmp, e.Name()); sandbox.ArtifactName(e.Name()) && rootDir(p) {
				out = append(out, p)
			}
		}
	}
	for _, p := range runstate.Artifacts(StateRoot) {
		if rootDir(p) {
			out = append(out, p)
		}
	}
	return out
}

// rootDir reports whether p is a real directory owned by root: awf made
// it. (A directory the agent made under such a name is its own anyway.)
func rootDir(p string) bool {
	fi, err := os.Lstat(p)
	if err != nil || !fi.IsDir() {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Uid == 0
}

// hideLate hides, inside the sandbox being built, the artifact dirs that
// appeared after the plan was made: the init scans again once the run's
// lock is held, so any run preserving logs later finds this run live and
// hides them in it (HideInLiveSandboxes).
func hideLate(root string, p *sandbox.Plan) error {
	if len(p.HideScan) == 0 {
		return nil
	}
	planned := map[string]bool{}
	for _, m := range p.Mounts {
		if m.Kind == sandbox.KindHide {
			planned[m.Target] = true
		}
	}
	for _, t := range sandbox.HideTargets(ArtifactDirs(p.HideScan), p.Mounts) {
		if planned[t] {
			continue
		}
		if err := hide(root, t, &initTemplate); err != nil {
			return err
		}
	}
	return nil
}
