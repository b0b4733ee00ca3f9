package config

import (
	"regexp"
	"sort"
	"strings"
)

// Redacted is the placeholder written instead of a secret value.
const Redacted = "[REDACTED]"

var secretName = regexp.MustCompile(`(?i)KEY|TOKEN|SECRET|PASSWORD|CREDENTIALS?|_B64|_PAT|_AUTH|PRIVATE_KEY`)

// SecretName reports whether an environment variable's name marks its value
// as secret (the original's compose redaction rule).
func SecretName(name string) bool { return secretName.MatchString(name) }

// RedactEnv copies env, replacing the values of secret-looking names and
// any value that contains one of the given secrets.
func RedactEnv(env map[string]string, secrets []string) map[string]string {
	out := make(map[string]string, len(env))
	for k, v := range env {
		if SecretName(k) || containsAny(v, secrets) {
			v = Redacted
		}
		out[k] = v
	}
	return out
}

func containsAny(v string, secrets []string) bool {
	for _, s := range secrets {
		if s != "" && strings.Contains(v, s) {
			return true
		}
	}
	return false
}

var (
	bearerRe = regexp.MustCompile(`(?i)(Authorization:\s*Bearer\s+)\S+`)
	authRe   = regexp.MustCompile(`(?i)(Authorization:\s*)(\S+)`)
	assignRe = regexp.MustCompile(`(?i)(\b[A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|KEY|AUTH)[A-Z0-9_]*=)("[^"]*"|'[^']*'|\S+)`)
	ghTokRe  = regexp.MustCompile(`gh[pousr]_[A-Za-z0-9]{36,255}`)
)

// RedactSecrets masks credentials in free text such as the command line
// before it is logged: Authorization header values, NAME=value where NAME
// contains TOKEN/SECRET/PASSWORD/KEY/AUTH, and GitHub tokens.
func RedactSecrets(s string) string {
	const mask = "***REDACTED***"
	s = bearerRe.ReplaceAllString(s, "${1}"+mask)
	s = authRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := authRe.FindStringSubmatch(m)
		if strings.EqualFold(sub[2], "bearer") || sub[2] == mask {
			return m
		}
		return sub[1] + mask
	})
	s = assignRe.ReplaceAllString(s, "${1}"+mask)
	return ghTokRe.ReplaceAllString(s, mask)
}

// Redacted returns the configuration as plain data for a debug dump or an
// audit file. Keys never appear; environment values of secret-looking
// names, and any value containing a key, become "[REDACTED]"; the command
// goes through RedactSecrets.
func (c *Config) Redacted() map[string]any {
	secrets := c.APIProxy.Keys.Values()
	red := func(vars []EnvVar) []string {
		out := make([]string, 0, len(vars))
		for _, v := range vars {
			val := v.Value
			if SecretName(v.Name) || containsAny(val, secrets) {
				val = Redacted
			}
			out = append(out, v.Name+"="+val)
		}
		return out
	}
	mounts := make([]string, 0, len(c.Mounts))
	for _, m := range c.Mounts {
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		mounts = append(mounts, m.Host+":"+m.Container+":"+mode)
	}
	exclude := append([]string(nil), c.Env.Exclude...)
	sort.Strings(exclude)
	cmd := RedactSecrets(c.Command)
	for _, s := range secrets {
		cmd = strings.ReplaceAll(cmd, s, Redacted)
	}
	t := c.APIProxy.Targets
	return map[string]any{
		"command":          cmd,
		"allowDomains":     append([]string{}, c.AllowDomains...),
		"blockDomains":     append([]string{}, c.BlockDomains...),
		"autoAddedDomains": append([]string{}, c.AutoAdded...),
		"dnsServers":       append([]string{}, c.DNSServers...),
		"apiProxy": map[string]any{
			"enabled": c.APIProxy.Enabled,
			"providers": map[string]bool{
				"openai":    c.APIProxy.Keys.OpenAI != "",
				"anthropic": c.APIProxy.Keys.Anthropic != "",
				"copilot":   c.APIProxy.Keys.Copilot(),
				"gemini":    c.APIProxy.Keys.Gemini != "",
			},
			"targets": map[string]string{
				"openai": t.OpenAI, "anthropic": t.Anthropic, "copilot": t.Copilot, "gemini": t.Gemini,
				"openaiBasePath": t.OpenAIBasePath, "anthropicBasePath": t.AnthropicBasePath, "geminiBasePath": t.GeminiBasePath,
			},
			"rateLimit": map[string]any{
				"enabled": c.APIProxy.RateLimit.Enabled, "rpm": c.APIProxy.RateLimit.RPM,
				"rph": c.APIProxy.RateLimit.RPH, "bytesPm": c.APIProxy.RateLimit.BytesPM,
			},
		},
		"env": map[string]any{
			"extra":    red(c.Env.Extra),
			"all":      c.Env.All,
			"file":     c.Env.File,
			"fileVars": red(c.Env.FileVars),
			"exclude":  exclude,
		},
		"mounts":           mounts,
		"containerWorkdir": c.ContainerWorkdir,
		"memoryLimit":      c.MemoryLimit,
		"tty":              c.TTY,
		"agentTimeout":     c.AgentTimeout.String(),
		"logLevel":         strings.ToLower(c.LogLevel.String()),
		"keepContainers":   c.KeepContainers,
		"workDir":          c.WorkDir,
		"proxyLogsDir":     c.ProxyLogsDir,
		"auditDir":         c.AuditDir,
		"user": map[string]any{
			"uid": c.User.UID, "gid": c.User.GID, "name": c.User.Name, "home": c.User.Home,
		},
	}
}
