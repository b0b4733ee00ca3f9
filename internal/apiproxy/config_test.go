package apiproxy

import (
	"strings"
	"testing"
)

func TestFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	cases := []struct {
		name  string
		env   func(string) string
		check func(t *testing.T, c *Config)
	}{
		{"keys trimmed, copilot token wins", env("OPENAI_API_KEY", "  sk-1 \n", "COPILOT_API_KEY", "byok", "COPILOT_GITHUB_TOKEN", "ghu_x"), func(t *testing.T, c *Config) {
			want(t, c.Keys["openai"], "sk-1")
			want(t, c.Keys["copilot"], "ghu_x")
			if _, ok := c.Keys["anthropic"]; ok {
				t.Error("anthropic key set")
			}
		}},
		{"copilot byok alone", env("COPILOT_API_KEY", "byok"), func(t *testing.T, c *Config) { want(t, c.Keys["copilot"], "byok") }},
		{"defaults", env(), func(t *testing.T, c *Config) {
			want(t, c.Targets["openai"], "api.openai.com")
			want(t, c.Targets["anthropic"], "api.anthropic.com")
			want(t, c.Targets["copilot"], "api.githubcopilot.com")
			want(t, c.Targets["gemini"], "generativelanguage.googleapis.com")
			want(t, c.TokenLogDir, "/var/log/api-proxy")
			if c.Proxy != nil || c.RateLimit.Enabled || c.RateLimit.RPM != 600 || c.RateLimit.RPH != 1000 || c.RateLimit.BytesPM != 52428800 {
				t.Errorf("%+v %+v", c.Proxy, c.RateLimit)
			}
		}},
		{"target URL reduced to host with warning", env("OPENAI_API_TARGET", "https://llm.corp.example:8443/openai/v1?x=1"), func(t *testing.T, c *Config) {
			want(t, c.Targets["openai"], "llm.corp.example")
			if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "Ignoring unsupported API target URL components") {
				t.Errorf("warnings: %q", c.Warnings)
			}
		}},
		{"invalid target host keeps the default", env("OPENAI_API_TARGET", "bad_host"), func(t *testing.T, c *Config) {
			want(t, c.Targets["openai"], "api.openai.com")
			if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "not a valid host name") {
				t.Errorf("warnings: %q", c.Warnings)
			}
		}},
		{"plain host target, no warning", env("ANTHROPIC_API_TARGET", "Claude.Router.Example"), func(t *testing.T, c *Config) {
			want(t, c.Targets["anthropic"], "claude.router.example")
			if len(c.Warnings) != 0 {
				t.Errorf("warnings: %q", c.Warnings)
			}
		}},
		{"credentials in target never echoed", env("OPENAI_API_TARGET", "https://user:s3cret@h.example/x"), func(t *testing.T, c *Config) {
			if strings.Contains(strings.Join(c.Warnings, " "), "s3cret") {
				t.Errorf("warning leaks the password: %q", c.Warnings)
			}
		}},
		{"base paths", env("OPENAI_API_BASE_PATH", "serving-endpoints/", "GEMINI_API_BASE_PATH", "/", "ANTHROPIC_API_BASE_PATH", " /a/b "), func(t *testing.T, c *Config) {
			want(t, c.BasePaths["openai"], "/serving-endpoints")
			want(t, c.BasePaths["gemini"], "")
			want(t, c.BasePaths["anthropic"], "/a/b")
		}},
		{"ghec copilot", env("GITHUB_SERVER_URL", "https://acme.ghe.com"), func(t *testing.T, c *Config) { want(t, c.Targets["copilot"], "copilot-api.acme.ghe.com") }},
		{"ghes copilot", env("GITHUB_SERVER_URL", "https://github.corp.example"), func(t *testing.T, c *Config) {
			want(t, c.Targets["copilot"], "api.enterprise.githubcopilot.com")
		}},
		{"github.com copilot", env("GITHUB_SERVER_URL", "https://github.com"), func(t *testing.T, c *Config) { want(t, c.Targets["copilot"], "api.githubcopilot.com") }},
		{"explicit copilot target wins", env("GITHUB_SERVER_URL", "https://acme.ghe.com", "COPILOT_API_TARGET", "copilot.internal"), func(t *testing.T, c *Config) {
			want(t, c.Targets["copilot"], "copilot.internal")
		}},
		{"proxy precedence and rate limits", env("HTTP_PROXY", "http://a:1", "HTTPS_PROXY", "http://172.30.0.10:3128", "AWF_RATE_LIMIT_ENABLED", "true", "AWF_RATE_LIMIT_RPM", "-5", "AWF_RATE_LIMIT_RPH", "77"), func(t *testing.T, c *Config) {
			want(t, c.Proxy.String(), "http://172.30.0.10:3128")
			if !c.RateLimit.Enabled || c.RateLimit.RPM != 600 || c.RateLimit.RPH != 77 {
				t.Errorf("%+v", c.RateLimit)
			}
		}},
		{"rate limit only for exact true", env("AWF_RATE_LIMIT_ENABLED", "1"), func(t *testing.T, c *Config) {
			if c.RateLimit.Enabled {
				t.Error("enabled by 1")
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, FromEnv(tc.env)) })
	}
}

func TestRedactHelpers(t *testing.T) {
	want(t, redact("token sk-abc in text sk-abc", []string{"sk-abc", ""}), "token [REDACTED] in text [REDACTED]")
	want(t, sanitize("a\nb\x00c" + strings.Repeat("x", 300))[:3], "abc")
	if len(sanitize(strings.Repeat("x", 300))) != 200 {
		t.Error("not truncated")
	}
}
