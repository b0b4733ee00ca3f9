package apiproxy

import "net/http"

// Provider is one row of the provider table: everything that differs between
// the providers is data here, so there is a single handler for all of them.
// How each request is authenticated (static key, custom header, Copilot's
// prefix rule, OIDC tokens, SigV4) is decided in auth.go from the row and
// the configuration.
type Provider struct {
	Name        string   // label in logs, metrics, token records and rate limits
	Port        int      // listener port (the sidecar's fixed port map)
	KeyEnvs     []string // environment variables holding the key; the first non-empty wins
	TargetEnv   string   // environment override of the upstream host
	Target      string   // default upstream host
	BasePathEnv string   // environment override of the upstream path prefix ("" = none)
	// Every port binds, configured or not (as the original's alwaysBind):
	// an unconfigured one answers NoKeyStatus with NoKeyError, in the shape
	// NoKeyKind names, so the agent learns what to set instead of getting
	// "connection refused".
	NoKeyKind   string // kindPlain: {"error": msg}; kindNotConfigured: {"error":{type: provider_not_configured, ...}}
	NoKeyStatus int
	NoKeyError  string
	// HealthError is /health's error for an unconfigured provider (503).
	// "" means /health answers 200 without a key (the management port).
	HealthError string
	// AuthHeaderEnv names the variable that replaces the default credential
	// header (AWF_OPENAI_AUTH_HEADER, AWF_ANTHROPIC_AUTH_HEADER).
	AuthHeaderEnv string
	// inject sets the static credential on the outbound request. It runs after
	// every client-supplied credential header has been removed.
	inject func(h http.Header, key string)
}

// Response shapes of an unconfigured provider.
const (
	kindPlain         = "plain_error"
	kindNotConfigured = "provider_not_configured"
)

// HealthService is the service name reported by the provider's /health,
// as the original's (awf-api-proxy-<provider>).
func (p *Provider) HealthService() string { return "awf-api-proxy-" + p.Name }

func bearer(h http.Header, key string) { h.Set("Authorization", "Bearer "+key) }

func googKey(h http.Header, key string) { h.Set("X-Goog-Api-Key", key) }

// Providers is the provider table, in port order: the original's port map
// (containers/api-proxy/providers, 10000-10004).
var Providers = []*Provider{
	{
		Name: "openai", Port: 10000,
		KeyEnvs:   []string{"OPENAI_API_KEY"},
		TargetEnv: "OPENAI_API_TARGET", Target: "api.openai.com",
		BasePathEnv: "OPENAI_API_BASE_PATH", AuthHeaderEnv: "AWF_OPENAI_AUTH_HEADER",
		NoKeyKind: kindPlain, NoKeyStatus: http.StatusNotFound,
		NoKeyError: "OpenAI proxy not configured (no OPENAI_API_KEY/COPILOT_PROVIDER_API_KEY or OIDC auth)",
		inject:     bearer,
	},
	{
		Name: "anthropic", Port: 10001,
		KeyEnvs:   []string{"ANTHROPIC_API_KEY"},
		TargetEnv: "ANTHROPIC_API_TARGET", Target: "api.anthropic.com",
		BasePathEnv: "ANTHROPIC_API_BASE_PATH", AuthHeaderEnv: "AWF_ANTHROPIC_AUTH_HEADER",
		NoKeyKind: kindNotConfigured, NoKeyStatus: http.StatusForbidden,
		NoKeyError:  "Credentials for Anthropic (port 10001) are not configured. Set ANTHROPIC_API_KEY to enable this provider.",
		HealthError: "ANTHROPIC_API_KEY not configured in api-proxy sidecar",
		inject: func(h http.Header, key string) {
			h.Set("X-Api-Key", key)
		},
	},
	{
		Name: "copilot", Port: 10002,
		KeyEnvs:   []string{"COPILOT_GITHUB_TOKEN", "COPILOT_API_KEY", "COPILOT_PROVIDER_API_KEY"},
		TargetEnv: "COPILOT_API_TARGET", Target: "api.githubcopilot.com",
		BasePathEnv: "COPILOT_API_BASE_PATH",
		NoKeyKind:   kindNotConfigured, NoKeyStatus: http.StatusForbidden,
		NoKeyError:  "Credentials for GitHub Copilot (port 10002) are not configured. Set COPILOT_GITHUB_TOKEN or COPILOT_PROVIDER_API_KEY to enable this provider.",
		HealthError: "COPILOT_GITHUB_TOKEN or COPILOT_PROVIDER_API_KEY not configured in api-proxy sidecar",
		inject:      bearer,
	},
	{
		Name: "gemini", Port: 10003,
		KeyEnvs:   []string{"GEMINI_API_KEY"},
		TargetEnv: "GEMINI_API_TARGET", Target: "generativelanguage.googleapis.com",
		BasePathEnv: "GEMINI_API_BASE_PATH",
		NoKeyKind:   kindPlain, NoKeyStatus: http.StatusServiceUnavailable,
		NoKeyError:  "Gemini proxy not configured (no GEMINI_API_KEY). Set GEMINI_API_KEY in the AWF runner environment to enable credential isolation.",
		HealthError: "GEMINI_API_KEY not configured in api-proxy sidecar",
		inject:      googKey,
	},
	{
		// Vertex AI (the Gemini CLI with GOOGLE_GENAI_USE_VERTEXAI=true and
		// GOOGLE_VERTEX_BASE_URL pointing here).
		Name: "vertex", Port: 10004,
		KeyEnvs:   []string{"GOOGLE_API_KEY"},
		TargetEnv: "VERTEX_API_TARGET", Target: "aiplatform.googleapis.com",
		BasePathEnv: "VERTEX_API_BASE_PATH",
		NoKeyKind:   kindPlain, NoKeyStatus: http.StatusServiceUnavailable,
		NoKeyError:  "Vertex AI proxy not configured (no GOOGLE_API_KEY). Set GOOGLE_API_KEY in the AWF runner environment to enable credential isolation.",
		HealthError: "GOOGLE_API_KEY not configured in api-proxy sidecar",
		inject:      googKey,
	},
}

// ManagementPort serves /health and /metrics besides the OpenAI API.
const ManagementPort = 10000

// strippedHeaders are removed from every client request before the real
// credential is injected: credentials the agent may hold, and headers that
// would tell the upstream about the sandbox or let the agent steer routing.
// Every X-Forwarded-* header is removed as well (see stripClientHeaders),
// and so is a custom auth header the configuration names (auth.go).
var strippedHeaders = []string{
	"Authorization", "X-Api-Key", "X-Goog-Api-Key", "Proxy-Authorization",
	"Forwarded", "Via", "Host", "Api-Key",
	// SigV4 headers: the agent must not pre-sign or smuggle a session token.
	"X-Amz-Security-Token", "X-Amz-Date", "X-Amz-Content-Sha256",
}
