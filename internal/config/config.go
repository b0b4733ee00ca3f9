// Package config turns the main command's flags and the host environment
// into one validated Config. Flag names, defaults and error messages follow
// the original awf so existing workflows keep working; see README.md for
// the places where we deliberately differ.
package config

import (
	"log/slog"
	"time"

	"github.com/awf-dev/awf/internal/hostaccess"
)

// Config is everything `awf [options] -- <command...>` was asked to do. It is
// plain data: nothing here touches the kernel.
type Config struct {
	// Command is the shell string the sandbox runs with `/bin/bash -c`.
	Command string

	// AllowDomains and BlockDomains are the raw entries (split, trimmed,
	// de-duplicated) from the flags, the files and the automatic additions.
	// Compiling them into a policy is the domains package's job.
	AllowDomains []string
	BlockDomains []string
	// AutoAdded lists the allowlist entries awf added on its own (API targets,
	// GHEC/GHES hosts), for logs and the audit manifest.
	AutoAdded []string
	// DNSServers is nil when the host's resolvers are to be detected at run time.
	DNSServers []string

	APIProxy APIProxy
	Env      EnvOptions
	// HostAccess and CLIProxy: host.docker.internal and the agent's gh (hostaccess.go).
	HostAccess hostaccess.Plan
	CLIProxy   CLIProxy
	Security   Security // strict by default (security.go)
	Extras     Extras   // session state, diagnostics, DoH, pids limit, rulesets (extras.go)

	// Inspect is TLS inspection and URL rules (inspect.go).
	Inspect Inspection

	Mounts           []Mount
	ContainerWorkdir string // "" means the invoking user's home
	MemoryLimit      string // normalised, e.g. "6g"
	MemoryLimitBytes int64
	MemoryLimitSet   bool // given explicitly: no writable cgroups is then an error (native/degrade.go)
	TTY              bool
	AgentTimeout     time.Duration // 0: none
	LogLevel         slog.Level
	KeepContainers   bool
	WorkDir          string
	// WorkDirGenerated: no --work-dir was given; WorkDir is the base name
	// the run makes unique (the runner creates it with a random suffix).
	WorkDirGenerated bool
	ProxyLogsDir     string
	AuditDir         string

	User Identity

	// GitHubPath holds the entries of the $GITHUB_PATH file in file order
	// (de-duplicated). Actions gives later lines priority, so they are
	// prepended to PATH last line first.
	GitHubPath []string
	// HostEnv is the environment awf was started with. It holds real keys:
	// never log or serialise it (Redacted leaves it out).
	HostEnv map[string]string
}

// APIProxy is the credential-injecting proxy's configuration.
type APIProxy struct {
	Enabled   bool
	Targets   Targets
	RateLimit RateLimit
	// GuardEnv are the api-proxy's guard variables (AWF_MAX_AI_CREDITS, ...)
	// from the guard flags (guards.go).
	GuardEnv map[string]string
	// ProviderEnv are the api-proxy's provider and auth variables (Vertex,
	// custom auth headers, OIDC, BYOK routing) from providers.go. Some hold
	// secrets (ACTIONS_ID_TOKEN_REQUEST_TOKEN, a secret base URL's host):
	// never log or serialise them.
	ProviderEnv map[string]string `json:"-"`
	// Keys are the real credentials, trimmed. They go to the api-proxy only.
	Keys Keys
}

// Targets holds the upstream hosts and path prefixes given by flag or
// environment. An empty target means the provider's default.
type Targets struct {
	OpenAI, Anthropic, Copilot, Gemini string
	OpenAIBasePath, AnthropicBasePath  string
	GeminiBasePath                     string
}

// Default upstream hosts, used when no target is given.
const (
	DefaultOpenAITarget    = "api.openai.com"
	DefaultAnthropicTarget = "api.anthropic.com"
	DefaultCopilotTarget   = "api.githubcopilot.com"
	DefaultGeminiTarget    = "generativelanguage.googleapis.com"
)

// Keys are the real API credentials read from the host environment.
type Keys struct {
	OpenAI             string
	Anthropic          string
	CopilotGitHubToken string
	CopilotAPIKey      string
	Gemini             string
	Google             string // GOOGLE_API_KEY (Vertex AI, port 10004)
	// Keyless is the GitHub Actions OIDC provider (azure, aws, gcp,
	// anthropic) when apiProxy.auth.type is github-oidc: the provider is
	// served without a key (providers.go). Not a secret.
	Keyless string
	// KeylessCopilot: the OIDC credential also serves Copilot's BYOK path
	// (a cloud provider, COPILOT_PROVIDER_BASE_URL set, no static Copilot
	// credential), so the command gets the BYOK contract.
	KeylessCopilot bool
}

// Any reports whether at least one key is present.
func (k Keys) Any() bool { return len(k.Values()) > 0 || k.Keyless != "" }

// Values returns the non-empty keys, for scrubbing them from anything the
// agent can see.
func (k Keys) Values() []string {
	var out []string
	for _, v := range []string{k.OpenAI, k.Anthropic, k.CopilotGitHubToken, k.CopilotAPIKey, k.Gemini, k.Google} {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Copilot reports whether either Copilot credential is present.
func (k Keys) Copilot() bool {
	return k.CopilotGitHubToken != "" || k.CopilotAPIKey != "" || k.KeylessCopilot
}

// RateLimit is the api-proxy's per-provider limiter. It is opt-in.
type RateLimit struct {
	Enabled bool
	RPM     int
	RPH     int
	BytesPM int
}

// Defaults applied to the limits not given once any limit flag is set.
const (
	DefaultRPM     = 600
	DefaultRPH     = 10000
	DefaultBytesPM = 52428800
)

// EnvOptions is how the agent's environment is to be assembled
// (internal/agentenv does the assembling).
type EnvOptions struct {
	Extra    []EnvVar // -e, in command-line order
	All      bool     // --env-all
	File     string   // --env-file
	FileVars []EnvVar // its parsed entries
	Exclude  []string // --exclude-env
}

// EnvVar is one NAME=value pair.
type EnvVar struct {
	Name, Value string
}

// Mount is one -v host:container[:mode].
type Mount struct {
	Host, Container string
	ReadOnly        bool
}

// Identity is the user the command runs as.
type Identity struct {
	UID, GID int
	Name     string // "" when the uid has no passwd entry
	Home     string
}

// Warning is a message for the user produced while building the Config
// (notices, deprecations, risky choices). Level says how to log it.
type Warning struct {
	Level slog.Level
	Msg   string
}
