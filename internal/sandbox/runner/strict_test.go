package runner

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/awf-dev/awf/internal/agentenv"
	"github.com/awf-dev/awf/internal/testnet"
)

// hostTokens are real-looking credentials in awf's own environment. Strict
// security (the default) and --legacy-security alike keep every one of them
// out of the sandbox, even with --env-all and without --enable-api-proxy.
var hostTokens = []string{
	"GITHUB_TOKEN", "GH_TOKEN", "GITHUB_PERSONAL_ACCESS_TOKEN", "GITHUB_API_TOKEN", "GITHUB_PAT", "GH_ACCESS_TOKEN",
	"COPILOT_GITHUB_TOKEN", "COPILOT_API_KEY", "OPENAI_API_KEY", "OPENAI_KEY", "CODEX_API_KEY",
	"ANTHROPIC_API_KEY", "CLAUDE_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY",
	"ACTIONS_ID_TOKEN_REQUEST_TOKEN",
}

// TestStrictSecurityNoTokenReachesAgent runs the real binary as issue 9
// found the hole: tokens in awf's environment, --env-all, no
// --enable-api-proxy. The command prints its environment, its own and the
// shell's /proc/<pid>/environ, and a probe walks every /proc/*/environ and
// cmdline in the sandbox; no token may appear anywhere, in stdout or in
// awf's stderr. The placeholders are the original's and the API proxy's
// /health names its service as the original does.
func TestStrictSecurityNoTokenReachesAgent(t *testing.T) {
	testnet.Require(t)
	for _, mode := range []struct {
		name string
		args []string
		log  string
	}{
		{"strict", nil, ""},
		{"legacy", []string{"--legacy-security"}, "Running in legacy security mode"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			env := []string{}
			secrets := map[string]string{}
			var needles []string
			for _, k := range hostTokens {
				v := secret("tok-" + strings.ToLower(k) + "-")
				secrets[k] = v
				env = append(env, k+"="+v)
				needles = append(needles, reverse(v))
			}
			// A token given explicitly with -e is refused too (with a warning).
			eTok := secret("ghp_explicit")
			secrets["-e GH_TOKEN"] = eTok
			needles = append(needles, reverse(eTok))

			script := strings.Join([]string{
				`env | sort`,
				`echo "--- self"; cat /proc/self/environ | tr '\0' '\n'`,
				`echo "--- shell"; tr '\0' '\n' < /proc/$$/environ`,
				`echo "--- probe"`,
				probe("grep", strings.Join(needles, ","), "/proc"),
				`echo "--- health"`,
				`curl -sS -m 5 "http://$AWF_API_PROXY_IP:10001/health"; echo`,
				`curl -sS -m 5 "http://$AWF_API_PROXY_IP:10002/health"; echo`,
				`curl -sS -m 5 "http://$AWF_API_PROXY_IP:10003/health"; echo`,
			}, "\n")
			args := append(append([]string{"--env-all"}, mode.args...), "-e", "GH_TOKEN="+eTok, "--", script)
			r := awf(t, env, args...)
			t.Logf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			if r.code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			for name, v := range secrets {
				if strings.Contains(r.stdout, v) {
					t.Errorf("%s reached the command (env or /proc/*/environ)", name)
				}
				if strings.Contains(r.stderr, v) {
					t.Errorf("%s appears in awf's log", name)
				}
			}
			// Both environ reads printed something (an empty read proves nothing).
			self, _, _ := strings.Cut(strings.SplitN(r.stdout+"--- self", "--- self", 2)[1], "--- shell")
			shell, _, _ := strings.Cut(strings.SplitN(r.stdout+"--- shell", "--- shell", 2)[1], "--- probe")
			for name, section := range map[string]string{"/proc/self/environ": self, "/proc/$$/environ": shell} {
				if !strings.Contains(section, "AWF_API_PROXY_IP=172.30.0.30") {
					t.Errorf("%s was not read (%d bytes)", name, len(section))
				}
			}
			if !strings.Contains(r.stdout, "ok absent") {
				t.Errorf("the /proc walk did not run clean:\n%s", r.stdout)
			}
			envLines := strings.SplitN(r.stdout, "--- self", 2)[0]
			for _, l := range strings.Split(envLines, "\n") {
				k, v, _ := strings.Cut(l, "=")
				if slices.Contains(hostTokens, k) && v != agentenv.PlaceholderFor(k) {
					t.Errorf("the command holds %s=%q, not awf's placeholder", k, v)
				}
			}
			for _, want := range []string{
				"ANTHROPIC_AUTH_TOKEN=sk-ant-placeholder-key-for-credential-isolation",
				"COPILOT_TOKEN=ghu_" + strings.Repeat("a", 36),
				"COPILOT_GITHUB_TOKEN=ghu_" + strings.Repeat("a", 36),
				"OPENAI_API_KEY=sk-placeholder-for-api-proxy",
				"GEMINI_API_KEY=gemini-api-key-placeholder-for-credential-isolation",
				`{"service":"awf-api-proxy-anthropic","status":"healthy"}`,
				`{"service":"awf-api-proxy-copilot","status":"healthy"}`,
				`{"service":"awf-api-proxy-gemini","status":"healthy"}`,
			} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout lacks %q", want)
				}
			}
			if m := regexp.MustCompile(`(?m)^(GITHUB_TOKEN|GH_TOKEN|GITHUB_PAT)=`).FindString(envLines); m != "" {
				t.Errorf("the command has %s", m)
			}
			if !strings.Contains(r.stderr, "GH_TOKEN (from -e): API keys and GitHub tokens never enter the sandbox") {
				t.Errorf("no warning for the refused -e GH_TOKEN:\n%s", r.stderr)
			}
			if mode.log != "" && !strings.Contains(r.stderr, mode.log) {
				t.Errorf("stderr lacks %q", mode.log)
			}
		})
	}
}
