package config

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/spf13/pflag"

	"github.com/awf-dev/awf/internal/guards"
)

// apiProxy.hostedWeb (gh-aw v0.28.31): per engine, whether the provider's
// hosted web tools (web search/fetch run on the provider's side, outside
// the egress allowlist) may be used. The config loader sets the hidden
// --hosted-web flag with the object as JSON; build passes it to the
// api-proxy as AWF_HOSTED_WEB (internal/guards/hostedweb.go enforces it).
// flags.go only registers and calls this.

type hostedWebFlags struct{ json string }

func (h *hostedWebFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&h.json, "hosted-web", "", `apiProxy.hostedWeb: JSON {"<engine>": {"enabled": bool}} (claude, codex, openai, copilot, gemini); enabled=false refuses that engine's provider-hosted web tools`)
	fs.MarkHidden("hosted-web")
}

// build validates the flag and puts it among the api-proxy's guard
// variables (the API proxy is always on). Unknown engines are reported by
// the api-proxy at start-up, once.
func (h *hostedWebFlags) build(c *Config) ([]Warning, error) {
	v := strings.TrimSpace(h.json)
	if v == "" {
		return nil, nil
	}
	if _, _, err := guards.ParseHostedWeb(v); err != nil {
		return nil, errorf("Error: Invalid apiProxy.hostedWeb value (%v); expected {\"<engine>\": {\"enabled\": bool}}", err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(v)); err != nil {
		return nil, errorf("Error: Invalid apiProxy.hostedWeb value (%v)", err)
	}
	if c.APIProxy.GuardEnv == nil {
		c.APIProxy.GuardEnv = map[string]string{}
	}
	c.APIProxy.GuardEnv[guards.EnvHostedWeb] = buf.String()
	return nil, nil
}
