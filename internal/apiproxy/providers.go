package apiproxy

import "net/http"

// Provider is one row of the provider table: everything that differs between
// OpenAI, Anthropic, Copilot and Gemini is data here, so there is a single
// handler for all of them.
type Provider struct {
	Name        string   // label in logs, metrics, token records and rate limits
	Port        int      // listener port (the sidecar's fixed port map)
	KeyEnvs     []string // environment variables holding the key; the first non-empty wins
	TargetEnv   string   // environment override of the upstream host
	Target      string   // default upstream host
	BasePathEnv string   // environment override of the upstream path prefix ("" = none)
	// AlwaysListen keeps the listener up without a key, answering
	// NoKeyStatus/NoKeyError so the agent gets an actionable message.
	AlwaysListen bool
	NoKeyStatus  int
	NoKeyError   string
	// inject sets the real credential on the outbound request. It runs after
	// every client-supplied credential header has been removed.
	inject func(h http.Header, key string)
}

// HealthService is the service name reported by the provider's /health,
// as the original's (awf-api-proxy-<provider>).
func (p *Provider) HealthService() string { return "awf-api-proxy-" + p.Name }

func bearer(h http.Header, key string) { h.Set("Authorization", "Bearer "+key) }

// Providers is the provider table, in port order.
var Providers = []*Provider{
	{
		Name: "openai", Port: 10000,
		KeyEnvs:   []string{"OPENAI_API_KEY"},
		TargetEnv: "OPENAI_API_TARGET", Target: "api.openai.com",
		BasePathEnv:  "OPENAI_API_BASE_PATH",
		AlwaysListen: true, // it also serves /health and /metrics
		NoKeyStatus:  http.StatusNotFound,
		NoKeyError:   "OpenAI proxy not configured (no OPENAI_API_KEY)",
		inject:       bearer,
	},
	{
		Name: "anthropic", Port: 10001,
		KeyEnvs:   []string{"ANTHROPIC_API_KEY"},
		TargetEnv: "ANTHROPIC_API_TARGET", Target: "api.anthropic.com",
		BasePathEnv: "ANTHROPIC_API_BASE_PATH",
		inject: func(h http.Header, key string) {
			h.Set("X-Api-Key", key)
			if h.Get("Anthropic-Version") == "" {
				h.Set("Anthropic-Version", "2023-06-01")
			}
		},
	},
	{
		Name: "copilot", Port: 10002,
		KeyEnvs:   []string{"COPILOT_GITHUB_TOKEN", "COPILOT_API_KEY"},
		TargetEnv: "COPILOT_API_TARGET", Target: "api.githubcopilot.com",
		inject: bearer,
	},
	{
		Name: "gemini", Port: 10003,
		KeyEnvs:   []string{"GEMINI_API_KEY"},
		TargetEnv: "GEMINI_API_TARGET", Target: "generativelanguage.googleapis.com",
		BasePathEnv:  "GEMINI_API_BASE_PATH",
		AlwaysListen: true,
		NoKeyStatus:  http.StatusServiceUnavailable,
		NoKeyError:   "Gemini proxy not configured (no GEMINI_API_KEY). Set GEMINI_API_KEY in the AWF runner environment to enable credential isolation.",
		inject:       func(h http.Header, key string) { h.Set("X-Goog-Api-Key", key) },
	},
}

// ManagementPort serves /health and /metrics besides the OpenAI API.
const ManagementPort = 10000

// strippedHeaders are removed from every client request before the real
// credential is injected: credentials the agent may hold, and headers that
// would tell the upstream about the sandbox or let the agent steer routing.
// Every X-Forwarded-* header is removed as well (see stripClientHeaders).
var strippedHeaders = []string{
	"Authorization", "X-Api-Key", "X-Goog-Api-Key", "Proxy-Authorization",
	"Forwarded", "Via", "Host",
}
