package clients

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/fakecloud"
)

// TestKeylessSDKs: the official openai SDK over Azure OpenAI and the
// official Anthropic SDK over Anthropic federation, both keyless (GitHub
// Actions OIDC exchanged by awf against the fake issuer and token
// endpoints), complete a JSON and a streaming call; the fake upstreams
// accept only the exchanged token, the SDK holds only the placeholder,
// and no token of the exchange reaches the sandbox, stdout or the logs.
func TestKeylessSDKs(t *testing.T) {
	requireClients(t)
	dir := clientsDir(t)
	cases := []struct {
		name, host, cmd, usageProvider string
		env                            []string
	}{
		{"openai-azure-oidc/chat", fakecloud.AzureOAIHost, "node sdk/openai.mjs chat", "openai",
			[]string{"AWF_AUTH_PROVIDER=azure", "AWF_AUTH_AZURE_TENANT_ID=tenant-1", "AWF_AUTH_AZURE_CLIENT_ID=client-1", "OPENAI_API_TARGET=" + fakecloud.AzureOAIHost}},
		{"openai-azure-oidc/chat-stream", fakecloud.AzureOAIHost, "node sdk/openai.mjs chat-stream", "openai",
			[]string{"AWF_AUTH_PROVIDER=azure", "AWF_AUTH_AZURE_TENANT_ID=tenant-1", "AWF_AUTH_AZURE_CLIENT_ID=client-1", "OPENAI_API_TARGET=" + fakecloud.AzureOAIHost}},
		{"anthropic-federation/messages", fakecloud.AnthropicHost, "node sdk/anthropic.mjs messages", "anthropic",
			[]string{"AWF_AUTH_PROVIDER=anthropic", "AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID=fr_1", "AWF_AUTH_ANTHROPIC_ORGANIZATION_ID=org_1", "AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID=sa_1"}},
		{"anthropic-federation/messages-stream", fakecloud.AnthropicHost, "node sdk/anthropic.mjs messages-stream", "anthropic",
			[]string{"AWF_AUTH_PROVIDER=anthropic", "AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID=fr_1", "AWF_AUTH_ANTHROPIC_ORGANIZATION_ID=org_1", "AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID=sa_1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			privateHome(t)
			cloud := fakecloud.Start(t, time.Hour)
			logs := t.TempDir()
			script := "cd " + dir + " && export PATH=" + dir + "/node_modules/.bin:$PATH && " + c.cmd +
				"; echo AWF_CLIENT_EXIT=$?; env | grep -c -e azure-at -e sk-ant-oat -e id-token | sed 's/^/AWF_TOKEN_VARS=/'"
			cmd := exec.Command(filepath.Join(binDir, "awf"), "--allow-domains", "github.com", "--proxy-logs-dir", logs,
				"-v", dir+":"+dir+":ro", "-e", "AWF_TEST_MODEL=gpt-4.1", "--", script)
			cmd.Dir = workspace(t)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + t.TempDir(), "HOME=/root", "AWF_TESTNET=1",
				"SSL_CERT_FILE=" + os.Getenv("SSL_CERT_FILE"), "AWF_AUTH_TYPE=github-oidc",
				"ACTIONS_ID_TOKEN_REQUEST_URL=" + cloud.RequestURL(), "ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + fakecloud.RequestToken}, c.env...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(90 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatal("awf did not finish in 90 s")
			}
			stdout := out.String()
			for _, w := range []string{"AWF_CLIENT_EXIT=0", "AWF_REPLY=hi", "AWF_TOKEN_VARS=0"} {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s\n%s", w, stdout, errb.String())
				}
			}
			// The fake upstream answers only the exchanged token (fakecloud.upstream).
			if seen := cloud.Seen(); len(seen) == 0 || !strings.HasPrefix(seen[len(seen)-1].Get("Authorization"), "Bearer ") {
				t.Errorf("the fake %s saw no call with a Bearer token", c.host)
			}
			usage, _ := os.ReadFile(filepath.Join(logs, "api-proxy-logs", "token-usage.jsonl"))
			if !strings.Contains(string(usage), `"provider":"`+c.usageProvider+`"`) {
				t.Errorf("no token-usage record for %s:\n%s", c.usageProvider, usage)
			}
			all := stdout + errb.String() + string(usage)
			filepath.Walk(logs, func(p string, fi os.FileInfo, err error) error {
				if err == nil && fi.Mode().IsRegular() {
					b, _ := os.ReadFile(p)
					all += string(b)
				}
				return nil
			})
			for _, s := range append(cloud.Secrets(), fakecloud.RequestToken) {
				if s != "" && strings.Contains(all, s) {
					t.Errorf("a token of the exchange (%.12s...) is in the output or logs", s)
				}
			}
		})
	}
}
