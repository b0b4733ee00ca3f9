package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/awf-dev/awf/internal/fakeprovider"
	"github.com/awf-dev/awf/internal/logs/schemacheck"
	"github.com/awf-dev/awf/internal/testnet"
)

// TestBudgetsInRealRun: a real sandboxed run with a turn limit and a
// credit budget. The agent's third call is refused by the api-proxy (429
// max_runs_exceeded) and never reaches the upstream; the run's last stderr
// lines and `awf logs summary` show spend against each limit and name the
// guard that stopped the run, with the upstream's numbers.
func TestBudgetsInRealRun(t *testing.T) {
	testnet.Require(t)
	if testing.Short() {
		t.Skip("builds and runs the awf binary; skipped with -short")
	}
	var calls atomic.Int64
	testnet.NewUpstreamFor(t, "api.anthropic.com", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		// 10000 in + 2000 out at claude-sonnet-4-5 ($3 / $15 per 1M) = 3 + 3 = 6 credits
		fmt.Fprint(w, `{"id":"msg_1","type":"message","model":"claude-sonnet-4-5","usage":{"input_tokens":10000,"output_tokens":2000}}`)
	}))
	work := t.TempDir()
	os.Chmod(work, 0o777)
	os.Chmod(filepath.Dir(work), 0o755)
	tmp := t.TempDir()
	call := `curl -sS -m 10 -o /dev/null -w '%{http_code}\n' -X POST "$ANTHROPIC_BASE_URL/v1/messages" -H 'Content-Type: application/json' -d '{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}'`
	script := strings.Join([]string{call, call, call, "echo agent done"}, "\n")
	env := []string{"TMPDIR=" + tmp, "ANTHROPIC_API_KEY=sk-ant-test-budget-e2e"}
	r := awf(t, work, env, "--enable-api-proxy", "-d", "api.anthropic.com", "--max-runs", "2", "--max-ai-credits", "100", "--max-cache-misses", "5", "--", script)
	if r.code != 0 || r.stdout != "200\n200\n429\nagent done\n" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if calls.Load() != 2 {
		t.Fatalf("upstream got %d calls, want 2", calls.Load())
	}
	for _, w := range []string{"AI credits: 12.0000 / 100", "LLM turns: 2 / 2", "Consecutive cache misses: 2 / 5",
		"Stopped by guard max_runs_exceeded: Maximum LLM invocations exceeded (2 / 2)."} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
	if i, j := strings.LastIndex(r.stderr, "LLM turns"), strings.LastIndex(r.stderr, "Process exiting with code"); i < 0 || j < i {
		t.Errorf("the budget lines are not among the run's last lines:\n%s", r.stderr)
	}
	stats := awf(t, work, env, "logs", "stats", "--format", "json")
	v, err := schemacheck.Load(filepath.Join("..", "..", "..", "docs", "schema", "logs-stats.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate([]byte(stats.stdout)); err != nil {
		t.Errorf("stats JSON: %v\n%s", err, stats.stdout)
	}
	var st struct {
		Budget *struct {
			AICredits float64               `json:"ai_credits"`
			Runs      int                   `json:"runs"`
			MaxRuns   int                   `json:"max_runs"`
			StoppedBy struct{ Rule string } `json:"stopped_by"`
		} `json:"budget"`
	}
	json.Unmarshal([]byte(stats.stdout), &st)
	if st.Budget == nil || st.Budget.AICredits != 12 || st.Budget.Runs != 2 || st.Budget.MaxRuns != 2 || st.Budget.StoppedBy.Rule != "max_runs_exceeded" {
		t.Errorf("stats budget: %s", stats.stdout)
	}
	sum := awf(t, work, env, "logs", "summary")
	for _, w := range []string{"<summary>LLM Budgets</summary>", "| AI credits | 12.0000 | 100 |", "| LLM turns | 2 | 2 |",
		"Stopped by guard `max_runs_exceeded`", "| claude-sonnet-4-5 | 2 | 12.0000 | curated |",
		"| anthropic | claude-sonnet-4-5 | 2 | 20,000 | 4,000 |"} {
		if !strings.Contains(sum.stdout, w) {
			t.Errorf("summary lacks %q:\n%s\nstderr:\n%s", w, sum.stdout, sum.stderr)
		}
	}
}

// TestBudgetsFromGhAwConfig: gh-aw's apiProxy block, given with --config
// as gh-aw writes it, is enforced: a disallowed model is refused, an alias
// is resolved against the provider's own model list, and the turn limit
// stops the run.
func TestBudgetsFromGhAwConfig(t *testing.T) {
	testnet.Require(t)
	if testing.Short() {
		t.Skip("builds and runs the awf binary; skipped with -short")
	}
	fake := fakeprovider.NewAnthropic(fakeprovider.Reply{InputTokens: 1000, OutputTokens: 100})
	testnet.NewUpstreamFor(t, "api.anthropic.com", fake)
	work := t.TempDir()
	os.Chmod(work, 0o777)
	os.Chmod(filepath.Dir(work), 0o755)
	cfg := filepath.Join(work, "awf-config.json")
	os.WriteFile(cfg, []byte(`{"network":{"allowDomains":["api.anthropic.com"]},"apiProxy":{"enabled":true,"enableTokenSteering":true,"maxRuns":2,"maxAiCredits":100,"maxCacheMisses":5,`+
		`"models":{"agent":["sonnet","any"],"sonnet":["copilot/*sonnet*","anthropic/*sonnet*"],"any":["copilot/*","anthropic/*"]},"disallowedModels":["*opus*"]}}`), 0o644)
	call := func(model string) string {
		return `curl -sS -m 10 -o /dev/null -w '%{http_code}\n' -X POST "$ANTHROPIC_BASE_URL/v1/messages" -H 'Content-Type: application/json' -d '{"model":"` + model + `","max_tokens":5,"messages":[]}'`
	}
	// "agent" fans out to sonnet and any: equal versions, so the name
	// decides (the original's order), and claude-haiku-4-5 wins.
	script := strings.Join([]string{call("claude-opus-4-1"), call("sonnet"), call("agent"), call("agent")}, "\n")
	env := []string{"TMPDIR=" + t.TempDir(), "ANTHROPIC_API_KEY=sk-ant-test-budget-config"}
	r := awf(t, work, env, "--config", cfg, "--enable-api-proxy", "--", script)
	if r.code != 0 || r.stdout != "403\n200\n200\n429\n" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	var models []string
	for _, q := range fake.Find("/v1/messages") {
		var b struct{ Model string }
		json.Unmarshal(q.Body, &b)
		models = append(models, b.Model)
	}
	if strings.Join(models, ",") != "claude-sonnet-4-5,claude-haiku-4-5" {
		t.Fatalf("upstream got models %v", models)
	}
	for _, w := range []string{"LLM turns: 2 / 2", "AI credits: ", "Stopped by guard max_runs_exceeded", "model_policy_violation×1"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
}
