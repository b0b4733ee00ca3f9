package sandbox

import (
	"path"
	"regexp"
	"strings"
)

// KindHide puts an empty read-only tmpfs over Target when, resolved inside
// the sandbox root without leaving it, it is a directory; anything else
// there is left alone. It keeps other runs' logs and artifacts out of the
// agent's view: the agent runs as the invoking user, so file modes alone
// cannot protect them, and the host's /tmp is shared with the sandbox.
const KindHide = "hide"

// artifactName matches the names awf gives its work dirs and preserved
// logs directly under a temp dir, as the original names them:
// awf-<timestamp>[-...] (work dirs), awf-audit-<ts>, squid-logs-<ts>,
// api-proxy-logs-<ts> (and the "-<random>" fallbacks Preserve uses when a
// name is taken).
var artifactName = regexp.MustCompile(`^(awf-[0-9][^/]*|awf-audit-[^/]+|squid-logs-[^/]+|api-proxy-logs-[^/]+)$`)

// ArtifactName reports whether a directory entry of a temp dir is named
// like an awf work dir or preserved artifact dir.
func ArtifactName(name string) bool { return artifactName.MatchString(name) }

// hideMounts returns the hide steps for the host directories in hide, at
// their own path and, when a -v mount shows them elsewhere, there too.
func hideMounts(hide []string, extra []Mount) []Mount {
	var out []Mount
	for _, t := range HideTargets(hide, extra) {
		out = append(out, Mount{Kind: KindHide, Target: t})
	}
	return out
}

// HideTargets maps host directories to the sandbox paths where they show:
// their own path, and inside every bind of a host directory that holds
// them (a -v mount at another path). Never "/", nothing relative, no
// duplicates.
func HideTargets(hide []string, mounts []Mount) []string {
	seen := map[string]bool{}
	var out []string
	add := func(t string) {
		if t != "/" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, h := range hide {
		if !path.IsAbs(h) {
			continue
		}
		h = path.Clean(h)
		add(h)
		for _, m := range mounts {
			if m.Kind != KindBind || m.Inner || m.Glob || m.Source == "" {
				continue
			}
			if rel, ok := under(h, m.Source); ok {
				add(path.Join(m.Target, rel))
			}
		}
	}
	return out
}

// under reports whether p is dir or inside it, and p relative to dir.
func under(p, dir string) (string, bool) {
	if p == dir {
		return ".", true
	}
	if dir == "/" {
		return strings.TrimPrefix(p, "/"), true
	}
	if strings.HasPrefix(p, dir+"/") {
		return strings.TrimPrefix(p, dir+"/"), true
	}
	return "", false
}
