package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/fakecloud"
	"github.com/awf-dev/awf/internal/testnet"
)

// TestOIDCTokenNeverInSandbox runs the real binary with keyless Azure
// OpenAI auth (GitHub Actions OIDC) against the fake issuer, Azure AD and
// Azure OpenAI: the command's JSON and streaming calls succeed with the
// exchanged token injected, while neither the Actions request token, the
// ID token nor the access token appear in the command's environment,
// /proc, its files, stdout, awf's log or the log directories.
func TestOIDCTokenNeverInSandbox(t *testing.T) {
	testnet.Require(t)
	cloud := fakecloud.Start(t, time.Hour)
	logs := t.TempDir()
	needles := []string{reverse(fakecloud.RequestToken), reverse("azure-at-"), reverse(".id-token-")}
	script := strings.Join([]string{
		`curl -sS -m 10 -X POST "$OPENAI_BASE_URL/chat/completions" -H 'Content-Type: application/json' -d '{"model":"gpt-4.1"}'; echo`,
		`curl -sS -m 10 -N -X POST "$OPENAI_BASE_URL/chat/completions" -H 'Content-Type: application/json' -d '{"model":"gpt-4.1","stream":true}'; echo`,
		`env | sort`,
		`echo "--- self"; tr '\0' '\n' < /proc/self/environ`,
		probe("grep", strings.Join(needles, ","), "/proc", "/etc", "/tmp", "/home", "$PWD", "/.awf", "/dev/shm", "/run", "/var"),
	}, "\n")
	r := awf(t, []string{
		"AWF_AUTH_TYPE=github-oidc", "AWF_AUTH_PROVIDER=azure", "AWF_AUTH_AZURE_TENANT_ID=tenant-1", "AWF_AUTH_AZURE_CLIENT_ID=client-1",
		"ACTIONS_ID_TOKEN_REQUEST_URL=" + cloud.RequestURL(), "ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + fakecloud.RequestToken,
		"OPENAI_API_TARGET=" + fakecloud.AzureOAIHost,
	}, "--enable-api-proxy", "-d", "github.com", "--proxy-logs-dir", logs, "--", script)
	t.Logf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	for _, w := range []string{`"prompt_tokens":11`, `data: [DONE]`, "OPENAI_BASE_URL=http://172.30.0.30:10000/v1", "OPENAI_API_KEY=sk-placeholder-for-api-proxy", "ok absent"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("stdout lacks %q", w)
		}
	}
	if n := cloud.Calls(fakecloud.AzureHost); n != 1 {
		t.Errorf("%d Azure exchanges for two calls, want 1", n)
	}
	var files strings.Builder
	filepath.Walk(logs, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			files.Write(b)
		}
		return nil
	})
	if !strings.Contains(files.String(), `"provider":"openai"`) {
		t.Errorf("no token-usage record in %s", logs)
	}
	all := r.stdout + r.stderr + files.String()
	for _, s := range cloud.Secrets() {
		if strings.Contains(all, s) {
			t.Errorf("secret %q reached the command's output, awf's log or the log files", s)
		}
	}
	for _, n := range []string{"ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL"} {
		if strings.Contains(r.stdout, n+"=") {
			t.Errorf("the command has %s", n)
		}
	}
}
