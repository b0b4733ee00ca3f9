package apiproxy

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/awf-dev/awf/internal/guards"
)

// Config is the sidecar's whole configuration. FromEnv builds it from the
// same environment variables as the original container, so the binary can
// replace that image unchanged.
type Config struct {
	Keys      map[string]string // provider name -> real key (trimmed); absent = not configured
	Targets   map[string]string // provider name -> upstream host
	BasePaths map[string]string // provider name -> path prefix ("" or "/x/y")

	Proxy       *url.URL // egress proxy for upstream connections; nil = direct
	ListenHost  string   // IP the listeners bind ("" = all addresses)
	TokenLogDir string   // token-usage.jsonl directory ("" = no token log)

	RateLimit RateLimitConfig
	Guards    guards.Config // AWF_MAX_AI_CREDITS, AWF_MAX_RUNS, AWF_ALLOWED_MODELS, ... (internal/guards)

	ShutdownTimeout time.Duration // how long SIGTERM waits for in-flight requests

	// RootCAs overrides the system trust store for upstream TLS (selftest
	// only). Verification is never turned off.
	RootCAs *x509.CertPool
	// DialProxy, if set, replaces the dialer used to reach Proxy (e.g. a unix
	// socket when awf runs the egress proxy in the same process).
	DialProxy func(network, addr string) (net.Conn, error)

	Warnings []string // configuration problems that did not stop start-up

	// SensitiveTarget is the OpenAI upstream taken from a secret
	// (--openai-base-url-env, AWF_SENSITIVE_OPENAI_TARGET as the original):
	// it and its base path never appear in a log line.
	SensitiveTarget string

	// Auth: custom headers, Copilot's prefix rule and BYOK, OIDC (auth.go).
	Auth AuthConfig

	// Hook, if set, follows each proxied request (hooks.go).
	Hook RequestHook
	// ReflectExtra, if set, adds top-level fields to /reflect.
	ReflectExtra func() map[string]any
}

// RateLimitConfig holds the per-provider limits.
type RateLimitConfig struct {
	Enabled bool
	RPM     int64 // requests per minute
	RPH     int64 // requests per hour
	BytesPM int64 // request bytes per minute
}

// Defaults of the original sidecar.
const (
	DefaultRPM             = 600
	DefaultRPH             = 1000
	DefaultBytesPM         = 52428800
	DefaultTokenLogDir     = "/var/log/api-proxy"
	DefaultShutdownTimeout = 10 * time.Second
	MaxBodyBytes           = 10 * 1024 * 1024
)

// FromEnv reads the configuration from environment lookups.
func FromEnv(getenv func(string) string) *Config {
	c := &Config{
		Keys:            map[string]string{},
		Targets:         map[string]string{},
		BasePaths:       map[string]string{},
		TokenLogDir:     DefaultTokenLogDir,
		ShutdownTimeout: DefaultShutdownTimeout,
	}
	c.SensitiveTarget = strings.ToLower(strings.TrimSpace(getenv("AWF_SENSITIVE_OPENAI_TARGET")))
	for _, p := range Providers {
		for _, env := range p.KeyEnvs {
			if k := strings.TrimSpace(getenv(env)); k != "" {
				c.Keys[p.Name] = k
				break
			}
		}
		target := p.Target
		if p.Name == "copilot" {
			target = CopilotTarget(getenv("GITHUB_SERVER_URL"))
		}
		if v := strings.TrimSpace(getenv(p.TargetEnv)); v != "" {
			host, warn, err := NormalizeTarget(v)
			switch {
			case err != nil:
				c.Warnings = append(c.Warnings, fmt.Sprintf("%s: %v; using %s", p.TargetEnv, err, target))
			default:
				target = host
				if warn != "" {
					c.Warnings = append(c.Warnings, warn)
				}
			}
		}
		c.Targets[p.Name] = target
		if p.BasePathEnv != "" {
			c.BasePaths[p.Name] = NormalizeBasePath(getenv(p.BasePathEnv))
		}
	}
	for _, env := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
		if v := strings.TrimSpace(getenv(env)); v != "" {
			u, err := parseProxyURL(v)
			if err != nil {
				c.Warnings = append(c.Warnings, fmt.Sprintf("%s: %v; requests will go direct", env, err))
			} else {
				c.Proxy = u
			}
			break
		}
	}
	if v := getenv("AWF_TOKEN_LOG_DIR"); v != "" {
		c.TokenLogDir = v
	}
	c.ListenHost = strings.TrimSpace(getenv("AWF_API_PROXY_LISTEN"))
	if v := getenv("AWF_SHUTDOWN_TIMEOUT"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			c.ShutdownTimeout = d
		} else if s, err := strconv.Atoi(v); err == nil && s >= 0 {
			c.ShutdownTimeout = time.Duration(s) * time.Second
		}
	}
	c.RateLimit = RateLimitConfig{
		Enabled: getenv("AWF_RATE_LIMIT_ENABLED") == "true",
		RPM:     positive(getenv("AWF_RATE_LIMIT_RPM"), DefaultRPM),
		RPH:     positive(getenv("AWF_RATE_LIMIT_RPH"), DefaultRPH),
		BytesPM: positive(getenv("AWF_RATE_LIMIT_BYTES_PM"), DefaultBytesPM),
	}
	authFromEnv(getenv, c) // authconfig.go
	var gw []string
	c.Guards, gw = guards.FromEnv(getenv)
	c.Warnings = append(c.Warnings, gw...)
	return c
}

func positive(s string, def int64) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return def
	}
	return n
}

// NormalizeTarget reduces a host name or URL to a host name. The upstream is
// always https://<host>:443, so a path, query, port or credentials in the
// value are dropped with a warning rather than silently honoured.
func NormalizeTarget(v string) (host, warning string, err error) {
	raw := v
	if !strings.Contains(v, "://") {
		v = "https://" + v
	}
	u, perr := url.Parse(v)
	if perr != nil || u.Hostname() == "" {
		return "", "", fmt.Errorf("invalid API target %q: not a host name or URL", raw)
	}
	host = strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if !hostRe.MatchString(host) {
		return "", "", fmt.Errorf("invalid API target %q: not a valid host name", raw)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Port() != "" {
		warning = fmt.Sprintf("Ignoring unsupported API target URL components in %s; configure path prefixes via the corresponding *_API_BASE_PATH environment variable.", redactURL(u))
	}
	return host, warning, nil
}

var hostRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

// redactURL renders u without any password, which must not reach a log.
func redactURL(u *url.URL) string {
	if u.User == nil {
		return u.String()
	}
	c := *u
	c.User = url.User("[REDACTED]")
	return c.String()
}

// NormalizeBasePath trims, ensures a leading slash and drops a trailing one;
// "/" becomes "".
func NormalizeBasePath(p string) string {
	p = strings.TrimSpace(p)
	if p == "" {
		return ""
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return strings.TrimRight(p, "/")
}

// CopilotTarget derives the Copilot API host from GITHUB_SERVER_URL:
// github.com -> api.githubcopilot.com, X.ghe.com -> copilot-api.X.ghe.com,
// any other (GHES) host -> api.enterprise.githubcopilot.com.
func CopilotTarget(serverURL string) string {
	serverURL = strings.TrimSpace(serverURL)
	if serverURL == "" {
		return "api.githubcopilot.com"
	}
	if !strings.Contains(serverURL, "://") {
		serverURL = "https://" + serverURL
	}
	host := ""
	if u, err := url.Parse(serverURL); err == nil {
		host = strings.ToLower(u.Hostname())
	}
	switch {
	case host == "" || host == "github.com" || host == "www.github.com":
		return "api.githubcopilot.com"
	case strings.HasSuffix(host, ".ghe.com"):
		return "copilot-api." + host
	default:
		return "api.enterprise.githubcopilot.com"
	}
}

func parseProxyURL(v string) (*url.URL, error) {
	if !strings.Contains(v, "://") {
		v = "http://" + v
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("invalid proxy URL")
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("unsupported proxy scheme %q (only http:// CONNECT proxies)", u.Scheme)
	}
	return u, nil
}

// Enabled reports whether provider p has a key or a run-time credential.
func (c *Config) Enabled(p *Provider) bool {
	return c.Keys[p.Name] != "" || c.Auth.Dynamic[p.Name] != nil
}

// LogSecrets are the strings no log line may hold: the keys, and a
// secret-backed target with its base path.
func (c *Config) LogSecrets() []string {
	out := make([]string, 0, len(c.Keys)+2)
	for _, k := range c.Keys {
		out = append(out, k)
	}
	if t := c.SensitiveTarget; t != "" {
		out = append(out, t)
		if bp := c.BasePaths["openai"]; c.Targets["openai"] == t && len(strings.Trim(bp, "/")) > 2 && bp != "/v1" {
			out = append(out, bp)
		}
	}
	return out
}
