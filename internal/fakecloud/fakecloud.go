// Package fakecloud is the test network's keyless-auth world: a GitHub
// Actions OIDC issuer, the clouds' token endpoints (Azure AD, AWS STS, GCP
// STS and IAM Credentials, Anthropic federation) and provider upstreams
// that accept only the credentials those endpoints issued, in the shape
// each cloud wants (Bearer, SigV4 verified by recomputing the signature,
// x-goog-api-key), and reject them once expired. Each service is a real
// TLS server on its real host name inside the test network
// (testnet.Providers), so the code under test calls the documented URLs.
package fakecloud

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/sigv4"
	"github.com/awf-dev/awf/internal/testnet"
	"github.com/awf-dev/awf/internal/usage"
)

// Host names (all in testnet.Providers).
const (
	IssuerHost    = "token.actions.githubusercontent.com"
	AzureHost     = "login.microsoftonline.com"
	STSHost       = "sts.us-east-1.amazonaws.com"
	GCPSTSHost    = "sts.googleapis.com"
	IAMHost       = "iamcredentials.googleapis.com"
	BedrockHost   = "bedrock-runtime.us-east-1.amazonaws.com"
	VertexHost    = "aiplatform.googleapis.com"
	AzureOAIHost  = "myres.openai.azure.com"
	AnthropicHost = "api.anthropic.com"
	RequestToken  = "ghs_REAL-actions-id-token-request-0123456789"
)

// Cloud is the fake world. TTL is the lifetime of every issued token.
type Cloud struct {
	t   testing.TB
	TTL time.Duration

	mu       sync.Mutex
	n        int
	idTokens map[string]string    // issued ID token -> audience
	tokens   map[string]time.Time // issued access token -> expiry
	aws      map[string]awsCred   // access key id -> credentials
	fail     map[string]int       // endpoint -> status to answer
	calls    map[string]int       // endpoint -> calls
	seen     []http.Header        // upstream request headers
	Issued   []string             // every secret issued (for leak greps)
}

type awsCred struct {
	secret, session string
	exp             time.Time
}

// Start runs every service and returns the cloud.
func Start(t testing.TB, ttl time.Duration) *Cloud {
	c := &Cloud{t: t, TTL: ttl, idTokens: map[string]string{}, tokens: map[string]time.Time{}, aws: map[string]awsCred{}, fail: map[string]int{}, calls: map[string]int{}}
	for _, h := range []string{IssuerHost, AzureHost, STSHost, GCPSTSHost, IAMHost, BedrockHost, VertexHost, AzureOAIHost, AnthropicHost} {
		host := h
		testnet.NewUpstreamFor(t, host, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.serve(host, w, r) }))
	}
	return c
}

// RequestURL is the ACTIONS_ID_TOKEN_REQUEST_URL the issuer answers.
func (c *Cloud) RequestURL() string {
	return "https://" + IssuerHost + "/_apis/distributedtask/hubs/build/plans/p/jobs/j/idtoken?api-version=2.0"
}

// Fail makes endpoint (a host) answer status from now on (0: normal).
func (c *Cloud) Fail(host string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail[host] = status
}

// Calls is how often host was called.
func (c *Cloud) Calls(host string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[host]
}

// Seen returns the headers of the upstream requests so far.
func (c *Cloud) Seen() []http.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]http.Header(nil), c.seen...)
}

// Secrets lists every token issued so far.
func (c *Cloud) Secrets() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string{RequestToken}, c.Issued...)
}

func (c *Cloud) issue(prefix string) string {
	c.n++
	s := fmt.Sprintf("%s-%d-%d", prefix, c.n, time.Now().UnixNano())
	c.Issued = append(c.Issued, s)
	return s
}

func jsonOut(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (c *Cloud) serve(host string, w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	isExchange := host != BedrockHost && host != VertexHost && host != AzureOAIHost && !(host == AnthropicHost && r.URL.Path != "/v1/oauth/token")
	if isExchange {
		c.calls[host]++
		if st := c.fail[host]; st != 0 {
			jsonOut(w, st, map[string]any{"error": "invalid_grant", "error_description": "fake " + host + " refuses (test)"})
			return
		}
	}
	now := time.Now()
	switch {
	case host == IssuerHost:
		if r.Header.Get("Authorization") != "Bearer "+RequestToken || r.URL.Query().Get("api-version") != "2.0" {
			jsonOut(w, 401, map[string]string{"message": "bad request token"})
			return
		}
		aud := r.URL.Query().Get("audience")
		tok := c.issue("eyJhbGciOiJSUzI1NiJ9.id-token")
		c.idTokens[tok] = aud
		jsonOut(w, 200, map[string]string{"value": tok})
	case host == AzureHost:
		f, _ := url.ParseQuery(string(body))
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") || f.Get("grant_type") != "client_credentials" ||
			f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || f.Get("client_id") == "" ||
			c.idTokens[f.Get("client_assertion")] != "api://AzureADTokenExchange" || f.Get("scope") == "" {
			jsonOut(w, 400, map[string]string{"error": "invalid_client", "error_description": "AADSTS700016 assertion rejected"})
			return
		}
		tok := c.issue("azure-at")
		c.tokens[tok] = now.Add(c.TTL)
		jsonOut(w, 200, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(c.TTL.Seconds())})
	case host == STSHost:
		f, _ := url.ParseQuery(string(body))
		if r.Method != http.MethodPost || f.Get("Action") != "AssumeRoleWithWebIdentity" || f.Get("Version") != "2011-06-15" ||
			f.Get("RoleArn") == "" || f.Get("RoleSessionName") == "" || c.idTokens[f.Get("WebIdentityToken")] != "sts.amazonaws.com" {
			jsonOut(w, 400, map[string]any{"Error": map[string]string{"Code": "InvalidIdentityToken", "Message": "rejected"}})
			return
		}
		id := fmt.Sprintf("ASIAFAKE%08d", c.n)
		cr := awsCred{secret: c.issue("aws-secret"), session: c.issue("aws-session"), exp: now.Add(c.TTL)}
		c.aws[id] = cr
		jsonOut(w, 200, map[string]any{"AssumeRoleWithWebIdentityResponse": map[string]any{"AssumeRoleWithWebIdentityResult": map[string]any{
			"Credentials": map[string]any{"AccessKeyId": id, "SecretAccessKey": cr.secret, "SessionToken": cr.session, "Expiration": float64(cr.exp.Unix())}}}})
	case host == GCPSTSHost:
		var m map[string]string
		json.Unmarshal(body, &m)
		if r.URL.Path != "/v1/token" || m["grant_type"] != "urn:ietf:params:oauth:grant-type:token-exchange" || !strings.HasPrefix(m["audience"], "//iam.googleapis.com/projects/") ||
			m["subject_token_type"] != "urn:ietf:params:oauth:token-type:jwt" || c.idTokens[m["subject_token"]] == "" {
			jsonOut(w, 400, map[string]string{"error": "invalid_grant", "error_description": "subject token rejected"})
			return
		}
		tok := c.issue("gcp-federated")
		c.tokens[tok] = now.Add(c.TTL)
		jsonOut(w, 200, map[string]any{"access_token": tok, "expires_in": int(c.TTL.Seconds()), "token_type": "Bearer"})
	case host == IAMHost:
		fed := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if exp, ok := c.tokens[fed]; !ok || now.After(exp) || !strings.HasSuffix(r.URL.Path, ":generateAccessToken") || !strings.HasPrefix(fed, "gcp-federated") {
			jsonOut(w, 401, map[string]any{"error": map[string]any{"code": 401, "message": "federated token rejected", "status": "UNAUTHENTICATED"}})
			return
		}
		tok := c.issue("gcp-sa")
		c.tokens[tok] = now.Add(c.TTL)
		jsonOut(w, 200, map[string]any{"accessToken": tok, "expireTime": now.Add(c.TTL).UTC().Format(time.RFC3339Nano)})
	case host == AnthropicHost && r.URL.Path == "/v1/oauth/token":
		var m map[string]string
		json.Unmarshal(body, &m)
		if m["grant_type"] != "urn:ietf:params:oauth:grant-type:jwt-bearer" || c.idTokens[m["assertion"]] != "https://api.anthropic.com" ||
			m["federation_rule_id"] == "" || m["organization_id"] == "" || m["service_account_id"] == "" || !strings.Contains(r.Header.Get("Anthropic-Beta"), "oidc-federation") {
			jsonOut(w, 400, map[string]any{"type": "error", "error": map[string]string{"type": "invalid_request_error", "message": "assertion rejected"}})
			return
		}
		tok := c.issue("sk-ant-oat-fed")
		c.tokens[tok] = now.Add(c.TTL)
		jsonOut(w, 200, map[string]any{"access_token": tok, "expires_in": int(c.TTL.Seconds()), "token_type": "Bearer"})
	default:
		c.upstream(host, w, r, body, now)
	}
}

// upstream checks the credential shape of a provider request, then answers
// in the provider's JSON or SSE shape with usage.
func (c *Cloud) upstream(host string, w http.ResponseWriter, r *http.Request, body []byte, now time.Time) {
	c.seen = append(c.seen, r.Header.Clone())
	bearerOK := func(prefix string) bool {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		exp, ok := c.tokens[tok]
		return ok && strings.HasPrefix(tok, prefix) && now.Before(exp)
	}
	var ok bool
	switch host {
	case AzureOAIHost:
		ok = bearerOK("azure-at")
	case VertexHost:
		ok = bearerOK("gcp-") || r.Header.Get("X-Goog-Api-Key") != ""
	case AnthropicHost:
		ok = bearerOK("sk-ant-oat-fed") && strings.Contains(r.Header.Get("Anthropic-Beta"), "oauth-2025-04-20") && r.Header.Get("X-Api-Key") == ""
	case BedrockHost:
		ok = c.sigv4OK(r, body, now)
	}
	if !ok {
		jsonOut(w, 401, map[string]any{"error": map[string]string{"message": "credential rejected by fake " + host}})
		return
	}
	var req struct {
		Stream bool `json:"stream"`
	}
	json.Unmarshal(body, &req)
	stream := req.Stream || strings.Contains(r.URL.Path, "stream")
	switch {
	case host == BedrockHost && stream: // ConverseStream: AWS event-stream framing
		w.Header().Set("Content-Type", usage.MediaEventStream)
		w.WriteHeader(200)
		for _, e := range []struct{ typ, payload string }{
			{"messageStart", `{"role":"assistant"}`},
			{"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"hi"}}`},
			{"messageStop", `{"stopReason":"end_turn"}`},
			{"metadata", `{"usage":{"inputTokens":11,"outputTokens":7,"totalTokens":18},"metrics":{"latencyMs":5}}`},
		} {
			w.Write(usage.EncodeEventStreamMessage(map[string]string{":event-type": e.typ, ":message-type": "event", ":content-type": "application/json"}, []byte(e.payload)))
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
		}
	case host == BedrockHost && !stream:
		jsonOut(w, 200, map[string]any{"output": map[string]any{"message": map[string]any{"role": "assistant", "content": []any{map[string]string{"text": "hi"}}}},
			"stopReason": "end_turn", "usage": map[string]int{"inputTokens": 11, "outputTokens": 7, "totalTokens": 18}})
	case host == AnthropicHost && !stream:
		jsonOut(w, 200, map[string]any{"id": "msg_1", "type": "message", "model": "claude-sonnet-4", "content": []any{map[string]string{"type": "text", "text": "hi"}},
			"usage": map[string]int{"input_tokens": 11, "output_tokens": 7}})
	case host == AnthropicHost:
		sse(w, `event: message_start`+"\n"+`data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4","stop_reason":null,"usage":{"input_tokens":11,"output_tokens":1}}}`,
			`event: content_block_start`+"\n"+`data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
			`event: content_block_delta`+"\n"+`data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}`,
			`event: content_block_stop`+"\n"+`data: {"type":"content_block_stop","index":0}`,
			`event: message_delta`+"\n"+`data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":7}}`,
			`event: message_stop`+"\n"+`data: {"type":"message_stop"}`)
	case host == VertexHost && strings.Contains(r.URL.Path, ":streamGenerateContent"):
		sse(w, `data: {"candidates":[{"content":{"parts":[{"text":"hi"}]}}],"usageMetadata":{"promptTokenCount":11,"candidatesTokenCount":7},"modelVersion":"gemini-2.5-pro"}`)
	case host == VertexHost && strings.Contains(r.URL.Path, ":generateContent"):
		jsonOut(w, 200, map[string]any{"candidates": []any{}, "usageMetadata": map[string]int{"promptTokenCount": 11, "candidatesTokenCount": 7}, "modelVersion": "gemini-2.5-pro"})
	case stream:
		sse(w, `data: {"id":"c1","model":"gpt-4.1","choices":[{"delta":{"content":"hi"}}]}`,
			`data: {"id":"c1","model":"gpt-4.1","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7}}`, `data: [DONE]`)
	default:
		jsonOut(w, 200, map[string]any{"id": "c1", "object": "chat.completion", "model": "gpt-4.1",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]string{"role": "assistant", "content": "hi"}}},
			"usage":   map[string]int{"prompt_tokens": 11, "completion_tokens": 7}})
	}
}

func sse(w http.ResponseWriter, events ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	for _, e := range events {
		fmt.Fprintf(w, "%s\n\n", e)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
}

// sigv4OK verifies a Bedrock request's SigV4 signature by recomputing it
// with the secret the fake STS issued, and its session token and expiry.
func (c *Cloud) sigv4OK(r *http.Request, body []byte, now time.Time) bool {
	auth := r.Header.Get("Authorization")
	const pfx = "AWS4-HMAC-SHA256 Credential="
	if !strings.HasPrefix(auth, pfx) {
		return false
	}
	parts := strings.Split(strings.TrimPrefix(auth, pfx), ", ")
	if len(parts) != 3 {
		return false
	}
	scope := strings.Split(parts[0], "/")
	if len(scope) != 5 || scope[2] != "us-east-1" || scope[3] != "bedrock" {
		return false
	}
	cr, ok := c.aws[scope[0]]
	if !ok || now.After(cr.exp) || r.Header.Get("X-Amz-Security-Token") != cr.session {
		return false
	}
	if r.Header.Get("X-Amz-Content-Sha256") != sigv4.HashHex(body) {
		return false
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || now.Sub(at) > 5*time.Minute || at.Sub(now) > 5*time.Minute {
		return false
	}
	signed := strings.Split(strings.TrimPrefix(parts[1], "SignedHeaders="), ";")
	h := map[string][]string{}
	for _, n := range signed {
		if n == "host" {
			h[n] = []string{r.Host}
		} else {
			h[n] = r.Header.Values(n)
		}
	}
	sig, err := sigv4.Sign(sigv4.Request{Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Headers: h, Payload: body},
		sigv4.Credentials{AccessKeyID: scope[0], SecretAccessKey: cr.secret, SessionToken: cr.session}, "us-east-1", "bedrock", at)
	return err == nil && "Signature="+sig.Signature == parts[2]
}
