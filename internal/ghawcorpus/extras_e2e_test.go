package ghawcorpus

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/awf-dev/awf/internal/testnet"
)

type runResult struct {
	code           int
	stdout, stderr string
}

func runAWF(t *testing.T, dir string, env []string, args ...string) runResult {
	t.Helper()
	cmd := exec.Command(testnet.AWFBinary(t), args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "AWF_TESTNET=1", "SSL_CERT_FILE=" + os.Getenv("SSL_CERT_FILE"),
		"AWF_RUN_DIR=" + filepath.Join(t.TempDir(), "runs"), "TMPDIR=" + t.TempDir()}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := testnet.Run(t, cmd, 90*time.Second)
	return runResult{code, out.String(), errb.String()}
}

func sandboxDir(t *testing.T) string {
	d := t.TempDir()
	os.Chmod(d, 0o777)
	os.Chmod(filepath.Dir(d), 0o755)
	return d
}

// TestSessionStateAndDiagnostics: --session-state-dir is the agent's
// ~/.copilot/session-state, on the host, owned by the agent's user;
// --diagnostic-logs collects the exit state, log tails and redacted config
// after a failure; a --ruleset-file domain is reachable.
func TestSessionStateAndDiagnostics(t *testing.T) {
	testnet.Require(t)
	if testing.Short() {
		t.Skip("builds and runs the awf binary; skipped with -short")
	}
	site := testnet.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ruleset ok")) }))
	ws := sandboxDir(t)
	ca := filepath.Join(ws, "ca.pem")
	os.WriteFile(ca, testnet.TestCA().PEM(), 0o644)
	state := filepath.Join(t.TempDir(), "gh-aw", "sandbox", "agent", "session-state")
	audit := filepath.Join(t.TempDir(), "audit")
	rules := filepath.Join(ws, "rules.yml")
	os.WriteFile(rules, []byte("version: 1\nrules:\n  - domain: "+site.Name+"\n"), 0o644)
	script := strings.Join([]string{
		`mkdir -p ~/.copilot/session-state/s1 && echo '{"type":"session.start"}' > ~/.copilot/session-state/s1/events.jsonl || exit 31`,
		`curl -fsS -m 10 --cacert ` + ca + ` https://` + site.Name + `/ || exit 32`,
		`exit 3`,
	}, "\n")
	key := "sk-ant-diagnostics-REAL-0123456789"
	r := runAWF(t, ws, []string{"ANTHROPIC_API_KEY=" + key}, "--ruleset-file", rules, "--session-state-dir", state,
		"--diagnostic-logs", "--audit-dir", audit, "--", script)
	if r.code != 3 || !strings.Contains(r.stdout, "ruleset ok") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	ev := filepath.Join(state, "s1", "events.jsonl")
	b, err := os.ReadFile(ev)
	if err != nil || !strings.Contains(string(b), "session.start") {
		t.Fatalf("session state on the host: %v %q", err, b)
	}
	if fi, _ := os.Stat(ev); fi.Sys().(*syscall.Stat_t).Uid != 1000 {
		t.Errorf("events.jsonl owned by uid %d, want the agent's 1000", fi.Sys().(*syscall.Stat_t).Uid)
	}
	for _, w := range []string{"Agent session state available at: " + state, "Diagnostic logs collected at: " + filepath.Join(audit, "diagnostics")} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
	diag := filepath.Join(audit, "diagnostics")
	st, _ := os.ReadFile(filepath.Join(diag, "awf-agent.state"))
	if strings.TrimSpace(string(st)) != "3" {
		t.Errorf("awf-agent.state %q", st)
	}
	if b, _ := os.ReadFile(filepath.Join(diag, "awf-squid.log")); !bytes.Contains(b, []byte(site.Name)) {
		t.Errorf("awf-squid.log lacks the request:\n%s", b)
	}
	filepath.Walk(diag, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(key)) {
				t.Errorf("%s holds the real key", p)
			}
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(diag, "config.redacted.json")); err != nil {
		t.Error(err)
	}

	// Exit 0: no diagnostics. --pids-limit reaches the plan the runtime
	// applies (cgroup pids.max).
	audit2 := filepath.Join(t.TempDir(), "audit")
	r = runAWF(t, ws, nil, "--diagnostic-logs", "--pids-limit", "77", "--audit-dir", audit2, "--", "true")
	if _, err := os.Stat(filepath.Join(audit2, "diagnostics")); r.code != 0 || err == nil {
		t.Errorf("successful run: exit %d, diagnostics %v", r.code, err)
	}
	if plan, err := os.ReadFile(filepath.Join(audit2, "sandbox-plan.json")); err != nil || !regexp.MustCompile(`"pids":\s*77\b`).Match(plan) {
		t.Errorf("sandbox-plan.json lacks the pids limit: %v", err)
	}
}

// TestDNSOverHTTPS: with --dns-over-https (legacy security: strict mode
// ignores it, as the original) the egress proxy resolves an admitted name
// that only the DoH server knows; without it the same name does not
// resolve.
func TestDNSOverHTTPS(t *testing.T) {
	testnet.Require(t)
	if testing.Short() {
		t.Skip("builds and runs the awf binary; skipped with -short")
	}
	const name = "doh-only.example"
	_, addr := testnet.AllocHost(t)
	testnet.NewUpstreamOn(t, name, addr, 443, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("reached via DoH")) }), true)
	var queries atomic.Int32
	doh := testnet.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 65535))
		var q dns.Msg
		if r.Method != http.MethodPost || q.Unpack(body) != nil || len(q.Question) != 1 {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		queries.Add(1)
		m := new(dns.Msg)
		m.SetReply(&q)
		if q.Question[0].Name == name+"." && q.Question[0].Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: net.ParseIP(addr)})
		}
		out, _ := m.Pack()
		w.Header().Set("Content-Type", "application/dns-message")
		w.Write(out)
	}))
	ws := sandboxDir(t)
	ca := filepath.Join(ws, "ca.pem")
	os.WriteFile(ca, testnet.TestCA().PEM(), 0o644)
	script := `curl -fsS -m 10 --cacert ` + ca + ` https://` + name + `/`
	r := runAWF(t, ws, nil, "--legacy-security", "--dns-over-https", "https://"+doh.Name+"/dns-query", "-d", name, "--", script)
	if r.code != 0 || !strings.Contains(r.stdout, "reached via DoH") || queries.Load() == 0 {
		t.Fatalf("with DoH: exit %d, %d queries\nstdout:\n%s\nstderr:\n%s", r.code, queries.Load(), r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "DNS-over-HTTPS enabled: https://"+doh.Name+"/dns-query") {
		t.Errorf("stderr lacks the DoH line:\n%s", r.stderr)
	}
	before := queries.Load()
	r = runAWF(t, ws, nil, "--legacy-security", "-d", name, "--", script)
	if r.code == 0 || queries.Load() != before {
		t.Errorf("without DoH the name must not resolve: exit %d, queries %d -> %d", r.code, before, queries.Load())
	}
}
