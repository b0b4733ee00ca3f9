package agentenv

import (
	"strings"
	"testing"

	"github.com/awf-dev/awf/internal/config"
)

// TestVertexAndKeylessContract: GOOGLE_API_KEY gives the command
// GOOGLE_VERTEX_BASE_URL (never the key); keyless auth (GitHub Actions
// OIDC) gives the base URL and placeholder of the provider it serves, and
// neither the Actions request token nor its URL reach the command.
func TestVertexAndKeylessContract(t *testing.T) {
	host := map[string]string{"SUDO_UID": "1001", "GOOGLE_API_KEY": "AIza-REAL-google-key-123456",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "REAL-request-token-abcdef", "ACTIONS_ID_TOKEN_REQUEST_URL": "https://token.actions.githubusercontent.com/x"}
	for _, c := range []struct {
		keyless string
		want    map[string]string
		absent  []string
	}{
		{"azure", map[string]string{"OPENAI_BASE_URL": "http://172.30.0.30:10000/v1", "OPENAI_API_KEY": OpenAIPlaceholder, "GOOGLE_VERTEX_BASE_URL": "http://172.30.0.30:10004", "GOOGLE_API_KEY": GooglePlaceholder}, []string{"ANTHROPIC_BASE_URL"}},
		{"anthropic", map[string]string{"ANTHROPIC_BASE_URL": "http://172.30.0.30:10001", "ANTHROPIC_AUTH_TOKEN": AnthropicPlaceholder}, []string{"OPENAI_BASE_URL"}},
	} {
		in := input(host, true)
		in.Keys.Keyless = c.keyless
		in.EnvAll = true
		a := BuildResult(in).Agent
		for k, v := range c.want {
			if a[k] != v {
				t.Errorf("%s: %s = %q, want %q", c.keyless, k, a[k], v)
			}
		}
		for _, k := range c.absent {
			if _, ok := a[k]; ok {
				t.Errorf("%s: %s set", c.keyless, k)
			}
		}
		for k, v := range a {
			if strings.Contains(v, "REAL-") || strings.Contains(v, "token.actions") {
				t.Errorf("%s: agent[%s] carries a host secret", c.keyless, k)
			}
		}
	}
	_ = config.Keys{}
}

// TestKeylessCopilotBYOKContract: OIDC serving Copilot's BYOK path gives the
// command the BYOK contract (offline mode, provider base URL on the proxy,
// placeholders), not the real endpoint.
func TestKeylessCopilotBYOKContract(t *testing.T) {
	host := map[string]string{"SUDO_UID": "1001", "COPILOT_PROVIDER_BASE_URL": "https://secret-res.openai.azure.com/openai/v1"}
	in := input(host, true)
	in.Keys.Keyless, in.Keys.KeylessCopilot = "azure", true
	a := BuildResult(in).Agent
	for k, v := range map[string]string{"COPILOT_OFFLINE": "true", "COPILOT_PROVIDER_BASE_URL": "http://172.30.0.30:10002",
		"COPILOT_API_URL": "http://172.30.0.30:10002", "COPILOT_PROVIDER_API_KEY": CopilotPlaceholder} {
		if a[k] != v {
			t.Errorf("%s = %q, want %q", k, a[k], v)
		}
	}
}
