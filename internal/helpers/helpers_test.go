package helpers

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/agentenv"
	"github.com/awf-dev/awf/internal/config"
)

// listen opens a real loopback listener that accepts and closes.
func listen(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().String()
}

// closedAddr is a loopback port nobody listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestPreflight(t *testing.T) {
	up := "http://" + listen(t)
	down := "http://" + closedAddr(t)
	dial := DialTCP(time.Second)
	good := func() map[string]string {
		return map[string]string{
			"ANTHROPIC_BASE_URL": up, "ANTHROPIC_AUTH_TOKEN": agentenv.AnthropicPlaceholder,
			"OPENAI_BASE_URL": up + "/v1", "COPILOT_API_URL": up, "COPILOT_TOKEN": agentenv.CopilotPlaceholder,
			"COPILOT_PROVIDER_BASE_URL": up, "GEMINI_API_BASE_URL": up, "GEMINI_API_KEY": agentenv.GeminiPlaceholder,
			"HTTPS_PROXY": up, "HTTP_PROXY": up, "GITHUB_TOKEN": "ghs_fine",
		}
	}
	cases := []struct {
		name   string
		mutate func(map[string]string)
		want   []string // substrings, one per expected problem, in order
	}{
		{"all good", func(map[string]string) {}, nil},
		{"nothing to check", func(e map[string]string) {
			for k := range e {
				delete(e, k)
			}
		}, nil},
		{"openai placeholders accepted", func(e map[string]string) {
			e["OPENAI_API_KEY"], e["CODEX_API_KEY"] = agentenv.OpenAIPlaceholder, agentenv.OpenAIPlaceholder
		}, nil},
		{"another provider's placeholder refused", func(e map[string]string) { e["ANTHROPIC_AUTH_TOKEN"] = agentenv.CopilotPlaceholder },
			[]string{"placeholder: ANTHROPIC_AUTH_TOKEN is not the placeholder"}},
		{"github token with the api proxy on", func(e map[string]string) { e["AWF_API_PROXY_IP"] = "172.30.0.30"; e["GH_TOKEN"] = "gho_x" },
			[]string{"credentials: GITHUB_TOKEN is set although the API proxy is on", "credentials: GH_TOKEN is set"}},
		{"real anthropic key", func(e map[string]string) { e["ANTHROPIC_API_KEY"] = "sk-ant-api03-x" },
			[]string{"credentials: ANTHROPIC_API_KEY is set", "credentials: ANTHROPIC_API_KEY holds a value shaped like a real API key (sk-ant-...)"}},
		{"claude key", func(e map[string]string) { e["CLAUDE_API_KEY"] = "k" }, []string{"credentials: CLAUDE_API_KEY is set"}},
		{"openai keys", func(e map[string]string) { e["CODEX_API_KEY"] = "a"; e["OPENAI_KEY"] = "b" },
			[]string{"OPENAI_KEY is set", "placeholder: CODEX_API_KEY is not the placeholder"}},
		{"key hidden under another name", func(e map[string]string) { e["MY_LLM"] = "sk-proj-abc" },
			[]string{"credentials: MY_LLM holds a value shaped like a real API key (sk-proj-...)"}},
		{"auth token replaced", func(e map[string]string) { e["ANTHROPIC_AUTH_TOKEN"] = "secret" },
			[]string{"placeholder: ANTHROPIC_AUTH_TOKEN is not the placeholder"}},
		{"copilot token replaced", func(e map[string]string) { e["COPILOT_GITHUB_TOKEN"] = "ghu_real" },
			[]string{"placeholder: COPILOT_GITHUB_TOKEN"}},
		{"gemini key replaced", func(e map[string]string) { e["GEMINI_API_KEY"] = "AIza-real" },
			[]string{"placeholder: GEMINI_API_KEY"}},
		{"copilot provider url differs", func(e map[string]string) { e["COPILOT_PROVIDER_BASE_URL"] = "http://elsewhere:1" },
			[]string{"config: COPILOT_PROVIDER_BASE_URL differs"}},
		{"api proxy down", func(e map[string]string) { e["ANTHROPIC_BASE_URL"] = down },
			[]string{"reachability: " + strings.TrimPrefix(down, "http://") + " (ANTHROPIC_BASE_URL) does not answer"}},
		{"egress proxy down", func(e map[string]string) { e["HTTPS_PROXY"] = down; e["https_proxy"] = down },
			[]string{"reachability: " + strings.TrimPrefix(down, "http://") + " (HTTPS_PROXY) does not answer"}},
		{"bad url", func(e map[string]string) { e["OPENAI_BASE_URL"] = "172.30.0.30:10000" },
			[]string{"config: OPENAI_BASE_URL=\"172.30.0.30:10000\" is not a usable URL"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := good()
			tc.mutate(env)
			probs := Preflight(env, dial)
			if len(probs) != len(tc.want) {
				t.Fatalf("problems = %v, want %d: %q", probs, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(probs[i].String(), w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, probs[i], w)
				}
			}
			if (Report(probs) == "") != (len(probs) == 0) {
				t.Errorf("Report disagrees with problems")
			}
		})
	}
}

// TestPreflightAcceptsBuiltEnv: the environment agentenv builds passes.
func TestPreflightAcceptsBuiltEnv(t *testing.T) {
	addr := listen(t)
	host, port, _ := net.SplitHostPort(addr)
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	hostEnv := map[string]string{"ANTHROPIC_API_KEY": "sk-ant-api03-real", "OPENAI_API_KEY": "sk-proj-real",
		"COPILOT_GITHUB_TOKEN": "ghu_real", "COPILOT_API_KEY": "byok", "GEMINI_API_KEY": "AIza-real"}
	in := agentenv.Input{HostEnv: hostEnv, APIProxy: true, Keys: config.ReadKeys(hostEnv), ProxyIP: host, ProxyPort: p, APIProxyIP: host, EnvAll: true}
	agent, _ := agentenv.Build(in)
	// Every API proxy port is probed; point them all at the one listener by
	// dialling the listener whatever the port.
	dial := func(a string) error {
		h, _, _ := net.SplitHostPort(a)
		if h != host {
			t.Errorf("probe of unexpected host %s", a)
		}
		return DialTCP(time.Second)(addr)
	}
	if probs := Preflight(agent, dial); len(probs) != 0 {
		t.Fatalf("built environment fails pre-flight: %v", probs)
	}
}

func TestGetClaudeKeyScript(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	p := filepath.Join(t.TempDir(), "get-claude-key.sh")
	if err := os.WriteFile(p, []byte(GetClaudeKeyScript()), GetClaudeKeyMode); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sh, p).Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != agentenv.AnthropicPlaceholder+"\n" {
		t.Errorf("script prints %q", out)
	}
	out, err = exec.Command(p).Output()
	if err != nil || string(out) != agentenv.AnthropicPlaceholder+"\n" {
		t.Errorf("direct exec: %q %v", out, err)
	}
}

func TestMergeClaudeSettings(t *testing.T) {
	cases := []struct {
		name     string
		in       string
		replaced bool
		keep     map[string]any
	}{
		{"empty", "", false, nil},
		{"whitespace", " \n", false, nil},
		{"merge", `{"theme":"dark","apiKeyHelper":"/old","nested":{"a":[1,2]}}`, false, map[string]any{"theme": "dark"}},
		{"not json", `{oops`, true, nil},
		{"not an object", `["a"]`, true, nil},
		{"null", `null`, true, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, replaced, err := MergeClaudeSettings([]byte(tc.in), GetClaudeKeyPath)
			if err != nil {
				t.Fatal(err)
			}
			if replaced != tc.replaced {
				t.Errorf("replaced = %v", replaced)
			}
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("output not JSON: %s", out)
			}
			if got["apiKeyHelper"] != GetClaudeKeyPath {
				t.Errorf("apiKeyHelper = %v", got["apiKeyHelper"])
			}
			for k, v := range tc.keep {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
			if tc.name == "merge" && !strings.Contains(string(out), `"a": [`) {
				t.Errorf("nested value lost: %s", out)
			}
		})
	}
	files := ClaudeSettingsFiles("/home/u")
	if strings.Join(files, " ") != "/home/u/.claude.json /home/u/.claude/settings.json" {
		t.Errorf("ClaudeSettingsFiles = %v", files)
	}
}

func TestCheck(t *testing.T) {
	up := "http://" + listen(t)
	if err := Check(map[string]string{"HTTPS_PROXY": up, "OPENAI_BASE_URL": up + "/v1"}); err != nil {
		t.Fatalf("Check: %v", err)
	}
	err := Check(map[string]string{"HTTPS_PROXY": up, "OPENAI_BASE_URL": up + "/v1", "OPENAI_API_KEY": "sk-real"})
	var pe *PreflightError
	if !errors.As(err, &pe) || len(pe.Problems) != 1 || !strings.HasPrefix(err.Error(), "[awf] pre-flight check failed") {
		t.Fatalf("Check = %v", err)
	}
}
