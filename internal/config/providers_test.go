package config

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestProviderFlagsToSidecarEnv: flags, config keys and host variables
// become the api-proxy's variables; flags win over the host's.
func TestProviderFlagsToSidecarEnv(t *testing.T) {
	env := map[string]string{"SUDO_UID": "1001", "AWF_AUTH_AZURE_TENANT_ID": "host-tenant", "AWF_AUTH_AZURE_CLIENT_ID": "host-client",
		"ACTIONS_ID_TOKEN_REQUEST_URL": "https://token.actions.githubusercontent.com/x", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "req-tok",
		"GOOGLE_API_KEY": "AIza-google", "COPILOT_PROVIDER_BASE_URL": "https://openrouter.ai/api/v1"}
	c, _, err := buildArgv(t, []string{"--vertex-api-target", "https://europe-west4-aiplatform.googleapis.com", "--vertex-api-base-path", "v1/",
		"--openai-api-auth-header", "X-Gateway-Key", "--auth-type", "github-oidc", "--auth-azure-tenant-id", "flag-tenant", "--copilot-token-prefix", "token", "--", "true"}, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	pe := c.APIProxy.ProviderEnv
	for k, v := range map[string]string{
		"VERTEX_API_TARGET": "europe-west4-aiplatform.googleapis.com", "VERTEX_API_BASE_PATH": "/v1", "AWF_OPENAI_AUTH_HEADER": "X-Gateway-Key",
		"AWF_AUTH_TYPE": "github-oidc", "AWF_AUTH_AZURE_TENANT_ID": "flag-tenant", "AWF_AUTH_AZURE_CLIENT_ID": "host-client",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "req-tok", "GOOGLE_API_KEY": "AIza-google", "AWF_COPILOT_TOKEN_PREFIX": "token",
		"COPILOT_PROVIDER_BASE_URL": "https://openrouter.ai/api/v1",
	} {
		if pe[k] != v {
			t.Errorf("%s = %q, want %q", k, pe[k], v)
		}
	}
	if c.APIProxy.Keys.Keyless != "azure" || c.APIProxy.Keys.Google != "AIza-google" {
		t.Errorf("keys: %+v", c.APIProxy.Keys)
	}
	// Without github-oidc the Actions request token stays out.
	c, _, _ = buildArgv(t, []string{"--", "true"}, nil, env)
	if _, ok := c.APIProxy.ProviderEnv["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]; ok {
		t.Error("request token passed without OIDC auth")
	}
}

// TestProviderFlagErrors: invalid values stop start-up with a clear error.
func TestProviderFlagErrors(t *testing.T) {
	for _, c := range []struct {
		argv []string
		env  map[string]string
		want string
	}{
		{[]string{"--openai-api-auth-header", "bad header"}, nil, "Invalid --openai-api-auth-header value: expected a valid HTTP header name"},
		{[]string{"--copilot-token-prefix", "Basic"}, nil, "expected token or Bearer"},
		{[]string{"--vertex-api-target", "bad_host"}, nil, "Invalid --vertex-api-target"},
		{[]string{"--openai-base-url-env", "1BAD"}, nil, "is not a valid environment variable name"},
		{[]string{"--openai-base-url-env", "LB_URL"}, map[string]string{}, `Environment variable "LB_URL" (apiProxy.targets.openai.baseUrlEnv) is not set`},
		{[]string{"--openai-base-url-env", "LB_URL"}, map[string]string{"LB_URL": "http://lb.corp.example/v1"}, "Only https:// endpoints are supported"},
		{[]string{"--openai-base-url-env", "LB_URL"}, map[string]string{"LB_URL": "https://u:SECRETPW@lb.corp.example/v1"}, "embedded credentials"},
		{[]string{"--openai-base-url-env", "LB_URL"}, map[string]string{"LB_URL": "https://lb.corp.example/v1?k=SECRETQ"}, "must not contain a query string"},
		{[]string{"--openai-base-url-env", "LB_URL"}, map[string]string{"LB_URL": "https://lb.corp.example:8443/v1"}, "non-default port"},
	} {
		env := map[string]string{"SUDO_UID": "1001"}
		for k, v := range c.env {
			env[k] = v
		}
		_, _, err := buildArgv(t, append(c.argv, "--", "true"), nil, env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.argv, err, c.want)
			continue
		}
		for _, v := range c.env {
			if strings.Contains(err.Error(), v) || strings.Contains(err.Error(), "SECRET") {
				t.Errorf("%v: error shows the secret value: %v", c.argv, err)
			}
		}
	}
}

// TestOpenAIBaseURLEnv: the secret URL's host and path become the OpenAI
// target of the api-proxy only: not the agent's allowlist, not the
// redacted config, and its variable is excluded from the agent.
func TestOpenAIBaseURLEnv(t *testing.T) {
	env := map[string]string{"SUDO_UID": "1001", "OPENAI_API_KEY": "sk-x", "CODEX_LB_BASE_URL": "https://lb.secret-corp.example/codex/v1"}
	c, _, err := buildArgv(t, []string{"--openai-base-url-env", "CODEX_LB_BASE_URL", "--", "true"}, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.APIProxy.ProviderEnv["OPENAI_API_TARGET"] != "lb.secret-corp.example" || c.APIProxy.ProviderEnv["OPENAI_API_BASE_PATH"] != "/codex/v1" {
		t.Errorf("sidecar env %v", c.APIProxy.ProviderEnv)
	}
	for _, d := range append(c.AllowDomains, c.AutoAdded...) {
		if strings.Contains(d, "secret-corp") {
			t.Errorf("secret host in the agent's allowlist: %v", d)
		}
	}
	red := c.Redacted()
	if s := strings.ToLower(stringify(red)); strings.Contains(s, "secret-corp") {
		t.Errorf("secret host in the redacted config: %s", s)
	}
	found := false
	for _, e := range c.Env.Exclude {
		found = found || e == "CODEX_LB_BASE_URL"
	}
	if !found {
		t.Errorf("CODEX_LB_BASE_URL not excluded: %v", c.Env.Exclude)
	}
}

// TestConfigFileAuthKeysHonoured: apiProxy.auth.* and apiProxy.targets.*
// keys set the flags (no "not yet supported" notice).
func TestConfigFileAuthKeysHonoured(t *testing.T) {
	doc := `{"apiProxy":{"auth":{"type":"github-oidc","provider":"aws","awsRoleArn":"arn:aws:iam::1:role/r","awsRegion":"us-west-2"},
	"targets":{"vertex":{"host":"aiplatform.googleapis.com","basePath":"/v1"},"openai":{"authHeader":"api-key"},"copilot":{"sessionId":"s-1","extraHeaders":{"X-Title":"awf"}}}},
	"platform":{"type":"ghes"}}`
	c, warns, err := buildArgv(t, []string{"--config", "/c.json", "--", "true"}, map[string]string{"/c.json": doc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := warnText(warns); strings.Contains(w, "not yet supported") {
		t.Errorf("notices:\n%s", w)
	}
	pe := c.APIProxy.ProviderEnv
	for k, v := range map[string]string{"AWF_AUTH_PROVIDER": "aws", "AWF_AUTH_AWS_REGION": "us-west-2", "VERTEX_API_BASE_PATH": "/v1",
		"AWF_OPENAI_AUTH_HEADER": "api-key", "AWF_PROVIDER_SESSION_ID": "s-1", "AWF_PLATFORM_TYPE": "ghes", "AWF_BYOK_EXTRA_HEADERS": `{"X-Title":"awf"}`} {
		if pe[k] != v {
			t.Errorf("%s = %q, want %q", k, pe[k], v)
		}
	}
}

func stringify(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestCopilotBYOKKeys: the original's COPILOT_PROVIDER_API_KEY counts as
// the BYOK key unless it is a placeholder; keyless cloud auth with a BYOK
// base URL serves Copilot too.
func TestCopilotBYOKKeys(t *testing.T) {
	for _, c := range []struct {
		env            map[string]string
		key            string
		keylessCopilot bool
	}{
		{map[string]string{"COPILOT_PROVIDER_API_KEY": "sk-or-real"}, "sk-or-real", false},
		{map[string]string{"COPILOT_PROVIDER_API_KEY": "ghu_" + strings.Repeat("a", 36)}, "", false},
		{map[string]string{"COPILOT_API_KEY": "k1", "COPILOT_PROVIDER_API_KEY": "k2"}, "k1", false},
		{map[string]string{"AWF_AUTH_TYPE": "github-oidc", "AWF_AUTH_PROVIDER": "azure", "COPILOT_PROVIDER_BASE_URL": "https://r.openai.azure.com/openai/v1"}, "", true},
		{map[string]string{"AWF_AUTH_TYPE": "github-oidc", "AWF_AUTH_PROVIDER": "anthropic", "COPILOT_PROVIDER_BASE_URL": "https://x.example"}, "", false},
	} {
		env := map[string]string{"SUDO_UID": "1001"}
		for k, v := range c.env {
			env[k] = v
		}
		cfg, _, err := buildArgv(t, []string{"--", "true"}, nil, env)
		if err != nil {
			t.Fatal(err)
		}
		if k := cfg.APIProxy.Keys; k.CopilotAPIKey != c.key || k.KeylessCopilot != c.keylessCopilot {
			t.Errorf("%v: BYOK key %q keyless copilot %v", c.env, k.CopilotAPIKey, k.KeylessCopilot)
		}
	}
}
