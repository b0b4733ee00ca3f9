// Package notices computes the stderr lines the original awf prints about a
// run's set-up that its users and its own integration tests look for
// (tests/integration in github/gh-aw-firewall): the work directory, the
// blocked domains, what was added to the allowlist automatically, the
// injected GH_HOST, the custom mounts and the credential files hidden.
//
// Each line is printed only when it describes what this run really does;
// Lines is a pure function of the run's plain data, so the tests check the
// wording and the conditions without running anything.
package notices

import (
	"fmt"
	"log/slog"
	"net/url"
	"path"
	"strings"

	"github.com/awf-dev/awf/internal/config"
	"github.com/awf-dev/awf/internal/sandbox"
)

// Line is one message at its level (the original's logger level).
type Line struct {
	Level slog.Level
	Msg   string
}

// Input is what the lines are computed from.
type Input struct {
	WorkDir string
	// AllowDomains is the user's own list (flags, files, config), without
	// the entries awf added by itself: the original's tests look for the
	// user's list on the "Allowed domains:" line, each entry once.
	AllowDomains []string
	BlockDomains []string
	// APITargets are the custom API target hosts (added to the allowlist).
	APITargets []string
	// GHESDomains are the hosts added for ENGINE_API_TARGET (GHES).
	GHESDomains []string
	// GHECDomains are the hosts added for a *.ghe.com GITHUB_SERVER_URL.
	GHECDomains []string
	// GHHost is GH_HOST in the agent's environment when awf set it from
	// GITHUB_SERVER_URL ("" otherwise).
	GHHost string
	// Mounts are the -v/--mount specs as given (host:container[:mode]).
	Mounts []string
	// Masked counts the credential files hidden with /dev/null.
	Masked int
	// Hidden counts the work and artifact dirs covered by an empty
	// read-only tmpfs (sandbox.KindHide).
	Hidden int
}

// FromRun gathers the Input of one run.
func FromRun(c *config.Config, agentEnv map[string]string, p *sandbox.Plan) Input {
	in := Input{WorkDir: c.WorkDir, BlockDomains: c.BlockDomains}
	auto := map[string]bool{}
	for _, d := range c.AutoAdded {
		auto[d] = true
	}
	for _, d := range c.AllowDomains {
		if !auto[d] {
			in.AllowDomains = append(in.AllowDomains, d)
		}
	}
	t := c.APIProxy.Targets
	for _, h := range []string{t.Copilot, t.OpenAI, t.Anthropic, t.Gemini} {
		if h != "" {
			in.APITargets = append(in.APITargets, h)
		}
	}
	if s := c.HostEnv["GITHUB_SERVER_URL"]; strings.HasSuffix(hostOf(s), ".ghe.com") {
		in.GHECDomains = config.AutoAllowed(config.Targets{}, map[string]string{"GITHUB_SERVER_URL": s, "GITHUB_API_URL": c.HostEnv["GITHUB_API_URL"]})
	}
	if e := c.HostEnv["ENGINE_API_TARGET"]; e != "" {
		in.GHESDomains = config.AutoAllowed(config.Targets{}, map[string]string{"ENGINE_API_TARGET": e})
	}
	if h := hostOf(c.HostEnv["GITHUB_SERVER_URL"]); h != "" && h != "github.com" && agentEnv["GH_HOST"] == h {
		in.GHHost = h
	}
	for _, m := range c.Mounts {
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		in.Mounts = append(in.Mounts, m.Host+":"+m.Container+":"+mode)
	}
	if p != nil {
		for _, m := range p.Mounts {
			if m.Kind == sandbox.KindMask && strings.HasPrefix(m.Target, path.Clean(p.User.Home)+"/") {
				in.Masked++
			}
			if m.Kind == sandbox.KindHide {
				in.Hidden++
			}
		}
	}
	return in
}

// ManyHidden is where the hide mounts for earlier runs' leftovers become
// worth a warning (about 0.1 s of start-up).
const ManyHidden = 1000

// Lines returns the messages, in the order the original prints them.
func Lines(in Input) []Line {
	var out []Line
	add := func(l slog.Level, format string, a ...any) { out = append(out, Line{l, fmt.Sprintf(format, a...)}) }
	if in.WorkDir != "" {
		add(slog.LevelInfo, "Using work directory: %s", in.WorkDir)
	}
	add(slog.LevelInfo, "Allowed domains: %s", strings.Join(in.AllowDomains, ", "))
	if len(in.BlockDomains) > 0 {
		add(slog.LevelInfo, "Blocked domains: %s", strings.Join(in.BlockDomains, ", "))
	}
	if len(in.GHECDomains) > 0 {
		add(slog.LevelDebug, "Auto-added GHEC domains from GITHUB_SERVER_URL/GITHUB_API_URL: %s", strings.Join(in.GHECDomains, ", "))
	}
	if len(in.GHESDomains) > 0 {
		add(slog.LevelDebug, "Auto-added GHES domains from engine.api-target: %s", strings.Join(in.GHESDomains, ", "))
	}
	if len(in.APITargets) > 0 {
		add(slog.LevelDebug, "Auto-added API target to allowed domains: %s", strings.Join(in.APITargets, ", "))
	}
	if in.GHHost != "" {
		add(slog.LevelDebug, "Auto-injected GH_HOST=%s from GITHUB_SERVER_URL", in.GHHost)
	}
	if len(in.Mounts) > 0 {
		add(slog.LevelDebug, "Adding %d custom volume mount(s)", len(in.Mounts))
		for _, m := range in.Mounts {
			add(slog.LevelDebug, "Adding custom volume mount: %s", m)
		}
	}
	if in.Masked > 0 {
		add(slog.LevelDebug, "Using selective mounting for security (credential files hidden)")
		add(slog.LevelDebug, "Hidden %d credential file(s) via /dev/null mounts", in.Masked)
	}
	if in.Hidden > 0 {
		add(slog.LevelDebug, "Work directory and earlier runs' logs hidden from the agent: %d empty read-only tmpfs mount(s)", in.Hidden)
	}
	if in.Hidden >= ManyHidden {
		add(slog.LevelWarn, "%d log directories of earlier runs are each hidden from the agent with a mount: start-up grows by about 0.1 ms per directory, and the kernel allows 100000 mounts; remove old ones (/tmp/squid-logs-*, /tmp/awf-audit-*, /tmp/api-proxy-logs-*, /tmp/awf-<digits>)", in.Hidden)
	}
	return out
}

func hostOf(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}
