// Package agentenv computes, as pure data, the environment of the sandboxed
// command and of the api-proxy from the host environment and the Config.
// It implements the contract of DESIGN.md and the api-proxy spec: with the
// API proxy on, the command sees base URLs and placeholders, never a key.
package agentenv

import (
	"slices"

	"github.com/awf-dev/awf/internal/config"
)

// Placeholders the command sees instead of real credentials: the
// original's values (src/constants/placeholders.ts and its credential
// builders). They never equal a real key (Build drops any variable that
// would), and each has the shape its clients check.
const (
	// AnthropicPlaceholder is ANTHROPIC_AUTH_TOKEN and what
	// get-claude-key.sh prints: sk-ant- so Claude Code's key check passes.
	AnthropicPlaceholder = "sk-ant-placeholder-key-for-credential-isolation"
	// CopilotPlaceholder is GitHub-token-shaped (ghu_ and 36 alphanumerics),
	// so the Copilot CLI's token checks pass.
	CopilotPlaceholder = "ghu_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	// OpenAIPlaceholder is OPENAI_API_KEY and CODEX_API_KEY: the openai SDK
	// throws and codex goes around OPENAI_BASE_URL without a key.
	OpenAIPlaceholder = "sk-placeholder-for-api-proxy"
	// GeminiPlaceholder is always given when the API proxy is on, so the
	// Gemini CLI's auth check passes and the proxy answers 503 if no key.
	GeminiPlaceholder = "gemini-api-key-placeholder-for-credential-isolation"
	// GooglePlaceholder is GOOGLE_API_KEY with a Vertex key on the host, so
	// the Gemini CLI's and @google/genai's Vertex (express mode) checks pass.
	GooglePlaceholder = "google-api-key-placeholder-for-credential-isolation"
)

// placeholderRule is one placeholder variable: its value and the host
// credential whose presence makes awf set it.
type placeholderRule struct {
	Name, Value string
	When        func(config.Keys) bool
}

var (
	always = func(config.Keys) bool { return true }
	// Keyless (GitHub Actions OIDC) serves OpenAI-compatible clouds on the
	// OpenAI port and Anthropic federation on the Anthropic port.
	hasOpenAI    = func(k config.Keys) bool { return k.OpenAI != "" || k.Keyless != "" && k.Keyless != "anthropic" }
	hasAnthropic = func(k config.Keys) bool { return k.Anthropic != "" || k.Keyless == "anthropic" }
	hasCopilot   = func(k config.Keys) bool { return k.Copilot() }
	hasCopilotGH = func(k config.Keys) bool { return k.CopilotGitHubToken != "" }
	hasGoogle    = func(k config.Keys) bool { return k.Google != "" }
	hasBYOK      = func(k config.Keys) bool { return k.CopilotAPIKey != "" || k.KeylessCopilot }
)

// placeholderRules is the table of placeholders, with the API proxy on.
var placeholderRules = []placeholderRule{
	{"ANTHROPIC_AUTH_TOKEN", AnthropicPlaceholder, hasAnthropic},
	{"COPILOT_TOKEN", CopilotPlaceholder, hasCopilot},
	{"COPILOT_GITHUB_TOKEN", CopilotPlaceholder, hasCopilotGH},
	{"COPILOT_API_KEY", CopilotPlaceholder, hasBYOK},
	{"COPILOT_PROVIDER_API_KEY", CopilotPlaceholder, hasBYOK},
	{"OPENAI_API_KEY", OpenAIPlaceholder, hasOpenAI},
	{"CODEX_API_KEY", OpenAIPlaceholder, hasOpenAI},
	{"GEMINI_API_KEY", GeminiPlaceholder, always},
	{"GOOGLE_API_KEY", GooglePlaceholder, hasGoogle},
}

// PlaceholderFor is the placeholder awf gives for a variable ("" if none).
func PlaceholderFor(name string) string {
	for _, r := range placeholderRules {
		if r.Name == name {
			return r.Value
		}
	}
	return ""
}

// Placeholders lists every distinct placeholder value, for checks that a
// command held nothing else.
func Placeholders() []string {
	var out []string
	for _, r := range placeholderRules {
		if !slices.Contains(out, r.Value) {
			out = append(out, r.Value)
		}
	}
	return out
}

// Default addresses, as in the original's network.
const (
	DefaultProxyIP    = "172.30.0.10"
	DefaultProxyPort  = 3128
	DefaultAPIProxyIP = "172.30.0.30"
)

// API proxy ports per provider.
const (
	PortOpenAI    = 10000
	PortAnthropic = 10001
	PortCopilot   = 10002
	PortGemini    = 10003
	PortVertex    = 10004
)

// ClaudeKeyHelperPath is where get-claude-key.sh exists inside the sandbox.
const ClaudeKeyHelperPath = "/usr/local/bin/get-claude-key.sh"

// GeminiSystemDefaultsPath is the Gemini CLI defaults file awf writes in the
// sandbox (root-owned, read-only: the CLI ignores a defaults file others can
// write). It selects the gemini-api-key auth type, so the CLI keeps the
// base URL and its non-interactive check passes.
const GeminiSystemDefaultsPath = "/.awf/gemini/system-defaults.json"

// GeminiSystemDefaults is that file's content.
const GeminiSystemDefaults = `{"security":{"auth":{"selectedType":"gemini-api-key"}}}` + "\n"

// OneShotTokens are the names the one-shot-token library protects, passed
// to the command as AWF_ONE_SHOT_TOKENS.
var OneShotTokens = []string{
	"COPILOT_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN", "GITHUB_API_TOKEN", "GITHUB_PAT",
	"GH_ACCESS_TOKEN", "OPENAI_API_KEY", "OPENAI_KEY", "ANTHROPIC_API_KEY", "CLAUDE_API_KEY",
	"CODEX_API_KEY", "COPILOT_API_KEY", "COPILOT_PROVIDER_API_KEY",
}

// alwaysExcluded never pass through --env-all, --env-file or the default
// list: they describe the host session or are runner secrets (the
// Actions OIDC request token lets its holder mint identity tokens).
var alwaysExcluded = []string{
	"PATH", "PWD", "OLDPWD", "SHLVL", "_", "SUDO_COMMAND", "SUDO_USER", "SUDO_UID", "SUDO_GID",
	"ACTIONS_RUNTIME_TOKEN", "ACTIONS_RESULTS_URL", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
}

// isolated are the credentials the command never gets from the host,
// whatever the route (--env-all, --env-file, -e, the default list), while
// the API proxy holds the keys: strict security, as the original's
// exclusion set since its fix 5eeaf428 (excluded-vars.ts). API keys stay in
// the API proxy; GitHub and runner tokens stay outside (they would otherwise
// be read from /proc/<pid>/environ by anything in the sandbox). awf's own
// placeholders and base URLs for some of these names are set afterwards.
var isolated = []string{
	"OPENAI_API_KEY", "OPENAI_KEY", "CODEX_API_KEY", "OPENAI_ENDPOINT_OVERRIDE",
	"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_API_KEY",
	"COPILOT_GITHUB_TOKEN", "COPILOT_API_KEY", "COPILOT_PROVIDER_API_KEY", "COPILOT_TOKEN",
	"GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GEMINI_API_BASE_URL", "GOOGLE_VERTEX_BASE_URL",
	"GITHUB_TOKEN", "GH_TOKEN", "GITHUB_PERSONAL_ACCESS_TOKEN", "GITHUB_API_TOKEN", "GITHUB_PAT", "GH_ACCESS_TOKEN",
	"ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
}

// defaultPassthrough are copied from the host without --env-all (the
// isolated ones only when the API proxy is off).
var defaultPassthrough = []string{
	"GITHUB_TOKEN", "GH_TOKEN", "GITHUB_PERSONAL_ACCESS_TOKEN",
	"XDG_CONFIG_HOME", "GITHUB_SERVER_URL", "GITHUB_API_URL",
}

// keyPassthrough are copied without --env-all only when the API proxy is off.
var keyPassthrough = []string{
	"OPENAI_API_KEY", "CODEX_API_KEY", "ANTHROPIC_API_KEY", "COPILOT_GITHUB_TOKEN", "COPILOT_API_KEY",
}

// toolHomes are copied as AWF_<name> so the sandbox can put toolchains on PATH.
var toolHomes = []string{"GOROOT", "CARGO_HOME", "RUSTUP_HOME", "JAVA_HOME", "DOTNET_ROOT", "BUN_INSTALL"}

// StandardPath is used when the host has no PATH.
const StandardPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
