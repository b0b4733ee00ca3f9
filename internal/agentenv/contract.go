// Package agentenv computes, as pure data, the environment of the sandboxed
// command and of the api-proxy from the host environment and the Config.
// It implements the contract of DESIGN.md and the api-proxy spec: with the
// API proxy on, the command sees base URLs and placeholders, never a key.
package agentenv

// Placeholders the command sees instead of real credentials. They never
// equal a real key (Build drops any variable that would).
const (
	// PlaceholderToken stands in for Copilot tokens and ANTHROPIC_AUTH_TOKEN.
	// The spec uses it for ANTHROPIC_AUTH_TOKEN; the original's code used
	// AnthropicPlaceholderLegacy there. No client checks the prefix, so
	// one value serves all providers.
	PlaceholderToken = "placeholder-token-for-credential-isolation"
	// AnthropicPlaceholderLegacy is the original's ANTHROPIC_AUTH_TOKEN and
	// get-claude-key.sh value. The pre-flight check accepts it too, so an
	// environment prepared by the original still passes.
	AnthropicPlaceholderLegacy = "sk-ant-placeholder-key-for-credential-isolation"
	// GeminiPlaceholder is always given when the API proxy is on, so the
	// Gemini CLI's auth check passes and the proxy answers 503 if no key.
	GeminiPlaceholder = "gemini-api-key-placeholder-for-credential-isolation"
)

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

// alwaysExcluded never pass through --env-all or --env-file: they describe
// the host session or are runner secrets.
var alwaysExcluded = []string{
	"PATH", "PWD", "OLDPWD", "SHLVL", "_", "SUDO_COMMAND", "SUDO_USER", "SUDO_UID", "SUDO_GID",
	"ACTIONS_RUNTIME_TOKEN", "ACTIONS_RESULTS_URL",
}

// keyNames are the credential variables the command never gets while the
// API proxy holds the keys (with --env-all, --env-file or -e alike).
var keyNames = []string{
	"OPENAI_API_KEY", "OPENAI_KEY", "CODEX_API_KEY", "ANTHROPIC_API_KEY", "CLAUDE_API_KEY", "GEMINI_API_KEY",
}

// defaultPassthrough are copied from the host without --env-all.
var defaultPassthrough = []string{
	"GITHUB_TOKEN", "GH_TOKEN", "GITHUB_PERSONAL_ACCESS_TOKEN",
	"XDG_CONFIG_HOME", "GITHUB_SERVER_URL", "GITHUB_API_URL",
	"ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
}

// keyPassthrough are copied without --env-all only when the API proxy is off.
var keyPassthrough = []string{
	"OPENAI_API_KEY", "CODEX_API_KEY", "ANTHROPIC_API_KEY", "COPILOT_GITHUB_TOKEN", "COPILOT_API_KEY",
}

// toolHomes are copied as AWF_<name> so the sandbox can put toolchains on PATH.
var toolHomes = []string{"GOROOT", "CARGO_HOME", "RUSTUP_HOME", "JAVA_HOME", "DOTNET_ROOT", "BUN_INSTALL"}

// StandardPath is used when the host has no PATH.
const StandardPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
