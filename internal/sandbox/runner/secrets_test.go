package runner

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/awf-dev/awf/internal/testnet"
)

func secret(prefix string) string {
	b := make([]byte, 12)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// recorder is a fake provider that remembers the credentials it saw.
type recorder struct {
	mu   sync.Mutex
	seen []http.Header
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.seen = append(r.seen, req.Header.Clone())
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"id": "x", "path": req.URL.Path,
		"usage": map[string]int{"prompt_tokens": 3, "completion_tokens": 4, "input_tokens": 3, "output_tokens": 4}})
}

func (r *recorder) headers() []http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]http.Header(nil), r.seen...)
}

func TestAPIProxyAndNoKeyInSandbox(t *testing.T) {
	testnet.Require(t)
	openai, anthropic := &recorder{}, &recorder{}
	testnet.NewUpstreamFor(t, "api.openai.com", openai)
	testnet.NewUpstreamFor(t, "api.anthropic.com", anthropic)

	// A fake home with a credential file in a tool dir that is bound in.
	// The test's mount namespace is private, so /root here is a tmpfs.
	if err := unix.Mount("tmpfs", "/root", "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount("/root", unix.MNT_DETACH)
	ghHosts := secret("gho_")
	os.MkdirAll("/root/.config/gh", 0o755)
	os.WriteFile("/root/.config/gh/hosts.yml", []byte("oauth_token: "+ghHosts), 0o644)
	os.MkdirAll("/root/.ssh", 0o755)
	os.WriteFile("/root/.ssh/id_rsa", []byte(ghHosts), 0o644)

	oKey, aKey := secret("sk-test-openai-"), secret("sk-ant-test-")
	script := strings.Join([]string{
		`curl -sS -m 10 -X POST "$OPENAI_BASE_URL/chat/completions" -H 'Content-Type: application/json' -d '{"model":"m"}'; echo`,
		`curl -sS -m 10 -X POST "$ANTHROPIC_BASE_URL/v1/messages" -H 'Content-Type: application/json' -d '{"model":"m"}'; echo`,
		`echo "helper: $($CLAUDE_CODE_API_KEY_HELPER 2>/dev/null)"`,
		`cat $HOME/.claude.json; echo`,
		`test -r "$LD_PRELOAD" && echo "preload: $LD_PRELOAD present"`,
		// Masked, or absent (root's tool dirs are not bound for uid 1000).
		`echo "gh hosts bytes: $(cat $HOME/.config/gh/hosts.yml 2>/dev/null | wc -c)"`,
		probe("grep", reverse(oKey)+","+reverse(aKey)+","+reverse(ghHosts), "/proc", "/etc", "/tmp", "/root", "/home", "$PWD", "/.awf", "/dev/shm", "/run", "/var"),
		probe("ptrace", "1"),
		`strace -f true >/dev/null 2>&1 && echo strace-worked || echo strace-failed`,
		`cat /proc/1/environ >/dev/null 2>&1 && echo init-environ-readable || echo init-environ-denied`,
	}, "\n")
	r := awf(t, []string{"OPENAI_API_KEY=" + oKey, "ANTHROPIC_API_KEY=" + aKey},
		"--enable-api-proxy", "-d", "api.openai.com,api.anthropic.com", "--", script)
	t.Logf("stdout:\n%s", r.stdout)
	if strings.Contains(r.stdout+r.stderr, oKey) || strings.Contains(r.stdout+r.stderr, aKey) {
		t.Fatalf("a real key was printed")
	}
	for _, w := range []string{`"path":"/v1/chat/completions"`, `"path":"/v1/messages"`,
		"helper: sk-ant-placeholder-key-for-credential-isolation", `"apiKeyHelper": "/usr/local/bin/get-claude-key.sh"`,
		"preload: /.awf/lib/one-shot-token.so present", "gh hosts bytes: 0",
		"ok absent", "strace-failed", "init-environ-denied"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("stdout lacks %q", w)
		}
	}
	if !strings.Contains(r.stdout, "fail operation not permitted") {
		t.Errorf("ptrace was not refused")
	}
	if h := openai.headers(); len(h) != 1 || h[0].Get("Authorization") != "Bearer "+oKey {
		t.Errorf("openai upstream saw %v", h)
	}
	if h := anthropic.headers(); len(h) != 1 || h[0].Get("X-Api-Key") != aKey {
		t.Errorf("anthropic upstream saw %v", h)
	}
	if r.code != 0 {
		t.Errorf("exit code %d\n%s", r.code, r.stderr)
	}
	_ = filepath.Join
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}
