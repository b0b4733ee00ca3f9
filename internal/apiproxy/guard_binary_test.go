package apiproxy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/fakeprovider"
	"github.com/awf-dev/awf/internal/guards"
	"github.com/awf-dev/awf/internal/testnet"
)

// TestBinaryGuardEnv: the real `awf api-proxy` reads the original's guard
// variables (AWF_MAX_RUNS, AWF_DISALLOWED_MODELS, ...), reports a value it
// cannot use instead of ignoring it, and leaves guards.json behind.
func TestBinaryGuardEnv(t *testing.T) {
	testnet.Require(t)
	bin := testnet.AWFBinary(t)
	fake := fakeprovider.NewOpenAI(fakeprovider.Reply{})
	up := testnet.NewUpstream(t, fake)
	fwd := testnet.NewForwardProxy(t)
	dir := t.TempDir()
	var out bytes.Buffer
	cmd := exec.Command(bin, "api-proxy")
	cmd.Env = append(os.Environ(), "OPENAI_API_KEY="+testKeys["openai"], "OPENAI_API_TARGET="+up.Name,
		"HTTPS_PROXY="+fwd.URL, "AWF_API_PROXY_LISTEN=127.0.0.1", "AWF_TOKEN_LOG_DIR="+dir,
		guards.EnvMaxRuns+"=1", guards.EnvDisallowedModels+`=["*opus*"]`, guards.EnvMaxCacheMisses+"=lots")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://127.0.0.1:10000/health")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no /health: %v\n%s", err, out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	send := func(model string) int {
		resp, err := http.Post("http://127.0.0.1:10000/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := []int{send("claude-opus-4-1"), send("gpt-5"), send("gpt-5")}; got[0] != 403 || got[1] != 200 || got[2] != 429 {
		t.Fatalf("statuses %v\n%s", got, out.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, guards.StateFile))
	if err != nil {
		t.Fatal(err)
	}
	var snap guards.Snapshot
	json.Unmarshal(b, &snap)
	if snap.Runs != 1 || snap.MaxRuns != 1 || snap.StoppedBy == nil || snap.StoppedBy.Rule != "max_runs_exceeded" || snap.Blocked["model_policy_violation"] != 1 {
		t.Fatalf("guards.json %s", b)
	}
	logs := out.String()
	for _, w := range []string{`AWF_MAX_CACHE_MISSES=\"lots\" is not a positive integer`, `"event":"max_runs_exceeded"`, `"event":"budget_summary"`, `"message":"Guards configured"`} {
		if !strings.Contains(logs, w) {
			t.Errorf("output lacks %s:\n%s", w, logs)
		}
	}
	if n := len(fake.Find("/chat/completions")); n != 1 {
		t.Fatalf("upstream got %d calls", n)
	}
}
