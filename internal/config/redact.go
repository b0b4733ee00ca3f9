package config

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Redacted is the placeholder written instead of a secret value.
const Redacted = "[REDACTED]"

var secretName = regexp.MustCompile(`(?i)KEY|TOKEN|SECRET|PASSWORD|CREDENTIALS?|_B64|_PAT|_AUTH|PRIVATE_KEY`)

// SecretName reports whether an environment variable's name marks its value
// as secret (the original's compose redaction rule).
func SecretName(name string) bool { return secretName.MatchString(name) }

// No environment value is ever written to an artifact or a log: a name
// cannot tell a secret from a plain value (DATABASE_URL holds a password),
// and artifacts outlive the run. A value becomes HashedPrefix plus 12 hex
// digits of an HMAC keyed with a random salt that lives only in this
// process (one awf process is one run): equal values can be told apart
// within a run, but no value can be recovered or confirmed by guessing.
// Secret-looking names and values holding an API key get Redacted instead,
// so they cannot even be compared.
const HashedPrefix = "hmac:"

var runSalt = sync.OnceValue(func() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("config: no randomness for the redaction salt: " + err.Error())
	}
	return b
})

// HideValue returns what an artifact shows for an environment value.
func HideValue(v string) string {
	if v == "" {
		return ""
	}
	m := hmac.New(sha256.New, runSalt())
	m.Write([]byte(v))
	return HashedPrefix + hex.EncodeToString(m.Sum(nil))[:12]
}

// RedactEnv copies env with every value hidden: Redacted for secret-looking
// names and any value that contains one of the given secrets, HideValue's
// hash for the rest.
func RedactEnv(env map[string]string, secrets []string) map[string]string {
	out := make(map[string]string, len(env))
	for k, v := range env {
		out[k] = redactValue(k, v, secrets)
	}
	return out
}

func redactValue(name, v string, secrets []string) string {
	if SecretName(name) || containsAny(v, secrets) {
		return Redacted
	}
	return HideValue(v)
}

// minHiddenInText is the shortest environment value that is also hidden
// where it occurs in free text (the command): shorter ones ("1", "true")
// would mangle the text without protecting anything.
const minHiddenInText = 6

// HideValuesIn replaces each occurrence in s of the given values (those
// at least minHiddenInText long) by what an artifact shows for them.
func HideValuesIn(s string, values []string) string {
	vs := append([]string(nil), values...)
	sort.Slice(vs, func(i, j int) bool { return len(vs[i]) > len(vs[j]) }) // longest first
	for _, v := range vs {
		if len(v) >= minHiddenInText && strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, HideValue(v))
		}
	}
	return s
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
// audit file. Keys never appear; no environment value appears either (see
// HideValue): `-e`/`--env-file` entries show as NAME=<hash> or
// NAME=[REDACTED]; the command goes through RedactSecrets and has the
// values of those variables hidden too.
func (c *Config) Redacted() map[string]any {
	secrets := c.APIProxy.Keys.Values()
	red := func(vars []EnvVar) []string {
		out := make([]string, 0, len(vars))
		for _, v := range vars {
			out = append(out, v.Name+"="+redactValue(v.Name, v.Value, secrets))
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
	cmd = HideValuesIn(cmd, c.SuppliedEnvValues())
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
				"vertex":    c.APIProxy.Keys.Google != "",
			},
			"keylessAuth": c.APIProxy.Keys.Keyless, // github-oidc provider, "" = none (providers.go)
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

// SuppliedEnvValues lists the values given with -e and --env-file.
// Artifacts hide them wherever they occur (HideValuesIn), the command
// included. (The host's other values are not hunted for in the command:
// PATH or SHELL would mangle it, and real keys are removed already.)
func (c *Config) SuppliedEnvValues() []string {
	var out []string
	for _, vars := range [][]EnvVar{c.Env.Extra, c.Env.FileVars} {
		for _, v := range vars {
			out = append(out, v.Value)
		}
	}
	return out
}
