package apiproxy

import (
	"bytes"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/fakecloud"
	"github.com/awf-dev/awf/internal/testnet"
)

// TestCopilotTokenPrefixRule: the GitHub token's Authorization scheme for
// both tenant kinds and github.com, decided from the target and
// GITHUB_SERVER_URL, overridable; BYOK keys are always Bearer.
func TestCopilotTokenPrefixRule(t *testing.T) {
	cases := []struct {
		target, server, platform, override, want string
	}{
		{"api.githubcopilot.com", "https://github.com", "", "", "Bearer"},
		{"copilot-api.acme.ghe.com", "https://acme.ghe.com", "", "", "token"}, // GHE Cloud data residency
		{"api.enterprise.githubcopilot.com", "https://ghes.corp.example", "", "", "token"},
		{"api.business.githubcopilot.com", "", "", "", "token"},
		{"copilot.gateway.corp.example", "https://ghes.corp.example", "", "", "token"}, // GHES, custom target
		{"copilot.gateway.corp.example", "https://ghes.corp.example", "github", "", "Bearer"},
		{"copilot-api.acme.ghe.com", "", "github", "", "token"}, // a platform type never changes the known endpoints
		{"copilot.gateway.corp.example", "", "ghes", "", "token"},
		{"copilot-api.acme.ghe.com", "https://acme.ghe.com", "", "Bearer", "Bearer"},
		{"api.githubcopilot.com", "", "", "token", "token"},
	}
	for _, c := range cases {
		env := map[string]string{"COPILOT_GITHUB_TOKEN": "ghu_x", "COPILOT_API_TARGET": c.target, "GITHUB_SERVER_URL": c.server, "AWF_PLATFORM_TYPE": c.platform, "AWF_COPILOT_TOKEN_PREFIX": c.override}
		cfg := FromEnv(func(k string) string { return env[k] })
		if got := cfg.Auth.Copilot.TokenPrefix; got != c.want {
			t.Errorf("%+v: prefix %q, want %q", c, got, c.want)
		}
	}
}

// TestCopilotTenantsEndToEnd: GHE Cloud (copilot-api.<tenant>.ghe.com,
// derived from GITHUB_SERVER_URL) and GHES (api.enterprise.githubcopilot.com)
// each receive "token <github token>"; a pasted "Bearer " prefix is
// removed; Copilot-Integration-Id is sent.
func TestCopilotTenantsEndToEnd(t *testing.T) {
	for _, c := range []struct{ server, host string }{
		{"https://acme.ghe.com", "copilot-api.acme.ghe.com"},
		{"https://ghes.corp.example", "api.enterprise.githubcopilot.com"},
	} {
		t.Run(c.host, func(t *testing.T) {
			rec := &recorder{}
			testnet.NewUpstreamFor(t, c.host, rec)
			r := newEnvRig(t, map[string]string{"COPILOT_GITHUB_TOKEN": "Bearer " + testKeys["copilot"], "GITHUB_SERVER_URL": c.server, "GITHUB_RUN_ID": "9001", "GITHUB_RUN_ATTEMPT": "2"})
			for _, path := range []string{"/chat/completions", "/models"} {
				method := "POST"
				if path == "/models" {
					method = "GET"
				}
				resp, body := r.do("copilot", method, path, strings.NewReader(`{"model":"gpt-4.1"}`), map[string]string{"Authorization": "Bearer placeholder"})
				if resp.StatusCode != 200 {
					t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
				}
				got := rec.last(t)
				want(t, got.Host, c.host)
				want(t, got.Header.Get("Authorization"), "token "+testKeys["copilot"])
				// Attribution headers only for GitHub's Copilot hosts (the
				// original's rule), with one interaction id per run.
				if strings.HasSuffix(c.host, ".githubcopilot.com") {
					want(t, got.Header.Get("Copilot-Integration-Id"), "agentic-workflows")
					want(t, got.Header.Get("X-Interaction-Id"), "9001-2")
					want(t, got.Header.Get("X-Initiator"), "agent")
				} else {
					want(t, got.Header.Get("Copilot-Integration-Id"), "")
					want(t, got.Header.Get("X-Interaction-Id"), "")
				}
			}
		})
	}
}

// TestCopilotBYOKRouting: COPILOT_PROVIDER_BASE_URL (the host's real
// endpoint, e.g. OpenRouter) becomes the Copilot target and base path; the
// BYOK key goes as Bearer with the configured extra headers and session id
// (never overriding the credential); the model name passes unchanged.
func TestCopilotBYOKRouting(t *testing.T) {
	rec := &recorder{}
	up := testnet.NewUpstream(t, rec)
	r := newEnvRig(t, map[string]string{
		"COPILOT_API_KEY":            testKeys["copilot"],
		"COPILOT_PROVIDER_BASE_URL":  "https://" + up.Name + "/api/v1",
		"AWF_BYOK_EXTRA_HEADERS":     `{"HTTP-Referer":"https://github.com/acme/repo","X-Title":"awf","Authorization":"Bearer evil","x-api-key":"evil"}`,
		"AWF_PROVIDER_SESSION_ID":    "run-42",
		"AWF_BYOK_EXTRA_BODY_FIELDS": `{"provider_hint":"fast","session_id":"kept-from-config"}`,
	})
	resp, body := r.do("copilot", "POST", "/chat/completions", strings.NewReader(`{"model":"anthropic/claude-sonnet-4"}`), map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	got := rec.last(t)
	sent := string(rec.body[len(rec.body)-1])
	if !strings.Contains(sent, `"provider_hint":"fast"`) || !strings.Contains(sent, `"session_id":"kept-from-config"`) {
		t.Errorf("extra body fields not added: %s", sent)
	}
	want(t, got.Host, up.Name)
	want(t, got.URL.Path, "/api/v1/chat/completions")
	want(t, got.Header.Get("Authorization"), "Bearer "+testKeys["copilot"])
	want(t, got.Header.Get("Http-Referer"), "https://github.com/acme/repo")
	want(t, got.Header.Get("X-Title"), "awf")
	want(t, got.Header.Get("X-Session-Id"), "run-42")
	want(t, got.Header.Get("X-Api-Key"), "")
	want(t, got.Header.Get("Copilot-Integration-Id"), "") // never to a BYOK provider
	if !bytes.Contains(rec.body[len(rec.body)-1], []byte(`"anthropic/claude-sonnet-4"`)) {
		t.Errorf("model name changed: %s", rec.body[len(rec.body)-1])
	}
	if !strings.Contains(strings.Join(r.cfg.Warnings, "\n"), `"Authorization" is an auth-critical header`) {
		t.Errorf("no warning for the refused extra header: %q", r.cfg.Warnings)
	}
}

// TestAzureBYOKOnOpenAIPort: COPILOT_PROVIDER_TYPE=azure routes port 10000
// to the Azure deployment with the BYOK key in api-key, keeping the
// deployment path and api-version query.
func TestAzureBYOKOnOpenAIPort(t *testing.T) {
	rec := &recorder{}
	up := testnet.NewUpstream(t, rec)
	r := newEnvRig(t, map[string]string{
		"COPILOT_PROVIDER_API_KEY": testKeys["copilot"], "COPILOT_PROVIDER_TYPE": "azure",
		"COPILOT_PROVIDER_BASE_URL": "https://" + up.Name + "/openai",
	})
	resp, body := r.do("openai", "POST", "/deployments/gpt-4o/chat/completions?api-version=2024-10-21", strings.NewReader(`{}`), map[string]string{"Api-Key": "placeholder"})
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	got := rec.last(t)
	want(t, got.URL.Path, "/openai/deployments/gpt-4o/chat/completions")
	want(t, got.URL.RawQuery, "api-version=2024-10-21")
	want(t, got.Header.Get("Api-Key"), testKeys["copilot"])
	want(t, got.Header.Get("Authorization"), "")
}

// TestCustomAuthHeaders: AWF_OPENAI_AUTH_HEADER / AWF_ANTHROPIC_AUTH_HEADER
// put the key in the named header (raw), and the agent's copy of that
// header is removed.
func TestCustomAuthHeaders(t *testing.T) {
	rec := &recorder{}
	r := newRig(t, rec, func(c *Config) {
		c.Auth.Headers["openai"] = "X-Gateway-Key"
		c.Auth.Headers["anthropic"] = "Ocp-Apim-Subscription-Key"
	})
	r.do("openai", "POST", "/v1/chat/completions", strings.NewReader(`{}`), map[string]string{"X-Gateway-Key": "agent-value"})
	got := rec.last(t)
	want(t, got.Header.Get("X-Gateway-Key"), testKeys["openai"])
	want(t, got.Header.Get("Authorization"), "")
	r.do("anthropic", "POST", "/v1/messages", strings.NewReader(`{}`), map[string]string{"Ocp-Apim-Subscription-Key": "agent-value"})
	got = rec.last(t)
	want(t, got.Header.Get("Ocp-Apim-Subscription-Key"), testKeys["anthropic"])
	want(t, got.Header.Get("X-Api-Key"), "")
	want(t, got.Header.Get("Anthropic-Version"), "2023-06-01")

	env := map[string]string{"AWF_OPENAI_AUTH_HEADER": "x-gateway-key", "AWF_ANTHROPIC_AUTH_HEADER": "bad header"}
	cfg := FromEnv(func(k string) string { return env[k] })
	want(t, cfg.Auth.Headers["openai"], "X-Gateway-Key")
	want(t, cfg.Auth.Headers["anthropic"], "")
	if !strings.Contains(strings.Join(cfg.Warnings, "\n"), "Invalid AWF_ANTHROPIC_AUTH_HEADER value") {
		t.Errorf("warnings %q", cfg.Warnings)
	}
}

// TestVertexProvider: port 10004 injects GOOGLE_API_KEY as x-goog-api-key
// toward aiplatform.googleapis.com, for JSON and streaming calls with
// usage recorded; without the key it binds and answers 503 with what to set.
func TestVertexProvider(t *testing.T) {
	cloud := fakecloud.Start(t, 0)
	_ = cloud
	key := "AIzaREAL-vertex-key-9876543210zyxwvu"
	r := newEnvRig(t, map[string]string{"GOOGLE_API_KEY": key})
	path := "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-pro"
	resp, body := r.do("vertex", "POST", path+":generateContent", strings.NewReader(`{}`), map[string]string{"X-Goog-Api-Key": "placeholder"})
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	resp, body = r.do("vertex", "POST", path+":streamGenerateContent?alt=sse", strings.NewReader(`{}`), nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "usageMetadata") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	seen := cloud.Seen()
	if len(seen) != 2 || seen[0].Get("X-Goog-Api-Key") != key {
		t.Fatalf("upstream headers %v", seen)
	}
	r.stop()
	recs, _ := os.ReadFile(r.tokens)
	if bytes.Count(recs, []byte(`"provider":"vertex"`)) != 2 || !bytes.Contains(recs, []byte(`"model":"gemini-2.5-pro"`)) {
		t.Errorf("token records:\n%s", recs)
	}
	if strings.Contains(r.logs.String(), key) || bytes.Contains(recs, []byte(key)) {
		t.Error("vertex key in logs")
	}

	r2 := newEnvRig(t, map[string]string{})
	resp, body = r2.do("vertex", "POST", path+":generateContent", strings.NewReader(`{}`), nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "Vertex AI proxy not configured (no GOOGLE_API_KEY)") {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
	resp, body = r2.do("vertex", "GET", "/health", nil, nil)
	if resp.StatusCode != 503 || !strings.Contains(body, "GOOGLE_API_KEY not configured in api-proxy sidecar") {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
	_, refl := r2.do("openai", "GET", "/reflect", nil, nil)
	if !strings.Contains(refl, `"provider":"vertex","port":10004`) {
		t.Errorf("/reflect lacks vertex: %s", refl)
	}
}

// TestVertexModelPolicy: the model in a Vertex method path is subject to
// the model policy like Gemini's (a disallowed model never goes upstream).
func TestVertexModelPolicy(t *testing.T) {
	cloud := fakecloud.Start(t, 0)
	r := newEnvRig(t, map[string]string{"GOOGLE_API_KEY": "AIza-vertex-policy-key-000000000", "AWF_DISALLOWED_MODELS": `["gemini-2.5-pro"]`})
	path := "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent"
	resp, body := r.do("vertex", "POST", path, strings.NewReader(`{}`), nil)
	if resp.StatusCode/100 != 4 || len(cloud.Seen()) != 0 {
		t.Errorf("disallowed vertex model: %d %s (upstream saw %d)", resp.StatusCode, body, len(cloud.Seen()))
	}
	resp, _ = r.do("vertex", "POST", strings.Replace(path, "gemini-2.5-pro", "gemini-2.5-flash", 1), strings.NewReader(`{}`), nil)
	if resp.StatusCode != 200 {
		t.Errorf("allowed vertex model: %d", resp.StatusCode)
	}
}

func TestBedrockPathModel(t *testing.T) {
	for path, want := range map[string]string{
		"/model/anthropic.claude-sonnet-4-20250514-v1%3A0/converse": "anthropic.claude-sonnet-4-20250514-v1:0",
		"/model/us.amazon.nova-pro-v1:0/converse-stream":            "us.amazon.nova-pro-v1:0",
		"/model/m/invoke-with-response-stream":                      "m",
		"/model/m/other":                                            "",
		"/v1/chat/completions":                                      "",
	} {
		if got := bedrockPathModel(path); got != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
}

// TestBedrockModelPolicy: a disallowed model named in a Bedrock path never
// reaches the upstream (and so is not signed).
func TestBedrockModelPolicy(t *testing.T) {
	cloud := fakecloud.Start(t, time.Hour)
	env := oidcEnv("aws", "AWF_AUTH_AWS_ROLE_ARN", "arn:aws:iam::1:role/r", "AWF_AUTH_AWS_REGION", "us-east-1")
	env["AWF_DISALLOWED_MODELS"] = `["anthropic.claude-opus-*"]`
	r := newEnvRig(t, env)
	resp, body := r.do("openai", "POST", "/model/anthropic.claude-opus-4-v1:0/converse", strings.NewReader(`{"messages":[]}`), nil)
	if resp.StatusCode/100 != 4 || len(cloud.Seen()) != 0 {
		t.Errorf("disallowed Bedrock model: %d %s (upstream saw %d)", resp.StatusCode, body, len(cloud.Seen()))
	}
	resp, body = r.do("openai", "POST", "/model/anthropic.claude-sonnet-4-v1:0/converse", strings.NewReader(`{"messages":[]}`), nil)
	if resp.StatusCode != 200 {
		t.Errorf("allowed Bedrock model: %d %s", resp.StatusCode, body)
	}
}
