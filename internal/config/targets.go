package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/awf-dev/awf/internal/apiproxy"
)

// resolvedTargets are the targets plus the notices their normalisation produced.
type resolvedTargets struct {
	Targets
	warnings []string
}

// targets takes each target from its flag, else from its environment
// variable, and reduces it to a host name.
func (f *Flags) targets(env map[string]string) (resolvedTargets, error) {
	var r resolvedTargets
	pick := func(flagVal, envName string) string {
		if flagVal != "" {
			return flagVal
		}
		return env[envName]
	}
	for _, t := range []struct {
		flag, envName, val string
		dst                *string
	}{
		{"openai-api-target", "OPENAI_API_TARGET", f.openaiTarget, &r.OpenAI},
		{"anthropic-api-target", "ANTHROPIC_API_TARGET", f.anthropicTarget, &r.Anthropic},
		{"copilot-api-target", "COPILOT_API_TARGET", f.copilotTarget, &r.Copilot},
		{"gemini-api-target", "GEMINI_API_TARGET", f.geminiTarget, &r.Gemini},
	} {
		raw := strings.TrimSpace(pick(t.val, t.envName))
		if raw == "" {
			continue
		}
		host, warning, err := apiproxy.NormalizeTarget(raw)
		if err != nil {
			return r, errorf("Invalid --%s (or %s): %v", t.flag, t.envName, err)
		}
		if warning != "" {
			r.warnings = append(r.warnings, warning)
		}
		*t.dst = host
	}
	r.OpenAIBasePath = apiproxy.NormalizeBasePath(pick(f.openaiBasePath, "OPENAI_API_BASE_PATH"))
	r.AnthropicBasePath = apiproxy.NormalizeBasePath(pick(f.anthropicBasePath, "ANTHROPIC_API_BASE_PATH"))
	r.GeminiBasePath = apiproxy.NormalizeBasePath(pick(f.geminiBasePath, "GEMINI_API_BASE_PATH"))
	return r, nil
}

// CopilotTarget is the Copilot upstream: the explicit one, else the one
// the api-proxy derives from GITHUB_SERVER_URL.
func CopilotTarget(explicit, githubServerURL string) string {
	if explicit != "" {
		return explicit
	}
	return apiproxy.CopilotTarget(githubServerURL)
}

func urlHost(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// absURLHost is the host of s only when s is an absolute URL with a host
// (scheme://host...), else "". ENGINE_API_TARGET is such a URL (gh-aw sets
// it from engine.api-target); the original ignores a value that is not one
// (`not-a-valid-url`) instead of opening it and the Copilot endpoints.
func absURLHost(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// AutoAllowed lists the allowlist entries awf adds by itself:
//   - each custom API target as https://<host> (the api-proxy reaches it over
//     HTTPS only, so plain HTTP to it is not opened; the original also adds
//     the bare host);
//   - for a GHEC tenant (GITHUB_SERVER_URL on *.ghe.com): the tenant, its
//     api., copilot-api. and copilot-telemetry-service. hosts, and a
//     *.ghe.com GITHUB_API_URL host;
//   - for GHES (ENGINE_API_TARGET): its host (for api.X also X) and the
//     enterprise Copilot endpoints.
func AutoAllowed(t Targets, env map[string]string) []string {
	var out []string
	if h := urlHost(env["GITHUB_SERVER_URL"]); strings.HasSuffix(h, ".ghe.com") {
		out = append(out, h, "api."+h, "copilot-api."+h, "copilot-telemetry-service."+h)
		if a := urlHost(env["GITHUB_API_URL"]); strings.HasSuffix(a, ".ghe.com") && a != "api.github.com" {
			out = append(out, a)
		}
	}
	if h := absURLHost(env["ENGINE_API_TARGET"]); h != "" {
		if base, ok := strings.CutPrefix(h, "api."); ok {
			out = append(out, base)
		}
		out = append(out, h, "api.githubcopilot.com", "api.enterprise.githubcopilot.com", "telemetry.enterprise.githubcopilot.com")
	}
	for _, h := range []string{t.Copilot, t.OpenAI, t.Anthropic, t.Gemini} {
		if h != "" {
			out = append(out, "https://"+h)
		}
	}
	return dedupe(out)
}

// ReadKeys reads the real API credentials from the host environment,
// trimmed; blank values count as absent.
func ReadKeys(env map[string]string) Keys {
	get := func(n string) string { return strings.TrimSpace(env[n]) }
	return Keys{
		OpenAI:             get("OPENAI_API_KEY"),
		Anthropic:          get("ANTHROPIC_API_KEY"),
		CopilotGitHubToken: get("COPILOT_GITHUB_TOKEN"),
		CopilotAPIKey:      byokKey(get("COPILOT_API_KEY"), get("COPILOT_PROVIDER_API_KEY")),
		Gemini:             get("GEMINI_API_KEY"),
		Google:             get("GOOGLE_API_KEY"),
	}
}

// byokKey is the Copilot BYOK key: COPILOT_API_KEY, else the original's
// COPILOT_PROVIDER_API_KEY unless it holds one of the placeholders gh-aw
// and awf put there (never a real key).
func byokKey(apiKey, providerKey string) string {
	if apiKey != "" {
		return apiKey
	}
	switch providerKey {
	case "ghu_" + strings.Repeat("a", 36), "dummy-byok-key-for-offline-mode", "placeholder-token-for-credential-isolation":
		return ""
	}
	return providerKey
}

func apiProxyNotices(k Keys, command string) []Warning {
	var w []Warning
	if !k.Any() {
		w = append(w,
			Warning{slog.LevelWarn, "⚠️  API proxy enabled but no API keys found in environment"},
			Warning{slog.LevelWarn, "   Set OPENAI_API_KEY, ANTHROPIC_API_KEY, COPILOT_GITHUB_TOKEN, COPILOT_API_KEY, or GEMINI_API_KEY to use the proxy"})
	}
	w = append(w, Warning{slog.LevelInfo, fmt.Sprintf("API proxy enabled: OpenAI=%t, Anthropic=%t, Copilot=%t, Gemini=%t",
		k.OpenAI != "", k.Anthropic != "", k.Copilot(), k.Gemini != "")})
	if k.Gemini == "" {
		// The agent always gets a Gemini placeholder; say so loudly only
		// when the command looks like it will use Gemini.
		lvl := slog.LevelDebug
		if strings.Contains(strings.ToLower(command), "gemini") {
			lvl = slog.LevelWarn
		}
		w = append(w,
			Warning{lvl, "⚠️  GEMINI_API_KEY is not set: the API proxy will answer Gemini requests with 503"},
			Warning{lvl, "   The command still gets GEMINI_API_BASE_URL and a placeholder GEMINI_API_KEY"},
			Warning{lvl, "   Export GEMINI_API_KEY in awf's environment (sudo --preserve-env=GEMINI_API_KEY) to use Gemini"})
	}
	return w
}

// copilotPATWarning: Copilot CLI 1.0.21 rejects classic PATs once a model
// is chosen, which otherwise fails deep inside the run.
func copilotPATWarning(c *Config, env map[string]string) []Warning {
	if !strings.HasPrefix(strings.TrimSpace(env["COPILOT_GITHUB_TOKEN"]), "ghp_") {
		return nil
	}
	model := false
	for _, v := range c.Env.Extra {
		model = model || v.Name == "COPILOT_MODEL"
	}
	for _, v := range c.Env.FileVars {
		model = model || v.Name == "COPILOT_MODEL"
	}
	if c.Env.All && env["COPILOT_MODEL"] != "" {
		model = true
	}
	if !model {
		return nil
	}
	return []Warning{
		{slog.LevelWarn, "⚠️  COPILOT_GITHUB_TOKEN is a classic personal access token (ghp_) and COPILOT_MODEL is set"},
		{slog.LevelWarn, "   Copilot CLI 1.0.21 and later reject classic PATs when a model is selected"},
		{slog.LevelWarn, "   Use a fine-grained personal access token with the Copilot Requests permission,"},
		{slog.LevelWarn, "   or unset COPILOT_MODEL to use the default model"},
	}
}
