package ghawe2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/awf-dev/awf/internal/testnet"
)

const (
	traceID      = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentSpanID = "00f067aa0ba902b7"
	realKey      = "sk-ant-outputs-e2e-REAL-0123456789"
)

// TestOutputsGhAwReads runs awf as a gh-aw agent step does (api proxy on,
// --proxy-logs-dir and --audit-dir under /tmp/gh-aw/sandbox/firewall,
// AWF_REFLECT_ENABLED=1, the workflow's trace ids) against a fake provider,
// then reads every file gh-aw's later steps read, in the formats they parse.
func TestOutputsGhAwReads(t *testing.T) {
	needE2E(t)
	site := testnet.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	var upstreamKey string
	testnet.NewUpstreamFor(t, "api.anthropic.com", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamKey = r.Header.Get("X-Api-Key")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"msg_1","model":"claude-test-1","usage":{"input_tokens":120,"output_tokens":30,"cache_read_input_tokens":500,"cache_creation_input_tokens":40}}`)
	}))
	ws, ca := workspace(t)
	gh := filepath.Join(t.TempDir(), "gh-aw") // stands for /tmp/gh-aw
	fw := filepath.Join(gh, "sandbox", "firewall")
	logsDir, auditDir := filepath.Join(fw, "logs"), filepath.Join(fw, "audit")
	denied := testnet.HostName(172)
	script := strings.Join([]string{
		// What gh-aw's harness does with AWF_REFLECT_ENABLED=1.
		`curl -fsS -m 10 --noproxy '*' http://api-proxy:10000/reflect -o ` + ws + `/reflect.json || exit 11`,
		`curl -fsS -m 10 -o /dev/null -X POST "$ANTHROPIC_BASE_URL/v1/messages" -H 'Content-Type: application/json' -d '{"model":"claude-test-1"}' || exit 12`,
		"curl -fsS -m 10 --cacert " + ca + " -o /dev/null https://" + site.Name + "/ || exit 13",
		"curl -fsS -m 5 --cacert " + ca + " -o /dev/null https://" + denied + "/ 2>/dev/null || true",
	}, "\n")
	env := []string{"TMPDIR=" + t.TempDir(), "ANTHROPIC_API_KEY=" + realKey, "AWF_REFLECT_ENABLED=1",
		"GITHUB_AW_OTEL_TRACE_ID=" + traceID, "GITHUB_AW_OTEL_PARENT_SPAN_ID=" + parentSpanID}
	r := run(t, ws, env, "--enable-api-proxy", "-d", site.Name+",api.anthropic.com", "--log-level", "info",
		"--proxy-logs-dir", logsDir, "--audit-dir", auditDir, "--", script)
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if upstreamKey != realKey {
		t.Errorf("upstream got key %q", upstreamKey)
	}

	// /reflect from inside the sandbox, and awf-reflect.json beside the logs dir.
	for _, p := range []string{filepath.Join(ws, "reflect.json"), filepath.Join(fw, "awf-reflect.json")} {
		checkReflect(t, p)
	}

	// access.log: every line readable by the original's parser; the
	// api-proxy's tunnel carries its address as the client.
	var tunnel bool
	for _, l := range lines(t, filepath.Join(logsDir, "access.log")) {
		f := originalLogPattern.FindStringSubmatch(l)
		if f == nil {
			t.Errorf("the original's parser drops %q", l)
			continue
		}
		tunnel = tunnel || f[2] == "172.30.0.30" && strings.HasPrefix(f[4], "api.anthropic.com")
	}
	if !tunnel {
		t.Error("no api-proxy tunnel line with client 172.30.0.30")
	}

	// token-usage.jsonl in the logs dir and its copy in the audit dir.
	logged := lines(t, filepath.Join(logsDir, "api-proxy-logs", "token-usage.jsonl"))
	copied := lines(t, filepath.Join(auditDir, "api-proxy-logs", "token-usage.jsonl"))
	if len(logged) != 1 || len(copied) != 1 || logged[0] != copied[0] {
		t.Fatalf("token usage: logs %q audit %q", logged, copied)
	}
	var tu struct {
		Schema       string `json:"_schema"`
		Timestamp    string `json:"timestamp"`
		Event        string `json:"event"`
		RequestID    string `json:"request_id"`
		Provider     string `json:"provider"`
		Model        string `json:"model"`
		InputTokens  int    `json:"input_tokens"`
		OutputTokens int    `json:"output_tokens"`
	}
	// The original's schemas/token-usage.schema.json: _schema, timestamp and
	// event are required with these forms.
	if err := json.Unmarshal([]byte(logged[0]), &tu); err != nil || tu.RequestID == "" || tu.Provider != "anthropic" ||
		!regexp.MustCompile(`^token-usage/v\d+\.\d+\.\d+(-\w+)?$`).MatchString(tu.Schema) || tu.Event != "token_usage" ||
		!regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`).MatchString(tu.Timestamp) ||
		tu.Model != "claude-test-1" || tu.InputTokens != 120 || tu.OutputTokens != 30 {
		t.Errorf("token record %v: %s", err, logged[0])
	}

	// otel.jsonl: one span for the one LLM call, a child of the workflow span.
	spans := lines(t, filepath.Join(logsDir, "api-proxy-logs", "otel.jsonl"))
	if len(spans) != 1 {
		t.Fatalf("%d spans: %q", len(spans), spans)
	}
	checkSpan(t, spans[0], tu.RequestID)

	// audit/ files.
	for _, f := range []string{"policy-manifest.json"} {
		if fi, err := os.Stat(filepath.Join(auditDir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("audit/%s: %v", f, err)
		}
	}

	// `awf logs summary` as gh-aw runs it: AWF_LOGS_DIR, markdown on stdout.
	sum := run(t, ws, []string{"AWF_LOGS_DIR=" + logsDir, "TMPDIR=" + t.TempDir()}, "logs", "summary")
	if sum.code != 0 || !strings.Contains(sum.stdout, site.Name) || !strings.Contains(sum.stdout, "| anthropic | claude-test-1 | 1 | 120 | 30 |") {
		t.Errorf("logs summary (%d):\n%s\n%s", sum.code, sum.stdout, sum.stderr)
	}

	// No file gh-aw uploads holds the real key.
	filepath.Walk(gh, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), realKey) {
				t.Errorf("%s holds the real key", p)
			}
		}
		return nil
	})
}

func lines(t *testing.T, p string) []string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// checkReflect reads a /reflect document as awf_reflect_summary.cjs does.
func checkReflect(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Endpoints []struct {
			Provider   string  `json:"provider"`
			Port       int     `json:"port"`
			BaseURL    string  `json:"base_url"`
			Configured bool    `json:"configured"`
			ModelsURL  *string `json:"models_url"`
		} `json:"endpoints"`
		Complete bool `json:"models_fetch_complete"`
	}
	if err := json.Unmarshal(b, &d); err != nil || !d.Complete || len(d.Endpoints) != 5 { // the original's five ports, 10000-10004
		t.Fatalf("%s: %v\n%s", p, err, b)
	}
	configured := map[string]bool{}
	for _, e := range d.Endpoints {
		if e.BaseURL != fmt.Sprintf("http://api-proxy:%d", e.Port) {
			t.Errorf("%s: %+v", p, e)
		}
		configured[e.Provider] = e.Configured
	}
	if !configured["anthropic"] || configured["openai"] || configured["copilot"] {
		t.Errorf("%s: configured %v", p, configured)
	}
}

// checkSpan applies the original's otel-span schema and the span contract.
func checkSpan(t *testing.T, line, requestID string) {
	t.Helper()
	var s struct {
		Schema       string         `json:"_schema"`
		Timestamp    string         `json:"timestamp"`
		Event        string         `json:"event"`
		TraceID      string         `json:"traceId"`
		SpanID       string         `json:"spanId"`
		ParentSpanID *string        `json:"parentSpanId"`
		Name         string         `json:"name"`
		Kind         int            `json:"kind"`
		Start, End   float64        // checked below
		Attributes   map[string]any `json:"attributes"`
		Events       []struct {
			Name string `json:"name"`
		} `json:"events"`
		Status struct {
			Code int `json:"code"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(line), &s); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	json.Unmarshal([]byte(line), &raw)
	ok := regexp.MustCompile(`^otel-span/v\d+\.\d+\.\d+(-\w+)?$`).MatchString(s.Schema) &&
		regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`).MatchString(s.Timestamp) &&
		s.Event == "otel_span" && s.TraceID == traceID && regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(s.SpanID) &&
		s.ParentSpanID != nil && *s.ParentSpanID == parentSpanID && s.Name == "api_proxy.anthropic.request" && s.Kind == 2 &&
		raw["startTimeMs"] != nil && raw["endTimeMs"].(float64) >= raw["startTimeMs"].(float64) &&
		s.Attributes["awf.request_id"] == requestID && s.Attributes["gen_ai.usage.input_tokens"] == float64(120) &&
		s.Attributes["gen_ai.response.model"] == "claude-test-1" && s.Attributes["http.response.status_code"] == float64(200) &&
		len(s.Events) == 1 && s.Events[0].Name == "gen_ai.usage" && s.Status.Code == 1
	if !ok {
		t.Errorf("span: %s", line)
	}
}
