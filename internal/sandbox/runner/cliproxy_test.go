package runner

import (
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/awf-dev/awf/internal/testnet"
)

// fakeDIFC is the DIFC proxy on the host: TLS with its own CA (trusted by
// nothing else), recording each request's path and token.
type fakeDIFC struct {
	mu   sync.Mutex
	seen []string
}

func (f *fakeDIFC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.seen = append(f.seen, r.Method+" "+r.URL.Path+" auth="+r.Header.Get("Authorization"))
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"login": "octocat", "id": 1})
}

func TestCLIProxy(t *testing.T) {
	testnet.Require(t)
	if _, err := os.Stat("/usr/bin/gh"); err != nil {
		t.Skip("needs the host's gh (apt-get install gh)")
	}
	ca, err := testnet.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.crt")
	os.WriteFile(caFile, ca.PEM(), 0o644)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{ca.Leaf("localhost", "127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	difc := &fakeDIFC{}
	srv := &http.Server{Handler: difc}
	go srv.Serve(ln)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	token := secret("ghs_")
	logs := t.TempDir()

	script := strings.Join([]string{
		"set +e",
		"echo which: $(command -v gh)",
		"echo user: $(gh api /user)",
		"echo auth: $(gh auth status 2>&1)",
		"echo config: $(gh config list 2>&1)",
		"echo health: $(curl -s --noproxy '*' $AWF_CLI_PROXY_URL/health)",
		"echo env: $(env | grep -c -e ghs_ -e '^GH_TOKEN=' -e '^GITHUB_TOKEN=')",
		"echo url: $AWF_CLI_PROXY_URL",
		"echo relay: $(" + probe("dial", "tcp", "127.0.0.1:"+strconv.Itoa(port)) + ")",
		probe("grep", reverse(token), "/proc", "/etc", "/tmp", "/home", "$PWD", "/.awf", "/dev/shm", "/var"),
	}, "\n")
	r := awf(t, []string{"GH_TOKEN=" + token, "GITHUB_TOKEN=" + token, "GITHUB_REPOSITORY=octo/repo"},
		"--env-all", "--difc-proxy-host", "host.docker.internal:"+strconv.Itoa(port), "--difc-proxy-ca-cert", caFile,
		"--proxy-logs-dir", logs, "--audit-dir", filepath.Join(logs, "audit"), "--", script)
	got := lines(r.stdout)
	for k, want := range map[string]string{
		"which": "/usr/local/bin/gh", "user": `"login":"octocat"`,
		"auth": "gh: Subcommand 'auth' is not permitted", "config": "gh: Subcommand 'config' is not permitted",
		"health": `{"service":"cli-proxy","status":"ok"}`, "env": "0", "url": "http://172.30.0.50:11000",
		"relay": "fail", // the DIFC relay admits gh alone
	} {
		if !strings.Contains(got[k], want) {
			t.Errorf("%s: %q, want %q", k, got[k], want)
		}
	}
	if !strings.Contains(r.stdout, "ok absent") {
		t.Errorf("the token is somewhere in the sandbox: %s", r.stdout)
	}
	difc.mu.Lock()
	seen := strings.Join(difc.seen, "\n")
	difc.mu.Unlock()
	if !strings.Contains(seen, "GET /api/v3/user auth=token "+token) {
		t.Errorf("the DIFC proxy saw:\n%s", seen)
	}
	access, _ := os.ReadFile(filepath.Join(logs, "cli-proxy-logs", "access.jsonl"))
	for _, want := range []string{`"event":"exec_done"`, `"event":"exec_denied"`, `"_schema":"cli-proxy-access/v`} {
		if !strings.Contains(string(access), want) {
			t.Errorf("access.jsonl lacks %s:\n%s", want, access)
		}
	}
	if strings.Contains(string(access)+r.stdout+r.stderr, token) {
		t.Error("the token was logged or printed")
	}
	manifest, _ := os.ReadFile(filepath.Join(logs, "audit", "policy-manifest.json"))
	if !strings.Contains(string(manifest), `"difcProxy": "127.0.0.1:`+strconv.Itoa(port)+`"`) {
		t.Errorf("policy-manifest.json lacks the CLI proxy:\n%s", manifest)
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
}
