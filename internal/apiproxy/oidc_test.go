package apiproxy

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/fakecloud"
	"github.com/awf-dev/awf/internal/testnet"
)

// newEnvRig is a rig built from exactly env (plus the forward proxy and
// token log), with no generic upstream.
func newEnvRig(t *testing.T, env map[string]string) *rig {
	t.Helper()
	testnet.Require(t)
	r := &rig{t: t, logs: &syncBuffer{}, urls: map[string]string{}}
	r.fwd = testnet.NewForwardProxy(t)
	dir := t.TempDir()
	env["HTTPS_PROXY"], env["AWF_TOKEN_LOG_DIR"] = r.fwd.URL, dir
	r.cfg = FromEnv(func(k string) string { return env[k] })
	r.cfg.ShutdownTimeout = 5 * time.Second
	r.tokens = filepath.Join(dir, "token-usage.jsonl")
	r.start()
	return r
}

func oidcEnv(provider string, kv ...string) map[string]string {
	env := map[string]string{
		"AWF_AUTH_TYPE": "github-oidc", "AWF_AUTH_PROVIDER": provider,
		"ACTIONS_ID_TOKEN_REQUEST_URL":   "https://" + fakecloud.IssuerHost + "/_apis/distributedtask/hubs/build/plans/p/jobs/j/idtoken?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": fakecloud.RequestToken,
	}
	for i := 0; i+1 < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	return env
}

// assertNoCloudSecret greps the api-proxy log, the token log and the given
// response bodies for every secret the fake cloud issued.
func assertNoCloudSecret(t *testing.T, r *rig, c *fakecloud.Cloud, bodies ...string) {
	t.Helper()
	tokens, _ := os.ReadFile(r.tokens)
	all := r.logs.String() + string(tokens) + strings.Join(bodies, "")
	for _, s := range c.Secrets() {
		if strings.Contains(all, s) {
			t.Errorf("secret %q leaked into logs, token log or a response", s)
		}
	}
}

// TestOIDCProvidersJSONAndStreaming: each keyless scheme completes a JSON
// and a streaming call against an upstream that accepts only the
// credential its fake token endpoint issued, in that cloud's shape; usage
// is recorded; no token reaches a log or the agent.
func TestOIDCProvidersJSONAndStreaming(t *testing.T) {
	cloud := fakecloud.Start(t, time.Hour)
	cases := []struct {
		name, provider, port, path, streamPath string
		env                                    map[string]string
		exchanges                              []string
		authType                               string
	}{
		{"azure", "openai", "openai", "/openai/v1/chat/completions", "/openai/v1/chat/completions",
			oidcEnv("azure", "AWF_AUTH_AZURE_TENANT_ID", "tenant-1", "AWF_AUTH_AZURE_CLIENT_ID", "client-1", "OPENAI_API_TARGET", fakecloud.AzureOAIHost),
			[]string{fakecloud.IssuerHost, fakecloud.AzureHost}, "github-oidc/azure"},
		{"aws-bedrock", "openai", "openai", "/model/anthropic.claude-sonnet-4/converse", "/model/anthropic.claude-sonnet-4/converse-stream",
			oidcEnv("aws", "AWF_AUTH_AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/awf", "AWF_AUTH_AWS_REGION", "us-east-1"),
			[]string{fakecloud.IssuerHost, fakecloud.STSHost}, "github-oidc/aws"},
		{"gcp-impersonation", "openai", "openai", "/v1/projects/p/locations/us-central1/endpoints/openapi/chat/completions", "/v1/projects/p/locations/us-central1/endpoints/openapi/chat/completions",
			oidcEnv("gcp", "AWF_AUTH_GCP_WORKLOAD_IDENTITY_PROVIDER", "projects/123/locations/global/workloadIdentityPools/gh/providers/gh",
				"AWF_AUTH_GCP_SERVICE_ACCOUNT", "awf@p.iam.gserviceaccount.com", "OPENAI_API_TARGET", fakecloud.VertexHost),
			[]string{fakecloud.IssuerHost, fakecloud.GCPSTSHost, fakecloud.IAMHost}, "github-oidc/gcp"},
		{"gcp-direct", "openai", "openai", "/v1/projects/p/locations/us-central1/endpoints/openapi/chat/completions", "/v1/projects/p/locations/us-central1/endpoints/openapi/chat/completions",
			oidcEnv("gcp", "AWF_AUTH_GCP_WORKLOAD_IDENTITY_PROVIDER", "projects/123/locations/global/workloadIdentityPools/gh/providers/gh", "OPENAI_API_TARGET", fakecloud.VertexHost),
			[]string{fakecloud.IssuerHost, fakecloud.GCPSTSHost}, "github-oidc/gcp"},
		{"anthropic-federation", "anthropic", "anthropic", "/v1/messages", "/v1/messages",
			oidcEnv("anthropic", "AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID", "fr_1", "AWF_AUTH_ANTHROPIC_ORGANIZATION_ID", "org_1", "AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID", "sa_1"),
			[]string{fakecloud.IssuerHost, fakecloud.AnthropicHost}, "github-oidc/anthropic"},
		{"copilot-byok-azure", "copilot", "copilot", "/chat/completions", "/chat/completions",
			oidcEnv("azure", "AWF_AUTH_AZURE_TENANT_ID", "tenant-1", "AWF_AUTH_AZURE_CLIENT_ID", "client-1",
				"COPILOT_PROVIDER_BASE_URL", "https://"+fakecloud.AzureOAIHost+"/openai/v1", "COPILOT_PROVIDER_TYPE", "azure"),
			[]string{fakecloud.IssuerHost, fakecloud.AzureHost}, "github-oidc/azure"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := map[string]int{}
			for _, h := range c.exchanges {
				before[h] = cloud.Calls(h)
			}
			r := newEnvRig(t, c.env)
			hostile := map[string]string{"Authorization": "Bearer placeholder", "X-Api-Key": "placeholder", "X-Amz-Security-Token": "agent-forged"}
			resp, body := r.do(c.port, "POST", c.path, strings.NewReader(`{"model":"m","messages":[]}`), hostile)
			if resp.StatusCode != 200 {
				t.Fatalf("JSON call: %d %s\nlog:\n%s", resp.StatusCode, body, r.logs.String())
			}
			resp, sbody := r.do(c.port, "POST", c.streamPath, strings.NewReader(`{"model":"m","stream":true}`), hostile)
			ct := resp.Header.Get("Content-Type")
			if resp.StatusCode != 200 || !strings.Contains(ct, "text/event-stream") && ct != "application/vnd.amazon.eventstream" {
				t.Fatalf("stream call: %d %s", resp.StatusCode, sbody)
			}
			for _, h := range c.exchanges {
				if n := cloud.Calls(h) - before[h]; n != 1 {
					t.Errorf("%s called %d times for two requests, want 1 (cached)", h, n)
				}
			}
			for _, h := range cloud.Seen() {
				if h.Get("X-Amz-Security-Token") == "agent-forged" {
					t.Error("agent's X-Amz-Security-Token reached the upstream")
				}
			}
			_, refl := r.do("openai", "GET", "/reflect", nil, nil)
			if c.provider != "copilot" && !strings.Contains(refl, `"auth_type":"`+c.authType+`"`) {
				t.Errorf("/reflect lacks auth_type %s: %s", c.authType, refl)
			}
			if err := r.stop(); err != nil {
				t.Fatal(err)
			}
			recs, _ := os.ReadFile(r.tokens)
			if n := bytes.Count(recs, []byte(`"provider":"`+c.provider+`"`)); n != 2 {
				t.Errorf("%d token records for %s, want 2:\n%s", n, c.provider, recs)
			}
			if bytes.Count(recs, []byte(`"input_tokens":11`)) != 2 || bytes.Count(recs, []byte(`"output_tokens":7`)) != 2 || bytes.Count(recs, []byte(`"streaming":true`)) != 1 {
				t.Errorf("usage not extracted:\n%s", recs)
			}
			assertNoCloudSecret(t, r, cloud, body, sbody, refl)
		})
	}
}

// TestOIDCRefreshBeforeExpiry: with 2-second tokens the credential is
// exchanged again before it expires, and no request in 3.5 s is refused by
// the upstream (which rejects expired tokens).
func TestOIDCRefreshBeforeExpiry(t *testing.T) {
	for _, c := range []struct {
		name, exchange string
		env            map[string]string
		path           string
	}{
		{"azure", fakecloud.AzureHost, oidcEnv("azure", "AWF_AUTH_AZURE_TENANT_ID", "t", "AWF_AUTH_AZURE_CLIENT_ID", "c", "OPENAI_API_TARGET", fakecloud.AzureOAIHost), "/openai/v1/chat/completions"},
		{"aws", fakecloud.STSHost, oidcEnv("aws", "AWF_AUTH_AWS_ROLE_ARN", "arn:aws:iam::1:role/r", "AWF_AUTH_AWS_REGION", "us-east-1"), "/model/m/converse"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cloud := fakecloud.Start(t, 2*time.Second)
			r := newEnvRig(t, c.env)
			deadline := time.Now().Add(3500 * time.Millisecond)
			n := 0
			for time.Now().Before(deadline) && n < 200 {
				resp, body := r.do("openai", "POST", c.path, strings.NewReader(`{"model":"m"}`), nil)
				if resp.StatusCode != 200 {
					t.Fatalf("request %d at %v: %d %s", n, time.Until(deadline), resp.StatusCode, body)
				}
				n++
				time.Sleep(50 * time.Millisecond)
			}
			if got := cloud.Calls(c.exchange); got < 2 || got > 5 {
				t.Errorf("%d exchanges in 3.5 s with 2 s tokens, want 2..5 (refresh at half-life, not per request)", got)
			}
			assertNoCloudSecret(t, r, cloud)
		})
	}
}

// TestOIDCExchangeFailure: a refused exchange gives the agent a clear,
// retryable JSON error and the log the cause (endpoint, status, the
// endpoint's error text), never a token.
func TestOIDCExchangeFailure(t *testing.T) {
	cloud := fakecloud.Start(t, time.Hour)
	cloud.Fail(fakecloud.AzureHost, 401)
	r := newEnvRig(t, oidcEnv("azure", "AWF_AUTH_AZURE_TENANT_ID", "t", "AWF_AUTH_AZURE_CLIENT_ID", "c", "OPENAI_API_TARGET", fakecloud.AzureOAIHost))
	resp, body := r.do("openai", "POST", "/openai/v1/chat/completions", strings.NewReader(`{}`), nil)
	var e struct {
		Error struct {
			Type      string
			Message   string
			Retryable bool
			Port      int
		}
	}
	json.Unmarshal([]byte(body), &e)
	if resp.StatusCode != 503 || e.Error.Type != "provider_not_configured" || !e.Error.Retryable || e.Error.Port != 10000 ||
		!strings.Contains(e.Error.Message, "github-oidc/azure") || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("agent got %d %s", resp.StatusCode, body)
	}
	logs := r.logs.String()
	for _, want := range []string{"credential_unavailable", "Azure token exchange failed: HTTP 401 from login.microsoftonline.com", "fake login.microsoftonline.com refuses"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(body, "login.microsoftonline.com") {
		t.Errorf("agent's error carries the cause: %s", body)
	}
	// Recovery: once the endpoint answers again, requests succeed (after
	// the retry delay).
	cloud.Fail(fakecloud.AzureHost, 0)
	ok := false
	for i := 0; i < 40 && !ok; i++ {
		time.Sleep(100 * time.Millisecond)
		resp, _ = r.do("openai", "POST", "/openai/v1/chat/completions", strings.NewReader(`{}`), nil)
		ok = resp.StatusCode == 200
	}
	if !ok {
		t.Error("no recovery after the token endpoint came back")
	}
	assertNoCloudSecret(t, r, cloud, body)
}

// TestOIDCMissingRequestToken: OIDC asked for without the Actions token
// variables: the port still binds and says what is missing.
func TestOIDCMissingRequestToken(t *testing.T) {
	env := oidcEnv("anthropic", "AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID", "fr", "AWF_AUTH_ANTHROPIC_ORGANIZATION_ID", "o", "AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID", "s")
	delete(env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	r := newEnvRig(t, env)
	resp, body := r.do("anthropic", "POST", "/v1/messages", strings.NewReader(`{}`), nil)
	if resp.StatusCode != 403 || !strings.Contains(body, "requires ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN (permissions: id-token: write)") {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
}
