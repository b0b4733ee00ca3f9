package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/logs/schemacheck"
	"github.com/awf-dev/awf/internal/testnet"
)

func awfBinary(t *testing.T) string { return testnet.AWFBinary(t) }

type result struct {
	code           int
	stdout, stderr string
}

// awf runs the real binary with a clean environment plus env.
func awf(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(awfBinary(t), args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "AWF_TESTNET=1",
		"SSL_CERT_FILE=" + os.Getenv("SSL_CERT_FILE"), "AWF_RUN_DIR=" + filepath.Join(dir, "no-runs")}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := testnet.Run(t, cmd, 60*time.Second)
	return result{code, out.String(), errb.String()}
}

// TestAfterRealAWFRun runs the sandbox for real (agent commands that
// succeed and fail, an LLM call through the api-proxy), then reads what it
// preserved with `awf logs`, stats, summary and audit as a user would.
func TestAfterRealAWFRun(t *testing.T) {
	testnet.Require(t)
	if testing.Short() {
		t.Skip("builds and runs the awf binary; skipped with -short")
	}
	page := bytes.Repeat([]byte("p"), 20_000)
	site := testnet.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(page) }))
	testnet.NewUpstreamFor(t, "api.anthropic.com", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"msg_1","model":"claude-test-1","usage":{"input_tokens":120,"output_tokens":30,"cache_read_input_tokens":500,"cache_creation_input_tokens":40}}`)
	}))
	// The sandbox runs the command as uid 1000: it must reach the CA file.
	work := t.TempDir()
	os.Chmod(work, 0o777)
	os.Chmod(filepath.Dir(work), 0o755)
	tmp := t.TempDir()
	ca := filepath.Join(work, "ca.pem")
	os.WriteFile(ca, testnet.TestCA().PEM(), 0o644)
	denied := testnet.HostName(170)
	script := strings.Join([]string{
		"curl -fsS -m 10 --cacert " + ca + " -o /dev/null https://" + site.Name + "/a || exit 1",
		"curl -fsS -m 10 --cacert " + ca + " -o /dev/null https://" + site.Name + "/b || exit 1",
		"curl -fsS -m 10 --cacert " + ca + " -o /dev/null https://" + denied + "/ || true",
		"curl -fsS -m 10 --cacert " + ca + " -o /dev/null https://" + site.Name + ":8443/ || true",
		`curl -fsS -m 10 -o /dev/null -X POST "$ANTHROPIC_BASE_URL/v1/messages" -H 'Content-Type: application/json' -d '{"model":"claude-test-1"}' || exit 1`,
		"echo agent done; exit 3",
	}, "\n")
	env := []string{"TMPDIR=" + tmp, "ANTHROPIC_API_KEY=sk-ant-test-logs-e2e"}
	r := awf(t, work, env, "--enable-api-proxy", "-d", site.Name+",api.anthropic.com", "--", script)
	if r.code != 3 || !strings.Contains(r.stdout, "agent done") {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// The report after a failed run, on stderr.
	for _, w := range []string{"Firewall blocked domains:", "Blocked: " + denied + ":443 (domain not in allowlist)",
		"Blocked: " + site.Name + ":8443 (port 8443 not allowed", `To fix domain issues: --allow-domains "` + site.Name + ",api.anthropic.com," + denied + `"`} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}

	// The preserved logs, found by discovery as a user finds them.
	list := awf(t, work, env, "logs", "--list")
	if list.code != 0 || !strings.Contains(list.stdout, "[preserved] "+filepath.Join(tmp, "squid-logs-")) {
		t.Fatalf("--list: %d\n%s%s", list.code, list.stdout, list.stderr)
	}
	stats := awf(t, work, env, "logs", "stats", "--format", "json")
	if stats.code != 0 {
		t.Fatalf("stats: %s", stats.stderr)
	}
	schema := func(name string, doc []byte) {
		v, err := schemacheck.Load(filepath.Join("..", "..", "..", "docs", "schema", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Validate(doc); err != nil {
			t.Errorf("%s: %v\n%s", name, err, doc)
		}
	}
	schema("logs-stats.schema.json", []byte(stats.stdout))
	var s struct {
		TotalRequests, AllowedRequests, DeniedRequests int
		ByDomain                                       map[string]struct{ Allowed, Denied, BytesOut int }
		ByRule                                         []struct {
			RuleID string
			Hits   int
		}
		TokenUsage *struct {
			Total   struct{ Calls, InputTokens, OutputTokens, CacheReadTokens, CacheWriteTokens int }
			ByModel []struct{ Provider, Model string }
		}
	}
	if err := json.Unmarshal([]byte(stats.stdout), &s); err != nil {
		t.Fatal(err)
	}
	if d := s.ByDomain[site.Name]; d.Allowed != 2 || d.Denied != 1 || d.BytesOut < 40_000 {
		t.Errorf("%s: %+v\n%s", site.Name, d, stats.stdout)
	}
	if d := s.ByDomain[denied]; d.Denied != 1 {
		t.Errorf("%s: %+v", denied, d)
	}
	if d := s.ByDomain["api.anthropic.com"]; d.Allowed != 1 {
		t.Errorf("api.anthropic.com (the api-proxy's upstream call): %+v", d)
	}
	if s.TokenUsage == nil || s.TokenUsage.Total.Calls != 1 || s.TokenUsage.Total.InputTokens != 120 || s.TokenUsage.Total.OutputTokens != 30 ||
		s.TokenUsage.Total.CacheReadTokens != 500 || s.TokenUsage.Total.CacheWriteTokens != 40 || s.TokenUsage.ByModel[0].Model != "claude-test-1" {
		t.Errorf("token usage: %+v\n%s", s.TokenUsage, stats.stdout)
	}
	if len(s.ByRule) == 0 {
		t.Error("no rule hits: the run's policy-manifest.json was not found")
	}

	sum := awf(t, work, env, "logs", "summary")
	if sum.code != 0 || sum.stderr != "" || !strings.Contains(sum.stdout, "<summary>Firewall Activity</summary>") ||
		!strings.Contains(sum.stdout, "<summary>LLM Token Usage</summary>") || !strings.Contains(sum.stdout, "| anthropic | claude-test-1 | 1 | 120 | 30 | 500 | 40 |") {
		t.Errorf("summary (%d):\n%s\nstderr:\n%s", sum.code, sum.stdout, sum.stderr)
	}
	audit := awf(t, work, env, "logs", "audit", "--format", "json", "--decision", "denied")
	schema("logs-audit.schema.json", []byte(audit.stdout))
	if !strings.Contains(audit.stdout, `"matchedRule": "deny-default"`) || !strings.Contains(audit.stdout, `"domain": "`+denied+`"`) {
		t.Errorf("audit:\n%s\n%s", audit.stdout, audit.stderr)
	}
	lines := awf(t, work, env, "logs", "--format", "json")
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(lines.stdout), "\n") {
		schema("logs-entry.schema.json", []byte(l))
		n++
	}
	if n < 5 {
		t.Errorf("awf logs --format json: %d lines\n%s", n, lines.stdout)
	}
	pretty := awf(t, work, env, "logs")
	if !strings.Contains(pretty.stdout, "CONNECT "+denied+" → 403 (DENIED)") || strings.Contains(pretty.stdout, "\x1b[") {
		t.Errorf("awf logs (not a TTY: no colour):\n%s", pretty.stdout)
	}
	t.Logf("summary:\n%s", sum.stdout)
}
