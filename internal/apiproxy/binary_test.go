package apiproxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/testnet"
)

// TestBinarySIGTERMDrainsAndExitsZero runs the real `awf api-proxy` as the
// sidecar container would and stops it the way Docker does.
func TestBinarySIGTERMDrainsAndExitsZero(t *testing.T) {
	testnet.Require(t)
	bin := testnet.AWFBinary(t)
	up := testnet.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(500 * time.Millisecond)
		io.WriteString(w, `{"ok":true}`)
	}))
	fwd := testnet.NewForwardProxy(t)
	var stdout bytes.Buffer
	cmd := exec.Command(bin, "api-proxy")
	cmd.Env = append(os.Environ(), "OPENAI_API_KEY="+testKeys["openai"], "OPENAI_API_TARGET="+up.Name,
		"HTTPS_PROXY="+fwd.URL, "AWF_API_PROXY_LISTEN=127.0.0.1", "AWF_TOKEN_LOG_DIR="+t.TempDir(), "AWF_LOG_LEVEL=debug")
	cmd.Stdout = &stdout
	cmd.Stderr = &stdout
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
			t.Fatalf("no /health: %v\n%s", err, stdout.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	got := inBackground(func() (*http.Response, error) {
		return http.Post("http://127.0.0.1:10000/v1/chat/completions", "application/json", strings.NewReader("{}"))
	})
	time.Sleep(150 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	if b := <-got; b != `{"ok":true}` {
		t.Errorf("in-flight request during SIGTERM got %q", b)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v", err)
	}
	logs := stdout.String()
	sc := bufio.NewScanner(strings.NewReader(logs))
	events := map[string]bool{}
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Errorf("log line is not JSON: %q", sc.Text())
			continue
		}
		events[m["event"].(string)] = true
		if m["timestamp"] == nil || m["level"] == nil {
			t.Errorf("log line lacks timestamp/level: %q", sc.Text())
		}
	}
	for _, e := range []string{"startup", "server_start", "request_start", "request_complete", "shutdown"} {
		if !events[e] {
			t.Errorf("no %q event in logs:\n%s", e, logs)
		}
	}
	k := testKeys["openai"]
	for _, frag := range []string{k, k[:10], k[len(k)-8:]} {
		if strings.Contains(logs, frag) {
			t.Errorf("key fragment %q in the sidecar's output", frag)
		}
	}
}
