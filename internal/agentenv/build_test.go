package agentenv

import (
	"strings"
	"testing"

	"github.com/awf-dev/awf/internal/config"
)

const (
	openaiKey    = "sk-proj-REAL-openai-0123456789"
	anthropicKey = "sk-ant-api03-REAL-anthropic-abcdef"
	copilotTok   = "ghu_REALcopilotGitHubToken123456"
	copilotKey   = "REAL-copilot-byok-key-777"
	geminiKey    = "AIzaREAL-gemini-key-424242"
)

func allKeysHost() map[string]string {
	return map[string]string{
		"OPENAI_API_KEY": openaiKey, "ANTHROPIC_API_KEY": "  " + anthropicKey + "\n",
		"COPILOT_GITHUB_TOKEN": copilotTok, "COPILOT_API_KEY": copilotKey, "GEMINI_API_KEY": geminiKey,
		"PATH": "/usr/bin:/bin", "TERM": "xterm", "USER": "root", "SUDO_UID": "1001", "HOME": "/root",
		"GITHUB_TOKEN": "ghs_sessiontoken", "SOME_VAR": "x",
	}
}

func input(host map[string]string, proxy bool) Input {
	return Input{
		HostEnv:  host,
		APIProxy: proxy,
		Keys:     config.ReadKeys(host),
		User:     config.Identity{UID: 1001, GID: 1001, Name: "runner", Home: "/home/runner"},
	}
}

func TestContractWithAllKeys(t *testing.T) {
	a, s := Build(input(allKeysHost(), true))
	want := map[string]string{
		"OPENAI_BASE_URL":                 "http://172.30.0.30:10000/v1",
		"ANTHROPIC_BASE_URL":              "http://172.30.0.30:10001",
		"ANTHROPIC_AUTH_TOKEN":            AnthropicPlaceholder,
		"CLAUDE_CODE_API_KEY_HELPER":      "/usr/local/bin/get-claude-key.sh",
		"COPILOT_API_URL":                 "http://172.30.0.30:10002",
		"COPILOT_TOKEN":                   CopilotPlaceholder,
		"COPILOT_GITHUB_TOKEN":            CopilotPlaceholder,
		"COPILOT_API_KEY":                 CopilotPlaceholder,
		"COPILOT_PROVIDER_API_KEY":        CopilotPlaceholder,
		"COPILOT_OFFLINE":                 "true",
		"COPILOT_PROVIDER_BASE_URL":       "http://172.30.0.30:10002",
		"GEMINI_API_BASE_URL":             "http://172.30.0.30:10003",
		"GOOGLE_GEMINI_BASE_URL":          "http://172.30.0.30:10003",
		"GEMINI_CLI_SYSTEM_DEFAULTS_PATH": GeminiSystemDefaultsPath,
		"GEMINI_API_KEY":                  GeminiPlaceholder,
		"OPENAI_API_KEY":                  OpenAIPlaceholder,
		"CODEX_API_KEY":                   OpenAIPlaceholder,
		"HTTP_PROXY":                      "http://172.30.0.10:3128",
		"HTTPS_PROXY":                     "http://172.30.0.10:3128",
		"http_proxy":                      "http://172.30.0.10:3128",
		"https_proxy":                     "http://172.30.0.10:3128",
		"NO_PROXY":                        "localhost,127.0.0.1,172.30.0.30",
		"no_proxy":                        "localhost,127.0.0.1,172.30.0.30",
		"AWF_API_PROXY_IP":                "172.30.0.30",
		"AWF_ONE_SHOT_TOKENS":             strings.Join(OneShotTokens, ","),
		"HOME":                            "/home/runner",
		"USER":                            "runner",
		"PATH":                            "/usr/bin:/bin",
		"AWF_USER_UID":                    "1001",
		"AWF_WORKDIR":                     "/home/runner",
		"NO_COLOR":                        "1",
		"TERM":                            "xterm",
		"JAVA_TOOL_OPTIONS": "-Dhttp.proxyHost=172.30.0.10 -Dhttp.proxyPort=3128 -Dhttps.proxyHost=172.30.0.10 -Dhttps.proxyPort=3128" +
			" -Dhttp.nonProxyHosts=localhost|127.0.0.1|172.30.0.30 -Dhttps.nonProxyHosts=localhost|127.0.0.1|172.30.0.30",
	}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("agent[%s] = %q, want %q", k, a[k], v)
		}
	}
	for _, k := range []string{"ANTHROPIC_API_KEY", "GITHUB_TOKEN", "SOME_VAR", "SUDO_UID"} {
		if _, ok := a[k]; ok {
			t.Errorf("agent has %s", k)
		}
	}
	wantSide := map[string]string{
		"OPENAI_API_KEY": openaiKey, "ANTHROPIC_API_KEY": anthropicKey, "COPILOT_GITHUB_TOKEN": copilotTok,
		"COPILOT_API_KEY": copilotKey, "GEMINI_API_KEY": geminiKey,
		"HTTP_PROXY": "http://172.30.0.10:3128", "HTTPS_PROXY": "http://172.30.0.10:3128",
		"NO_PROXY": "localhost,127.0.0.1,::1", "AWF_RATE_LIMIT_ENABLED": "false", "AWF_RATE_LIMIT_RPH": "10000",
	}
	for k, v := range wantSide {
		if s[k] != v {
			t.Errorf("sidecar[%s] = %q, want %q", k, s[k], v)
		}
	}
}

func TestConditionalProviders(t *testing.T) {
	cases := []struct {
		name    string
		host    map[string]string
		present []string
		absent  []string
	}{
		{"openai only", map[string]string{"OPENAI_API_KEY": openaiKey},
			[]string{"OPENAI_BASE_URL", "GEMINI_API_BASE_URL", "GEMINI_API_KEY", "AWF_API_PROXY_IP"},
			[]string{"ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_API_KEY_HELPER", "COPILOT_API_URL", "COPILOT_TOKEN", "COPILOT_OFFLINE"}},
		{"copilot token only", map[string]string{"COPILOT_GITHUB_TOKEN": copilotTok},
			[]string{"COPILOT_API_URL", "COPILOT_TOKEN", "COPILOT_GITHUB_TOKEN"},
			[]string{"COPILOT_API_KEY", "COPILOT_PROVIDER_API_KEY", "COPILOT_OFFLINE", "COPILOT_PROVIDER_BASE_URL", "OPENAI_BASE_URL"}},
		{"copilot byok only", map[string]string{"COPILOT_API_KEY": copilotKey},
			[]string{"COPILOT_API_URL", "COPILOT_TOKEN", "COPILOT_API_KEY", "COPILOT_PROVIDER_API_KEY", "COPILOT_OFFLINE", "COPILOT_PROVIDER_BASE_URL"},
			[]string{"COPILOT_GITHUB_TOKEN"}},
		{"no keys", map[string]string{},
			[]string{"GEMINI_API_BASE_URL", "GEMINI_API_KEY", "NO_PROXY"},
			[]string{"OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "COPILOT_API_URL"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := Build(input(tc.host, true))
			for _, k := range tc.present {
				if _, ok := a[k]; !ok {
					t.Errorf("missing %s", k)
				}
			}
			for _, k := range tc.absent {
				if v, ok := a[k]; ok {
					t.Errorf("unexpected %s=%q", k, v)
				}
			}
		})
	}
}

func TestProxyOff(t *testing.T) {
	a, s := Build(input(allKeysHost(), false))
	if s != nil {
		t.Errorf("sidecar env without the API proxy: %v", s)
	}
	// Without the proxy the command needs its keys, as in the original.
	if a["OPENAI_API_KEY"] != openaiKey || a["COPILOT_GITHUB_TOKEN"] != copilotTok {
		t.Errorf("keys not passed through without the API proxy")
	}
	for _, k := range []string{"GEMINI_API_KEY", "OPENAI_BASE_URL", "GEMINI_API_BASE_URL", "AWF_API_PROXY_IP", "ANTHROPIC_AUTH_TOKEN"} {
		if _, ok := a[k]; ok {
			t.Errorf("unexpected %s without the API proxy", k)
		}
	}
	if a["NO_PROXY"] != "localhost,127.0.0.1" {
		t.Errorf("NO_PROXY = %q", a["NO_PROXY"])
	}
}

// TestNoKeyReachesAgent tries every route by which a real key could reach
// the command and checks that no value in the agent map contains one.
func TestNoKeyReachesAgent(t *testing.T) {
	keys := []string{openaiKey, anthropicKey, copilotTok, copilotKey, geminiKey}
	cases := []struct {
		name   string
		mutate func(*Input)
	}{
		{"defaults", func(*Input) {}},
		{"env-all", func(in *Input) { in.EnvAll = true }},
		{"env-all with excludes emptied", func(in *Input) { in.EnvAll = true; in.Exclude = nil }},
		{"-e key names", func(in *Input) {
			in.Extra = []config.EnvVar{{Name: "OPENAI_API_KEY", Value: openaiKey}, {Name: "ANTHROPIC_API_KEY", Value: anthropicKey}, {Name: "CLAUDE_API_KEY", Value: anthropicKey},
				{Name: "OPENAI_KEY", Value: openaiKey}, {Name: "CODEX_API_KEY", Value: openaiKey}, {Name: "GEMINI_API_KEY", Value: geminiKey}}
		}},
		{"-e replaces placeholders", func(in *Input) {
			in.Extra = []config.EnvVar{{Name: "ANTHROPIC_AUTH_TOKEN", Value: anthropicKey}, {Name: "COPILOT_GITHUB_TOKEN", Value: copilotTok},
				{Name: "COPILOT_TOKEN", Value: copilotTok}, {Name: "COPILOT_API_KEY", Value: copilotKey}, {Name: "COPILOT_PROVIDER_API_KEY", Value: copilotKey}}
		}},
		{"-e other names", func(in *Input) {
			in.Extra = []config.EnvVar{{Name: "MY_VAR", Value: openaiKey}, {Name: "URL", Value: "https://x/?k=" + geminiKey}, {Name: "HTTP_PROXY", Value: "http://u:" + copilotKey + "@p"}}
		}},
		{"env-file", func(in *Input) {
			in.EnvFile = []config.EnvVar{{Name: "FROM_FILE", Value: anthropicKey}, {Name: "OPENAI_API_KEY", Value: openaiKey}}
		}},
		{"host var embedding key with env-all", func(in *Input) {
			in.HostEnv["DATABASE_URL"] = "postgres://" + copilotTok + "@db"
			in.HostEnv["CLAUDE_CODE_OAUTH_TOKEN"] = anthropicKey
			in.EnvAll = true
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := input(allKeysHost(), true)
			tc.mutate(&in)
			r := BuildResult(in)
			for k, v := range r.Agent {
				for _, key := range keys {
					if strings.Contains(v, key) || strings.Contains(k, key) {
						t.Errorf("agent[%s] = %q carries a real key", k, v)
					}
				}
			}
			// The placeholders survive every attempt.
			if r.Agent["ANTHROPIC_AUTH_TOKEN"] != AnthropicPlaceholder || r.Agent["COPILOT_GITHUB_TOKEN"] != CopilotPlaceholder ||
				r.Agent["GEMINI_API_KEY"] != GeminiPlaceholder {
				t.Errorf("placeholder replaced: %q %q %q", r.Agent["ANTHROPIC_AUTH_TOKEN"], r.Agent["COPILOT_GITHUB_TOKEN"], r.Agent["GEMINI_API_KEY"])
			}
		})
	}
}

func TestShortKeyOnlyExactMatch(t *testing.T) {
	host := map[string]string{"OPENAI_API_KEY": "abc", "PATH": "/abc/bin"}
	in := input(host, true)
	in.Extra = []config.EnvVar{{Name: "X", Value: "abc"}}
	a, _ := Build(in)
	if a["PATH"] != "/abc/bin" {
		t.Errorf("PATH dropped for containing a 3-character key: %q", a["PATH"])
	}
	if _, ok := a["X"]; ok {
		t.Errorf("exact key value kept")
	}
}

func TestPrecedenceAndExclusions(t *testing.T) {
	host := map[string]string{
		"PATH": "/usr/bin", "PWD": "/x", "SUDO_USER": "u", "ACTIONS_RUNTIME_TOKEN": "rt", "KEEP": "host",
		"BOTH": "host", "DROPME": "host", "AWF_ONE_SHOT_TOKENS": "NONE", "TERM": "dumb",
		"GITHUB_SERVER_URL": "https://ghes.corp", "AWF_ONE_SHOT_TOKEN_DEBUG": "1", "GOROOT": "/go",
	}
	in := input(host, false)
	in.EnvAll = true
	in.Exclude = []string{"DROPME", "FILEX"}
	in.EnvFile = []config.EnvVar{{Name: "BOTH", Value: "file"}, {Name: "FILEONLY", Value: "file"}, {Name: "FILEX", Value: "file"}}
	in.Extra = []config.EnvVar{{Name: "FILEONLY", Value: "cli"}, {Name: "NO_PROXY", Value: "corp.internal"}, {Name: "AWF_ONE_SHOT_TOKENS", Value: ""}, {Name: "AWF_USER_UID", Value: "0"}, {Name: "JAVA_TOOL_OPTIONS", Value: "-Xmx1g"}}
	in.TTY = true
	in.DNSServers = []string{"1.1.1.1", "8.8.8.8"}
	in.Workdir = "/src"
	in.GitHubPath = []string{"/first", "/second"}
	a, _ := Build(in)
	want := map[string]string{
		"KEEP": "host", "BOTH": "host", "FILEONLY": "cli", "TERM": "xterm-256color", "FORCE_COLOR": "1", "COLUMNS": "120",
		"NO_PROXY": "corp.internal,localhost,127.0.0.1", "no_proxy": "corp.internal,localhost,127.0.0.1",
		"AWF_ONE_SHOT_TOKENS": strings.Join(OneShotTokens, ","), "AWF_USER_UID": "1001", "GH_HOST": "ghes.corp",
		"AWF_ONE_SHOT_TOKEN_DEBUG": "1", "AWF_GOROOT": "/go", "AWF_DNS_SERVERS": "1.1.1.1,8.8.8.8", "AWF_WORKDIR": "/src",
		"PATH": "/second:/first:/usr/bin", "GITHUB_SERVER_URL": "https://ghes.corp",
		"JAVA_TOOL_OPTIONS": "-Xmx1g -Dhttp.proxyHost=172.30.0.10 -Dhttp.proxyPort=3128 -Dhttps.proxyHost=172.30.0.10 -Dhttps.proxyPort=3128" +
			" -Dhttp.nonProxyHosts=corp.internal|localhost|127.0.0.1 -Dhttps.nonProxyHosts=corp.internal|localhost|127.0.0.1",
	}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("agent[%s] = %q, want %q", k, a[k], v)
		}
	}
	for _, k := range []string{"PWD", "SUDO_USER", "ACTIONS_RUNTIME_TOKEN", "DROPME", "FILEX", "NO_COLOR"} {
		if v, ok := a[k]; ok {
			t.Errorf("unexpected %s=%q", k, v)
		}
	}
}

func TestDroppedReported(t *testing.T) {
	in := input(map[string]string{"ANTHROPIC_API_KEY": anthropicKey}, true)
	in.Extra = []config.EnvVar{{Name: "ANTHROPIC_AUTH_TOKEN", Value: "mine"}, {Name: "ANTHROPIC_BASE_URL", Value: "https://api.anthropic.com"}, {Name: "LEAK", Value: anthropicKey}}
	r := BuildResult(in)
	var got []string
	for _, d := range r.Dropped {
		got = append(got, d.Name)
	}
	if strings.Join(got, ",") != "ANTHROPIC_AUTH_TOKEN,ANTHROPIC_BASE_URL,LEAK" {
		t.Errorf("Dropped = %v", r.Dropped)
	}
	if r.Agent["ANTHROPIC_BASE_URL"] != "http://172.30.0.30:10001" {
		t.Errorf("base URL replaced: %q", r.Agent["ANTHROPIC_BASE_URL"])
	}
}

func TestSidecarTargetsAndLimits(t *testing.T) {
	in := input(map[string]string{"OPENAI_API_KEY": openaiKey, "GITHUB_SERVER_URL": "https://acme.ghe.com"}, true)
	in.Targets = config.Targets{OpenAI: "llm.corp", OpenAIBasePath: "/serving"}
	in.RateLimit = config.RateLimit{Enabled: true, RPM: 5, RPH: 50, BytesPM: 500}
	in.ProxyIP, in.ProxyPort, in.APIProxyIP = "10.9.0.1", 8080, "10.9.0.2"
	a, s := Build(in)
	want := map[string]string{
		"OPENAI_API_TARGET": "llm.corp", "OPENAI_API_BASE_PATH": "/serving", "GITHUB_SERVER_URL": "https://acme.ghe.com",
		"HTTPS_PROXY": "http://10.9.0.1:8080", "AWF_RATE_LIMIT_ENABLED": "true", "AWF_RATE_LIMIT_RPM": "5",
		"AWF_RATE_LIMIT_RPH": "50", "AWF_RATE_LIMIT_BYTES_PM": "500",
	}
	for k, v := range want {
		if s[k] != v {
			t.Errorf("sidecar[%s] = %q, want %q", k, s[k], v)
		}
	}
	if _, ok := s["ANTHROPIC_API_TARGET"]; ok {
		t.Errorf("unset target passed")
	}
	if a["OPENAI_BASE_URL"] != "http://10.9.0.2:10000/v1" || a["HTTP_PROXY"] != "http://10.9.0.1:8080" || a["NO_PROXY"] != "localhost,127.0.0.1,10.9.0.2" {
		t.Errorf("addresses not applied: %q %q %q", a["OPENAI_BASE_URL"], a["HTTP_PROXY"], a["NO_PROXY"])
	}
}

func TestFromConfig(t *testing.T) {
	c := &config.Config{
		HostEnv:  map[string]string{"ANTHROPIC_API_KEY": anthropicKey},
		APIProxy: config.APIProxy{Enabled: true, Keys: config.Keys{Anthropic: anthropicKey}},
		Env:      config.EnvOptions{Extra: []config.EnvVar{{Name: "A", Value: "1"}}},
		User:     config.Identity{UID: 1000, GID: 1000, Home: "/root"},
	}
	a, s := Build(FromConfig(c))
	if a["A"] != "1" || a["ANTHROPIC_BASE_URL"] == "" || s["ANTHROPIC_API_KEY"] != anthropicKey || a["HOME"] != "/root" {
		t.Errorf("FromConfig lost data: %v", a)
	}
}

func BenchmarkBuild(b *testing.B) {
	host := allKeysHost()
	for i := 0; i < 100; i++ {
		host["VAR_"+strings.Repeat("X", i%7)+string(rune('A'+i%26))] = strings.Repeat("v", 40)
	}
	in := input(host, true)
	in.EnvAll = true
	for b.Loop() {
		Build(in)
	}
}

// TestStrictIsolation: with the API proxy on (always, since strict
// security), no host credential or GitHub token reaches the command by any
// route: the default list, --env-all, --env-file or -e. Only awf's own
// placeholders stand under those names. Before the fix GITHUB_TOKEN,
// GH_TOKEN and GITHUB_PERSONAL_ACCESS_TOKEN were passed by default and
// every other isolated name through -e.
func TestStrictIsolation(t *testing.T) {
	host := allKeysHost()
	real := map[string]string{}
	for _, k := range isolated {
		if _, ok := host[k]; !ok {
			host[k] = "real-" + strings.ToLower(k) + "-0123456789"
		}
		real[k] = host[k]
	}
	host["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "real-oidc-request-token"
	real["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = host["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]
	routes := []struct {
		name   string
		mutate func(*Input)
	}{
		{"default list", func(*Input) {}},
		{"--env-all", func(in *Input) { in.EnvAll = true }},
		{"--env-file", func(in *Input) {
			for _, k := range sortedKeys(real) {
				in.EnvFile = append(in.EnvFile, config.EnvVar{Name: k, Value: real[k]})
			}
		}},
		{"-e", func(in *Input) {
			for _, k := range sortedKeys(real) {
				in.Extra = append(in.Extra, config.EnvVar{Name: k, Value: real[k]})
			}
		}},
	}
	for _, rt := range routes {
		t.Run(rt.name, func(t *testing.T) {
			in := input(host, true)
			rt.mutate(&in)
			a := BuildResult(in).Agent
			for k, v := range a {
				for name, secret := range real {
					if strings.Contains(v, secret) {
						t.Errorf("agent[%s] carries the host's %s", k, name)
					}
				}
			}
			for _, k := range isolated {
				if v, ok := a[k]; ok && v != PlaceholderFor(k) && k != "GEMINI_API_BASE_URL" && k != "GOOGLE_GEMINI_BASE_URL" && k != "GOOGLE_VERTEX_BASE_URL" {
					t.Errorf("agent[%s] = %q, want unset or awf's placeholder", k, v)
				}
			}
		})
	}
	// With the API proxy off (no longer reachable from the command line),
	// tokens pass as in the original's legacy path.
	a, _ := Build(input(host, false))
	if a["GITHUB_TOKEN"] != host["GITHUB_TOKEN"] || a["OPENAI_API_KEY"] != openaiKey {
		t.Errorf("proxy off: GITHUB_TOKEN %q OPENAI_API_KEY %q", a["GITHUB_TOKEN"], a["OPENAI_API_KEY"])
	}
}

func TestPlaceholdersAreTheOriginals(t *testing.T) {
	want := map[string]string{
		"ANTHROPIC_AUTH_TOKEN": "sk-ant-placeholder-key-for-credential-isolation",
		"COPILOT_TOKEN":        "ghu_" + strings.Repeat("a", 36),
		"COPILOT_GITHUB_TOKEN": "ghu_" + strings.Repeat("a", 36),
		"OPENAI_API_KEY":       "sk-placeholder-for-api-proxy",
		"GEMINI_API_KEY":       "gemini-api-key-placeholder-for-credential-isolation",
	}
	for k, v := range want {
		if PlaceholderFor(k) != v {
			t.Errorf("%s placeholder %q, want %q", k, PlaceholderFor(k), v)
		}
	}
	for _, p := range Placeholders() {
		if !strings.Contains(p, "placeholder") && p != CopilotPlaceholder {
			t.Errorf("placeholder %q does not say what it is", p)
		}
	}
}
