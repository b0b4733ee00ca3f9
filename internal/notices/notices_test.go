package notices_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/awf-dev/awf/internal/config"
	"github.com/awf-dev/awf/internal/notices"
	"github.com/awf-dev/awf/internal/sandbox/runner"
)

// The original's integration tests (tests/integration/*.test.ts and
// tests/fixtures/awf-runner.ts), translated into data: for a set of flags and
// an environment, what its stderr must (and must not) show.
type check struct {
	name    string
	args    []string
	env     map[string]string
	want    []string // regular expressions that must match the stderr text
	notWant []string
}

func checks(mount string) []check {
	return []check{
		{name: "work dir (awf-runner.ts extractWorkDir)", args: []string{"-d", "github.com"},
			want: []string{`Using work directory: (/tmp/awf-\d+)`}},
		{name: "blocked domains (blocked-domains.test.ts)", args: []string{"-d", "github.com,example.com", "--block-domains", "evil.example.com"},
			want: []string{`Blocked domains: evil\.example\.com`}},
		{name: "no blocked line without a blocklist", args: []string{"-d", "github.com"},
			notWant: []string{`Blocked domains:`}},
		{name: "api target (api-target-allowlist.test.ts)", args: []string{"-d", "github.com", "--enable-api-proxy",
			"--copilot-api-target", "api.copilot.custom.com", "--openai-api-target", "api.openai.custom.com", "--anthropic-api-target", "api.anthropic.custom.com"},
			env:  map[string]string{"COPILOT_GITHUB_TOKEN": "fake-token", "OPENAI_API_KEY": "sk-fake", "ANTHROPIC_API_KEY": "sk-ant-fake"},
			want: []string{`Auto-added API target to allowed domains`, `api\.copilot\.custom\.com`, `api\.openai\.custom\.com`, `api\.anthropic\.custom\.com`}},
		{name: "api target from env (COPILOT_API_TARGET)", args: []string{"-d", "github.com", "--enable-api-proxy"},
			env:  map[string]string{"COPILOT_GITHUB_TOKEN": "t", "COPILOT_API_TARGET": "example.org"},
			want: []string{`Auto-added API target to allowed domains: example\.org`}},
		{name: "allowed domains list the user's own, once (api-target-allowlist.test.ts)", args: []string{"-d", "api.custom.com,github.com", "--enable-api-proxy",
			"--copilot-api-target", "api.custom.com"}, env: map[string]string{"COPILOT_GITHUB_TOKEN": "t"},
			want: []string{`(?m)^\[INFO\] Allowed domains: api\.custom\.com, github\.com$`}},
		{name: "allowed domains first entry (localhost-access.test.ts)", args: []string{"-d", "host.docker.internal"},
			want: []string{`Allowed domains: host\.docker\.internal`}},
		{name: "no api target, no line", args: []string{"-d", "github.com"},
			notWant: []string{`Auto-added API target`}},
		{name: "GHES (ghes-auto-populate.test.ts)", args: []string{"-d", "github.com", "--enable-api-proxy"},
			env:  map[string]string{"ENGINE_API_TARGET": "https://api.github.mycompany.com", "COPILOT_GITHUB_TOKEN": "t"},
			want: []string{`Auto-added GHES domains from engine\.api-target`, `github\.mycompany\.com`}},
		{name: "GHEC tenant", args: []string{"-d", "github.com"},
			env:  map[string]string{"GITHUB_SERVER_URL": "https://acme.ghe.com"},
			want: []string{`Auto-added GHEC domains from GITHUB_SERVER_URL/GITHUB_API_URL: acme\.ghe\.com, api\.acme\.ghe\.com`}},
		{name: "no GHES line without ENGINE_API_TARGET", args: []string{"-d", "github.com"},
			notWant: []string{`Auto-added GHES domains from engine\.api-target`}},
		{name: "GH_HOST (gh-host-injection.test.ts)", args: []string{"-d", "github.com"},
			env:  map[string]string{"GITHUB_SERVER_URL": "https://github.enterprise.local"},
			want: []string{`Auto-injected GH_HOST=github\.enterprise\.local`}},
		{name: "no GH_HOST for github.com", args: []string{"-d", "github.com"},
			env:     map[string]string{"GITHUB_SERVER_URL": "https://github.com"},
			notWant: []string{`GH_HOST`}},
		{name: "volume mounts (volume-mounts.test.ts)", args: []string{"-d", "github.com", "--mount", mount + ":/data:ro"},
			want: []string{`Adding.*custom volume mount`, `Adding custom volume mount: ` + regexp.QuoteMeta(mount) + `:/data:ro`}},
		{name: "credential hiding (credential-hiding.test.ts)", args: []string{"-d", "github.com"},
			want: []string{`(?i)Using selective mounting|Hidden.*credential`}},
		{name: "work dir hidden by tmpfs (workdir-tmpfs-hiding.test.ts)", args: []string{"-d", "github.com"},
			want: []string{`(?i)hidden from the agent: [1-9]\d* empty read-only tmpfs`}},
	}
}

func TestOriginalIntegrationTestLines(t *testing.T) {
	for _, tc := range checks(t.TempDir()) {
		t.Run(tc.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("awf", pflag.ContinueOnError)
			flags := config.Register(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{"PATH": "/usr/bin:/bin", "HOME": "/home/runner", "TMPDIR": "/tmp"}
			for k, v := range tc.env {
				env[k] = v
			}
			c, _, err := flags.Build([]string{"true"}, env)
			if err != nil {
				t.Fatal(err)
			}
			// The runner claims the directory; here the configured name
			// stands for it (the claim keeps the awf-<digits> shape,
			// internal/workdir tests).
			plan, res, err := runner.BuildPlan(c, "t", nil, false)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, l := range notices.Lines(notices.FromRun(c, res.Agent, plan)) {
				b.WriteString("[" + l.Level.String() + "] " + l.Msg + "\n")
			}
			out := b.String()
			for _, w := range tc.want {
				if !regexp.MustCompile(w).MatchString(out) {
					t.Errorf("missing /%s/ in:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if regexp.MustCompile(w).MatchString(out) {
					t.Errorf("unexpected /%s/ in:\n%s", w, out)
				}
			}
		})
	}
}

// Leftovers of many earlier runs each cost a mount: past ManyHidden awf
// says so, and what to remove.
func TestManyHiddenWarns(t *testing.T) {
	find := func(in notices.Input) string {
		for _, l := range notices.Lines(in) {
			if strings.Contains(l.Msg, "log directories of earlier runs") {
				return l.Level.String() + " " + l.Msg
			}
		}
		return ""
	}
	if got := find(notices.Input{Hidden: notices.ManyHidden - 1}); got != "" {
		t.Errorf("warned below the threshold: %s", got)
	}
	if got := find(notices.Input{Hidden: 3000}); !strings.HasPrefix(got, "WARN 3000 log directories") || !strings.Contains(got, "/tmp/squid-logs-*") {
		t.Errorf("no warning at 3000: %q", got)
	}
}
