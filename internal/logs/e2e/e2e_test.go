// Package e2e summarises logs written by a real egress proxy: it starts
// egress.Server in the private test network, sends allowed and denied
// requests through it with Go's HTTP client and curl, and checks what
// `awf logs`, stats, audit and the blocked report make of its files. It is a
// separate package so internal/logs' own tests never depend on egress.
package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/domains"
	"github.com/awf-dev/awf/internal/egress"
	"github.com/awf-dev/awf/internal/logs"
	"github.com/awf-dev/awf/internal/logs/schemacheck"
	"github.com/awf-dev/awf/internal/testnet"
)

func TestMain(m *testing.M) { testnet.Main(m) }

type run struct {
	logDir   string
	allowed  []string
	tlsHost  string
	httpHost string
	blocked  string
}

// realRun drives one egress proxy through a small agent session and returns
// once its logs are flushed.
func realRun(t *testing.T) run {
	t.Helper()
	testnet.Require(t)
	body := bytes.Repeat([]byte("x"), 50_000)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write(body)
	})
	up := testnet.NewUpstream(t, h)
	plain := testnet.NewPlainUpstream(t, h)
	blocked := testnet.NewUpstream(t, h)
	r := run{logDir: filepath.Join(t.TempDir(), "squid-logs"), tlsHost: up.Name, httpHost: plain.Name, blocked: blocked.Name}
	r.allowed = []string{up.Name, plain.Name, blocked.Name}
	policy, err := domains.Compile(r.allowed, []string{blocked.Name})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := egress.New(egress.Config{Policy: policy, LogDir: r.logDir})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeProxy(ln)
	// The run's audit artifact, as the sandbox writes it.
	var rules []logs.Rule
	for _, rl := range policy.Rules() {
		rules = append(rules, logs.Rule(rl))
	}
	if err := logs.WritePolicyManifest(filepath.Join(filepath.Dir(r.logDir), "audit", "policy-manifest.json"), rules, logs.ManifestOptions{DNSServers: []string{"203.0.113.53"}}); err != nil {
		t.Fatal(err)
	}

	proxyURL, _ := url.Parse("http://" + ln.Addr().String())
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{}, DisableKeepAlives: true}}
	get := func(u string) int {
		resp, err := client.Get(u)
		if err != nil {
			return 0 // a refused CONNECT surfaces as an error
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := 0; i < 3; i++ {
		if c := get("https://" + up.Name + "/"); c != 200 {
			t.Fatalf("allowed https: %d", c)
		}
	}
	post, err := client.Post("http://"+plain.Name+"/upload", "text/plain", bytes.NewReader(bytes.Repeat([]byte("u"), 7000)))
	if err != nil || post.StatusCode != 200 {
		t.Fatalf("allowed http: %v %v", post, err)
	}
	io.Copy(io.Discard, post.Body)
	post.Body.Close()
	get("https://denied.test/")                     // not in the allowlist
	get("https://" + up.Name + ":8443/")            // wrong port
	get("https://" + blocked.Name + "/")            // blocklisted
	get("https://203.0.113.77/")                    // raw IP
	if c := get("http://denied.test/p"); c != 403 { // plain HTTP denial
		t.Errorf("denied http: %d", c)
	}
	if out, err := exec.Command("curl", "-sS", "--max-time", "5", "-x", proxyURL.String(), "-o", "/dev/null", "https://denied.test/curl").CombinedOutput(); err == nil {
		t.Errorf("curl to a denied host succeeded: %s", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

func env(t *testing.T) (logs.Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	empty := t.TempDir()
	return logs.Env{Stdout: &out, Stderr: &errb, Discovery: logs.Discovery{TmpDir: empty, RunDir: empty}}, &out, &errb
}

func TestRealEgressLogs(t *testing.T) {
	r := realRun(t)
	ctx := context.Background()

	// Both files parse completely.
	for _, f := range []string{"access.log", "audit.jsonl"} {
		n := 0
		rep, err := logs.ScanEntriesFile(filepath.Join(r.logDir, f), func(*logs.Entry) { n++ })
		if err != nil || rep.Skipped() != 0 || n < 9 {
			t.Errorf("%s: %d entries, %+v, %v", f, n, rep, err)
		}
	}

	// Stats from audit.jsonl, with bytes and rule hits.
	s, err := logs.LoadStats(logs.Source{Path: r.logDir}, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.AllowedRequests != 4 || s.DeniedRequests < 6 {
		t.Errorf("allowed=%d denied=%d", s.AllowedRequests, s.DeniedRequests)
	}
	byName := map[string]*logs.DomainStats{}
	for _, d := range s.ByDomain {
		byName[d.Domain] = d
	}
	if d := byName[r.tlsHost]; d == nil || d.Allowed != 3 || d.Denied != 1 || d.BytesOut == nil || *d.BytesOut < 150_000 {
		t.Errorf("%s: %+v", r.tlsHost, d)
	}
	if d := byName[r.httpHost]; d == nil || d.BytesIn == nil || *d.BytesIn < 7000 {
		t.Errorf("%s: %+v", r.httpHost, d)
	}
	hits := map[string]int64{}
	var sum int64
	for _, rs := range s.ByRule {
		hits[rs.RuleID] = rs.Hits
		sum += rs.Hits
	}
	if sum != s.TotalRequests || hits["allow-both-plain"] != 4 || hits["deny-blocked-plain"] != 1 || hits["deny-default"] < 3 {
		t.Errorf("rule hits %v (sum %d, total %d)", hits, sum, s.TotalRequests)
	}

	// The same numbers from the text log alone (the original's fallback).
	st, err := logs.LoadStats(logs.Source{Path: r.logDir, File: filepath.Join(r.logDir, "access.log")}, "")
	if err != nil || st.TotalRequests != s.TotalRequests || st.AllowedRequests != s.AllowedRequests {
		t.Errorf("access.log stats differ: %+v vs %+v (%v)", st, s, err)
	}

	// The commands, as a user runs them.
	e, out, _ := env(t)
	if err := logs.RunLogs(ctx, e, logs.LogsOptions{Format: "pretty", Source: r.logDir}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CONNECT " + r.tlsHost + " → 200 (ALLOWED)", "CONNECT " + r.tlsHost + ":8443 → 403 (DENIED)", "CONNECT denied.test → 403 (DENIED)", "POST " + r.httpHost + " → 200 (ALLOWED)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("awf logs lacks %q:\n%s", want, out)
		}
	}
	e, out, _ = env(t)
	if err := logs.RunStats(ctx, e, logs.StatsOptions{Format: "markdown", Source: r.logDir, Summary: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "| Domain | Allowed | Denied | Sent | Received |") || !strings.Contains(out.String(), "| "+r.tlsHost+" | 3 | 1 |") || !strings.Contains(out.String(), "<summary>Policy Rules</summary>") {
		t.Errorf("summary:\n%s", out)
	}
	e, out, _ = env(t)
	if err := logs.RunAudit(ctx, e, logs.AuditOptions{Format: "json", Source: r.logDir, Filter: logs.AuditFilter{Decision: "denied"}}); err != nil {
		t.Fatal(err)
	}
	var items []logs.AuditItem
	if err := json.Unmarshal(out.Bytes(), &items); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	rules := map[string]string{}
	for _, it := range items {
		rules[it.Domain+"|"+it.MatchedRule] = it.Reason
		if it.Decision != "denied" || it.MatchedRule == "" || it.MatchedRule == logs.UnknownRule {
			t.Errorf("bad item %+v", it)
		}
	}
	if _, ok := rules[r.blocked+"|deny-blocked-plain"]; !ok {
		t.Errorf("blocked host not attributed: %v", rules)
	}
	if _, ok := rules["denied.test|deny-default"]; !ok {
		t.Errorf("denied host not attributed: %v", rules)
	}

	// Every --format json output of the real run matches its schema.
	schema := func(name string) schemacheck.Validator {
		v, err := schemacheck.Load(filepath.Join("..", "..", "..", "docs", "schema", name))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if err := schema("logs-audit.schema.json").Validate(out.Bytes()); err != nil {
		t.Errorf("audit json: %v", err)
	}
	e, out, _ = env(t)
	if err := logs.RunStats(ctx, e, logs.StatsOptions{Format: "json", Source: r.logDir}); err != nil {
		t.Fatal(err)
	}
	if err := schema("logs-stats.schema.json").Validate(out.Bytes()); err != nil {
		t.Errorf("stats json: %v\n%s", err, out)
	}
	for _, src := range []string{r.logDir, filepath.Join(r.logDir, "audit.jsonl")} {
		e, out, _ = env(t)
		if err := logs.RunLogs(ctx, e, logs.LogsOptions{Format: "json", Source: src}); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		for _, l := range lines {
			if err := schema("logs-entry.schema.json").Validate([]byte(l)); err != nil {
				t.Errorf("logs json %s: %v", l, err)
			}
		}
		if len(lines) < 9 {
			t.Errorf("%s: %d lines", src, len(lines))
		}
	}
	mb, _ := os.ReadFile(filepath.Join(filepath.Dir(r.logDir), "audit", "policy-manifest.json"))
	if err := schema("policy-manifest.schema.json").Validate(mb); err != nil {
		t.Errorf("manifest: %v", err)
	}

	// The report after a failed run.
	rep, reps, err := logs.BlockedFromDir(r.logDir, r.allowed)
	if err != nil || len(reps) == 0 {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, tg := range rep.Targets {
		kinds[tg.Target] = tg.Kind
	}
	want := map[string]string{"denied.test:443": logs.BlockedDomain, "denied.test:80": logs.BlockedDomain, r.tlsHost + ":8443": logs.BlockedPort, r.blocked + ":443": logs.BlockedByList, "203.0.113.77:443": logs.BlockedRawIP}
	for k, v := range want {
		if kinds[k] != v {
			t.Errorf("target %s: kind %q, want %q (all: %v)", k, kinds[k], v, kinds)
		}
	}
	wantSug := fmt.Sprintf(`--allow-domains "%s,denied.test"`, strings.Join(r.allowed, ","))
	if rep.Suggestion != wantSug || !rep.PortIssues {
		t.Errorf("suggestion %q, want %q", rep.Suggestion, wantSug)
	}
	var b bytes.Buffer
	rep.Print(&b)
	t.Logf("blocked report:\n%s", b.String())
}

// TestFollowLiveRun follows a run's access.log while requests go through
// the proxy, as `awf logs -f --source running` does during a run.
func TestFollowLiveRun(t *testing.T) {
	testnet.Require(t)
	up := testnet.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	policy, _ := domains.Compile([]string{up.Name}, nil)
	dir := t.TempDir()
	logDir := filepath.Join(dir, "squid-logs")
	srv, err := egress.New(egress.Config{Policy: policy, LogDir: logDir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.ServeProxy(ln)
	state := filepath.Join(dir, "run", "r1")
	if err := logs.MarkRunning(state, logDir); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(state, logs.RunPIDFile), []byte(fmt.Sprint(os.Getpid())), 0o600)

	var out safeBuf
	e := logs.Env{Stdout: &out, Stderr: io.Discard, Discovery: logs.Discovery{TmpDir: dir, RunDir: filepath.Join(dir, "run")}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- logs.RunLogs(ctx, e, logs.LogsOptions{Follow: true, Format: "pretty", Source: "running", Interval: 10 * time.Millisecond})
	}()
	proxyURL, _ := url.Parse("http://" + ln.Addr().String())
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL), DisableKeepAlives: true}}
	for _, u := range []string{"https://" + up.Name + "/", "https://nope.test/"} {
		if resp, err := client.Get(u); err == nil {
			resp.Body.Close()
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(out.String(), "\n") < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), up.Name+" → 200 (ALLOWED)") || !strings.Contains(out.String(), "nope.test → 403 (DENIED)") {
		t.Errorf("followed output:\n%s", out.String())
	}
}
