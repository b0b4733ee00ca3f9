package runner

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/awf-dev/awf/internal/testnet"
)

// TestSecretBaseURLNeverShown: with --openai-base-url-env the api proxy
// reaches the secret endpoint (host and base path from the variable), and
// neither its host nor its path appears in any log, artifact, stderr line
// or anything the agent can see, as the original keeps it out of Squid's
// log (sensitive_log_domains) and the sidecar's (AWF_SENSITIVE_OPENAI_TARGET).
func TestSecretBaseURLNeverShown(t *testing.T) {
	testnet.Require(t)
	key := "sk-proj-" + strings.Repeat("k", 40)
	var hits atomic.Int64
	up := testnet.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/tenant-7f3a9c/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer "+key {
			http.Error(w, "wrong path or key: "+r.URL.Path, http.StatusTeapot)
			return
		}
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"c1","object":"chat.completion","model":"gpt-4.1","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`)
	}))
	secretURL := "https://" + up.Name + "/tenant-7f3a9c/v1"
	script := `curl -s -m 10 -H 'Content-Type: application/json' -d '{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}' "$OPENAI_BASE_URL/chat/completions"; echo; env; cat /proc/self/environ | tr '\0' '\n'`
	logs, audit := t.TempDir(), t.TempDir()
	r := awf(t, []string{"OPENAI_API_KEY=" + key, "SECRET_OPENAI_URL=" + secretURL},
		"-d", "example.test", "--openai-base-url-env", "SECRET_OPENAI_URL", "--log-level", "debug",
		"--proxy-logs-dir", logs, "--audit-dir", audit, "--", script)
	if r.code != 0 || hits.Load() != 1 || !strings.Contains(r.stdout, `"content":"hi"`) {
		t.Fatalf("code %d, %d upstream hits\n%s\n%s", r.code, hits.Load(), r.stdout, r.stderr)
	}
	access, _ := os.ReadFile(filepath.Join(logs, "access.log"))
	if !strings.Contains(string(access), "CONNECT 200 TCP_TUNNEL:HIER_DIRECT [REDACTED]:443") {
		t.Errorf("the api proxy's tunnel is not logged, redacted:\n%s", access)
	}
	for _, secret := range []string{up.Name, "tenant-7f3a9c"} {
		if strings.Contains(r.stdout, secret) {
			t.Errorf("the agent sees %q:\n%s", secret, r.stdout)
		}
		assertNoSecret(t, secret, r.stderr, logs, audit)
	}
}
