package ghawcorpus

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/testnet"
)

func TestMain(m *testing.M) { testnet.Main(m) }

type invocation struct {
	ID       string `json:"id"`
	Engine   string `json:"engine"`
	Launcher string `json:"launcher"`
	Flags    []struct {
		Flag  string  `json:"flag"`
		Value *string `json:"value"`
	} `json:"flags"`
	ConfigJSON map[string]any    `json:"config_json"`
	Env        map[string]string `json:"env"`
}

func corpus(t *testing.T) map[string]invocation {
	data, err := os.ReadFile("../config/testdata/ghaw-corpus.json")
	if err != nil {
		t.Fatal(err)
	}
	var list []invocation
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]invocation{}
	for _, i := range list {
		out[i.ID] = i
	}
	return out
}

// shq quotes s for a POSIX shell.
func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

var (
	condRe = regexp.MustCompile(`^\$\{(\w+):\+(--[\w-]+) "\$(\w+)"\}$`) // ${VAR:+--flag "$VAR"}
	varRe  = regexp.MustCompile(`^\$\{(\w+)\}$`)                        // ${VAR}
)

// TestCorpusInvocationsRun: a claude, a codex and a copilot invocation of
// gh-aw v0.28.4 lock files, each with its own --config document, flags
// and step env. The agent command checks that an allowed host answers and
// an unlisted one is refused, dumps its environment, and exits 7; the
// pipeline's status (pipefail through tee) must be 7, the tee'd log must
// hold the agent's lines and awf's last line, the agent must not have
// seen the real key, and the logs must be where the document put them.
func TestCorpusInvocationsRun(t *testing.T) {
	testnet.Require(t)
	if testing.Short() {
		t.Skip("builds and runs the awf binary; skipped with -short")
	}
	inv := corpus(t)
	awf := testnet.AWFBinary(t)
	site := testnet.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello from the allowed host")) }))
	denied := testnet.HostName(181)

	for _, tc := range []struct {
		id, keyVar string
	}{
		{"inv001", "ANTHROPIC_API_KEY"},    // claude: --tty, --build-local
		{"inv015", "OPENAI_API_KEY"},       // codex
		{"inv004", "COPILOT_GITHUB_TOKEN"}, // copilot
		{"inv003", "GEMINI_API_KEY"},       // gemini
		{"inv028", "COPILOT_GITHUB_TOKEN"}, // copilot, gh-aw v0.27: sudo -E, --enable-host-access, logs dirs on the command line
	} {
		t.Run(tc.id+"-"+inv[tc.id].Engine, func(t *testing.T) {
			in, ok := inv[tc.id]
			if !ok || in.ConfigJSON == nil {
				t.Fatalf("%s: no such invocation with a config document", tc.id)
			}
			root := t.TempDir()
			os.Chmod(root, 0o755)
			os.Chmod(filepath.Dir(root), 0o755) // the sandbox user (uid 1000) walks through it
			runnerTemp := filepath.Join(root, "runner-temp")
			ws := filepath.Join(root, "workspace")
			gh := filepath.Join(root, "gh-aw") // stands for /tmp/gh-aw
			for _, d := range []string{filepath.Join(runnerTemp, "gh-aw"), ws, gh} {
				os.MkdirAll(d, 0o777)
				os.Chmod(d, 0o777)
			}
			ca := filepath.Join(ws, "ca.pem")
			os.WriteFile(ca, testnet.TestCA().PEM(), 0o644)
			vars := map[string]string{"RUNNER_TEMP": runnerTemp, "GITHUB_WORKSPACE": ws}
			subst := func(s string) string {
				s = strings.ReplaceAll(s, "/tmp/gh-aw", gh)
				return os.Expand(s, func(k string) string { return vars[k] })
			}

			// The document as the step writes it, with the test host allowed
			// and /tmp/gh-aw moved under the test's temp dir.
			raw, _ := json.Marshal(in.ConfigJSON)
			var doc map[string]any
			json.Unmarshal([]byte(strings.ReplaceAll(string(raw), "/tmp/gh-aw", gh)), &doc)
			netw := doc["network"].(map[string]any)
			netw["allowDomains"] = append(netw["allowDomains"].([]any), site.Name)
			cfgPath := filepath.Join(runnerTemp, "gh-aw", "awf-config.json")
			b, _ := json.Marshal(doc)
			os.WriteFile(cfgPath, b, 0o644)

			var argv []string
			accessDir := ""
			for _, f := range in.Flags {
				switch {
				case f.Flag == "(conditional)":
					m := condRe.FindStringSubmatch(*f.Value)
					if m == nil {
						m = varRe.FindStringSubmatch(*f.Value)
					}
					if m == nil || vars[m[1]] != "" {
						t.Fatalf("conditional %s", *f.Value)
					} // unset on this runner: expands to nothing, as in bash
				case f.Value == nil:
					argv = append(argv, f.Flag)
				default:
					v := subst(*f.Value)
					if f.Flag == "--mount" && strings.HasPrefix(v, gh) {
						os.MkdirAll(strings.SplitN(v, ":", 2)[0], 0o777) // made by the job's earlier steps
					}
					argv = append(argv, f.Flag, v)
					if f.Flag == "--proxy-logs-dir" {
						accessDir = v
					}
				}
			}
			script := strings.Join([]string{
				`env > ` + ws + `/agent-env.txt`,
				`if curl -fsS -m 10 --cacert ` + ca + ` https://` + site.Name + `/ok; then echo; echo ALLOWED-REACHED; else echo ALLOWED-FAILED; exit 21; fi`,
				`if curl -fsS -m 10 --cacert ` + ca + ` -o /dev/null https://` + denied + `/ 2>/dev/null; then echo DENIED-REACHED; exit 22; else echo DENIED-BLOCKED; fi`,
				`exit 7`,
			}, "\n")
			var cmd strings.Builder
			cmd.WriteString("set -o pipefail\n" + shq(awf))
			for _, a := range argv {
				cmd.WriteString(" " + shq(a))
			}
			log := filepath.Join(gh, "agent-stdio.log")
			cmd.WriteString(" -- /bin/bash -c " + shq(script) + " 2>&1 | tee -a " + shq(log) + "\n")

			realKey := "corpus-e2e-REAL-" + tc.keyVar + "-0123456789abcdef"
			env := []string{"PATH=" + os.Getenv("PATH"), "AWF_TESTNET=1", "SSL_CERT_FILE=" + os.Getenv("SSL_CERT_FILE"),
				"AWF_RUN_DIR=" + filepath.Join(root, "runs"), "TMPDIR=" + filepath.Join(root, "tmp"),
				"RUNNER_TEMP=" + runnerTemp, "GITHUB_WORKSPACE=" + ws, tc.keyVar + "=" + realKey}
			os.MkdirAll(filepath.Join(root, "tmp"), 0o755)
			if strings.HasPrefix(in.Launcher, "sudo") { // sudo -E awf: the runner user's identity comes along
				env = append(env, "SUDO_UID=1000", "SUDO_GID=1000")
			}
			for k, v := range in.Env {
				if strings.HasPrefix(v, "<secret:") || strings.HasPrefix(v, "<expr>") || k == "GITHUB_WORKSPACE" {
					continue // secrets: only the engine's key, set above; expressions: not evaluated here
				}
				env = append(env, k+"="+subst(v))
			}
			sh := exec.Command("/bin/bash", "-c", cmd.String())
			sh.Dir = ws
			sh.Env = env
			var out, errb bytes.Buffer
			sh.Stdout, sh.Stderr = &out, &errb
			code := testnet.Run(t, sh, 120*time.Second)
			logText, _ := os.ReadFile(log)
			if code != 7 {
				t.Fatalf("pipeline exit %d, want 7 (the agent's, through pipefail)\nstdout+log:\n%s\nstderr:\n%s", code, logText, errb.String())
			}
			for _, w := range []string{"hello from the allowed host", "ALLOWED-REACHED", "DENIED-BLOCKED", "Process exiting with code: 7"} {
				if !strings.Contains(string(logText), w) || !strings.Contains(out.String(), w) {
					t.Errorf("tee'd output lacks %q:\n%s", w, logText)
				}
			}
			if strings.Contains(string(logText), "unknown flag") || strings.Contains(string(logText), "is not yet supported by this awf") {
				t.Errorf("a corpus flag or key was not taken:\n%s", logText)
			}
			agentEnv, err := os.ReadFile(filepath.Join(ws, "agent-env.txt"))
			if err != nil || len(agentEnv) == 0 {
				t.Fatalf("agent env: %v", err)
			}
			if bytes.Contains(agentEnv, []byte(realKey)) || bytes.Contains(logText, []byte(realKey)) {
				t.Errorf("the real %s reached the agent or the log", tc.keyVar)
			}
			// The document's logging.proxyLogsDir (or --proxy-logs-dir) holds the access log, with
			// the allowed and the refused host.
			if logs, ok := doc["logging"].(map[string]any); ok && accessDir == "" {
				accessDir, _ = logs["proxyLogsDir"].(string)
			}
			if accessDir == "" {
				t.Fatal("corpus invocation without a proxy logs dir")
			}
			access, err := os.ReadFile(filepath.Join(accessDir, "access.log"))
			if err != nil {
				t.Fatalf("access.log where the document put it: %v", err)
			}
			if !bytes.Contains(access, []byte(site.Name)) || !bytes.Contains(access, []byte(denied)) || !bytes.Contains(access, []byte("TCP_DENIED")) {
				t.Errorf("access.log:\n%s", access)
			}
			var notices []string
			for _, l := range strings.Split(string(logText), "\n") {
				if strings.HasPrefix(l, "[WARN]") {
					notices = append(notices, l)
				}
			}
			t.Logf("%s: exit %d; awf's warnings for this lock file's flags and document:\n%s", tc.id, code, strings.Join(notices, "\n"))
		})
	}
}
