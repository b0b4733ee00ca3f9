package apiproxy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
)

// auth.go decides how each outbound request is authenticated: the static
// key in the provider's header (or a configured custom header), Copilot's
// GitHub-token prefix rule and BYOK headers, or a credential obtained at
// run time (OIDC token exchange, AWS SigV4). The configuration it reads is
// AuthConfig (authconfig.go).

// DynamicCredential is a credential obtained at run time, such as an access
// token from a GitHub Actions OIDC exchange. Implementations cache and
// refresh it (internal/cloudauth).
type DynamicCredential interface {
	// Bearer returns a valid access token ("" for a signer).
	Bearer(ctx context.Context) (string, error)
	// AuthType names the scheme for /reflect and logs: "github-oidc/azure".
	AuthType() string
	// Hosts are the token endpoints the exchange calls, which the egress
	// proxy must admit for the api-proxy.
	Hosts() []string
}

// RequestSigner is a DynamicCredential that signs each request instead of
// carrying a token (AWS SigV4 for Bedrock). Sign sees the whole body.
type RequestSigner interface {
	DynamicCredential
	Sign(ctx context.Context, r *http.Request, body []byte) error
}

// ErrCredentialUnavailable wraps every failure to obtain a dynamic
// credential; the agent gets a retryable provider_not_configured error and
// the log the cause.
var ErrCredentialUnavailable = errors.New("credential unavailable")

// notConfigured answers for a provider without credentials, in the
// original's shapes: a plain {"error": msg} (OpenAI 404, Gemini/Vertex 503)
// or {"error": {type: provider_not_configured, ...}} (Anthropic, Copilot:
// 403; 503 and retryable when a dynamic credential is only late).
func (s *Server) notConfigured(w http.ResponseWriter, p *Provider, msg string, retryable bool) {
	if p.NoKeyKind == kindPlain && !retryable {
		writeJSON(w, p.NoKeyStatus, map[string]string{"error": msg})
		return
	}
	status := http.StatusForbidden
	if retryable {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"message": msg, "type": kindNotConfigured, "provider": p.Name, "port": p.Port, "retryable": retryable,
	}})
}

// credentialFor obtains the dynamic credential of p for this request, if p
// has one. ok=false means the agent has been answered.
func (s *Server) credentialFor(w http.ResponseWriter, r *http.Request, p *Provider, id string) (token string, ok bool) {
	dc := s.cfg.Auth.Dynamic[p.Name]
	if dc == nil || s.useStatic(p, r) {
		return "", true
	}
	tok, err := dc.Bearer(r.Context())
	if err != nil {
		// The cause (endpoint, HTTP status, the endpoint's error text) goes to
		// the log; the agent learns only that the exchange failed. Neither
		// ever carries a token: cloudauth builds its errors without them.
		s.log.Error("credential_unavailable", "request_id", id, "provider", p.Name, "auth_type", dc.AuthType(), "error", sanitize(err.Error()))
		s.notConfigured(w, p, oidcUnavailable(p, dc), true)
		return "", false
	}
	return tok, true
}

func oidcUnavailable(p *Provider, dc DynamicCredential) string {
	label := map[string]string{"openai": "OpenAI", "anthropic": "Anthropic", "copilot": "Copilot"}[p.Name]
	if label == "" {
		label = p.Name
	}
	return label + " OIDC token (" + dc.AuthType() + ") unavailable: the token exchange failed; retry shortly (the api-proxy log has the cause)"
}

// useStatic: Copilot's GET /models always uses the GitHub token when there
// is one, even when a dynamic credential serves inference.
func (s *Server) useStatic(p *Provider, r *http.Request) bool {
	return p.Name == "copilot" && s.cfg.Auth.Copilot.GitHubToken != "" && isModelsGet(r.Method, r.URL.Path)
}

func isModelsGet(method, path string) bool {
	return method == http.MethodGet && (path == "/models" || strings.HasPrefix(path, "/models/"))
}

// applyAuth sets the credential on the outbound request (after every client
// credential header was removed). token is a dynamic credential's access
// token ("" when the provider uses its static key or a signer).
func (s *Server) applyAuth(p *Provider, pr *httputil.ProxyRequest, token string) {
	a := &s.cfg.Auth
	h := pr.Out.Header
	if hn := a.Headers[p.Name]; hn != "" {
		h.Del(hn) // the agent's copy of a custom header is a credential too
	}
	key := s.cfg.Keys[p.Name]
	switch p.Name {
	case "openai":
		cred := key
		if token != "" {
			cred = token
		}
		if _, signed := a.Dynamic[p.Name].(RequestSigner); signed {
			return // signed in the transport (signer.go)
		}
		switch hn := a.Headers[p.Name]; {
		case hn != "":
			h.Set(hn, cred)
		case a.AzureBYOK && token == "":
			h.Set("Api-Key", cred)
		default:
			bearer(h, cred)
		}
	case "anthropic":
		if token != "" {
			bearer(h, token)
			h.Set("Anthropic-Beta", mergeBetas(pr.In.Header.Values("Anthropic-Beta"), anthropicOAuthBeta))
		} else if hn := a.Headers[p.Name]; hn != "" {
			h.Set(hn, key)
		} else {
			p.inject(h, key)
		}
		if h.Get("Anthropic-Version") == "" {
			h.Set("Anthropic-Version", "2023-06-01")
		}
	case "copilot":
		s.copilotAuth(pr, token)
	default:
		p.inject(h, key)
	}
}

// The Anthropic OAuth beta every request with a federated token carries.
const anthropicOAuthBeta = "oauth-2025-04-20"

// mergeBetas joins the client's anthropic-beta values with extra ones,
// without duplicates, in order.
func mergeBetas(client []string, extra ...string) string {
	var out []string
	seen := map[string]bool{}
	for _, v := range append(client, extra...) {
		for _, b := range strings.Split(v, ",") {
			if b = strings.TrimSpace(b); b != "" && !seen[b] {
				seen[b] = true
				out = append(out, b)
			}
		}
	}
	return strings.Join(out, ",")
}

// Copilot API versions the original pins for the auto-model endpoints when
// the client sends none (catalog targets only).
const (
	copilotAutoAPIVersion       = "2026-08-01"
	copilotLegacyAutoAPIVersion = "2025-07-16"
)

// copilotAuth: the GitHub token with the tenant's prefix ("token" for GHES
// and GHE Cloud data residency, "Bearer" for github.com), or the BYOK key
// (always Bearer, with the configured extra headers and session id), or a
// dynamic token; plus Copilot-Integration-Id.
func (s *Server) copilotAuth(pr *httputil.ProxyRequest, token string) {
	c := &s.cfg.Auth.Copilot
	h := pr.Out.Header
	in := pr.In
	switch {
	case c.GitHubToken != "" && isModelsGet(in.Method, in.URL.Path):
		h.Set("Authorization", c.TokenPrefix+" "+c.GitHubToken)
	case token != "":
		bearer(h, token)
	case c.BYOKKey != "":
		for k, v := range c.ExtraHeaders {
			h.Set(k, v)
		}
		if c.AzureBYOK {
			h.Set("Api-Key", c.BYOKKey)
		} else {
			bearer(h, c.BYOKKey)
		}
	default:
		h.Set("Authorization", c.TokenPrefix+" "+c.GitHubToken)
	}
	// Attribution and prompt-cache headers go to GitHub's Copilot hosts
	// only, never to a BYOK provider (as the original): the integration id
	// always, X-Initiator and X-Interaction-Id (one per run) unless the
	// client sent its own.
	if isCopilotHost(s.cfg.Targets["copilot"]) {
		h.Set("Copilot-Integration-Id", c.IntegrationID)
		if strings.TrimSpace(h.Get("X-Initiator")) == "" {
			h.Set("X-Initiator", "agent")
		}
		if strings.TrimSpace(h.Get("X-Interaction-Id")) == "" {
			h.Set("X-Interaction-Id", c.InteractionID)
		}
	}
	if in.Method == http.MethodPost && c.CatalogTarget && in.Header.Get("X-Github-Api-Version") == "" {
		switch in.URL.Path {
		case "/auto":
			h.Set("X-Github-Api-Version", copilotAutoAPIVersion)
		case "/models/session", "/models/session/intent":
			h.Set("X-Github-Api-Version", copilotLegacyAutoAPIVersion)
		}
	}
}

// isCopilotHost: githubcopilot.com and its subdomains.
func isCopilotHost(t string) bool {
	return t == "githubcopilot.com" || strings.HasSuffix(t, ".githubcopilot.com")
}

// AuthHosts are the hosts the dynamic credentials' exchanges call (token
// endpoints), for the egress proxy to admit for the api-proxy.
func (s *Server) AuthHosts() []string {
	var out []string
	for _, p := range Providers {
		if dc := s.cfg.Auth.Dynamic[p.Name]; dc != nil {
			out = append(out, dc.Hosts()...)
		}
	}
	return out
}

// authType is /reflect's auth_type of provider p.
func (c *Config) authType(p *Provider) string {
	if dc := c.Auth.Dynamic[p.Name]; dc != nil {
		return dc.AuthType()
	}
	if c.Auth.OIDCRequested[p.Name] != "" {
		return c.Auth.OIDCRequested[p.Name]
	}
	if c.Keys[p.Name] != "" {
		return "static-key"
	}
	return ""
}

// unconfigured answers a request to a provider without credentials: why
// OIDC could not be set up, if it was asked for, else what to set.
func (s *Server) unconfigured(w http.ResponseWriter, p *Provider) {
	msg := p.NoKeyError
	if prob := s.cfg.Auth.OIDCProblem[p.Name]; prob != "" {
		msg = prob
	}
	s.notConfigured(w, p, msg, false)
}

// healthError is /health's error of an unconfigured provider.
func (s *Server) healthError(p *Provider) string {
	if prob := s.cfg.Auth.OIDCProblem[p.Name]; prob != "" {
		return prob
	}
	return p.HealthError
}

// reflectAuthType is /reflect's auth_type: reported, as the original, for
// the providers with keyless auth (OpenAI, Anthropic).
func (c *Config) reflectAuthType(p *Provider) string {
	if p.Name != "openai" && p.Name != "anthropic" {
		return ""
	}
	if t := c.authType(p); t != "" {
		return t
	}
	return "static-key"
}

// bedrockPathModel is the model id of a Bedrock runtime path
// (/model/<id>/converse, converse-stream, invoke,
// invoke-with-response-stream), so model policy and pricing see it.
func bedrockPathModel(path string) string {
	rest, ok := strings.CutPrefix(path, "/model/")
	if !ok {
		return ""
	}
	id, op, ok := strings.Cut(rest, "/")
	switch op {
	case "converse", "converse-stream", "invoke", "invoke-with-response-stream":
	default:
		return ""
	}
	m, err := url.PathUnescape(id)
	if !ok || err != nil || m == "" {
		return ""
	}
	return m
}
