package guards

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is what the guards enforce. The zero value enforces nothing but
// the non-overridable AI-credit hard cap.
type Config struct {
	MaxAICredits        float64                     // AWF_MAX_AI_CREDITS; 0 = off (the hard cap still applies)
	DefaultPricing      *Price                      // AWF_DEFAULT_AI_CREDITS_PRICING
	ProviderPrices      map[string]map[string]Price // AWF_API_PROXY_PROVIDERS (overlay.go)
	MaxEffectiveTokens  int64                       // AWF_MAX_EFFECTIVE_TOKENS
	ModelMultipliers    map[string]float64          // AWF_EFFECTIVE_TOKEN_MODEL_MULTIPLIERS
	DefaultMultiplier   float64                     // AWF_EFFECTIVE_TOKEN_DEFAULT_MODEL_MULTIPLIER; 0 = 1
	MaxModelMultiplier  float64                     // AWF_MAX_MODEL_MULTIPLIER (the cap)
	MaxRuns             int64                       // AWF_MAX_RUNS (maxTurns / maxRuns)
	MaxCacheMisses      int64                       // AWF_MAX_CACHE_MISSES
	MaxPermissionDenied int64                       // AWF_MAX_PERMISSION_DENIED
	AllowedModels       []string                    // AWF_ALLOWED_MODELS (JSON array of globs); nil = any
	DisallowedModels    []string                    // AWF_DISALLOWED_MODELS
	Aliases             map[string]Alias            // AWF_MODEL_ALIASES ({"models": {...}})
	ModelFallback       Fallback                    // AWF_MODEL_FALLBACK (aliases.go)
	RequestedModel      string                      // AWF_REQUESTED_MODEL: checked against the catalogues at start-up
	CaptureBlocked      string                      // AWF_CAPTURE_BLOCKED_LLM_REQUESTS: "", summary, redacted, full (diag.go)
	MaxCaptureBytes     int                         // AWF_MAX_BLOCKED_CAPTURE_BYTES (full mode)
	Steering            bool                        // AWF_ENABLE_TOKEN_STEERING=true
	AgentTimeout        time.Duration               // AWF_AGENT_TIMEOUT_MINUTES (time steering)
	HostedWebOff        HostedWebOff                // AWF_HOSTED_WEB: engines whose provider-hosted web tools are refused (hostedweb.go)
}

// Alias is one entry of apiProxy.models: glob patterns ("provider/glob") or
// names of other aliases, best candidate first by version.
type Alias struct {
	Patterns []string `json:"patterns"`
	Fallback bool     `json:"fallback"`
}

// Env names, as the original sidecar reads them.
const (
	EnvMaxAICredits        = "AWF_MAX_AI_CREDITS"
	EnvDefaultPricing      = "AWF_DEFAULT_AI_CREDITS_PRICING"
	EnvMaxEffectiveTokens  = "AWF_MAX_EFFECTIVE_TOKENS"
	EnvModelMultipliers    = "AWF_EFFECTIVE_TOKEN_MODEL_MULTIPLIERS"
	EnvDefaultMultiplier   = "AWF_EFFECTIVE_TOKEN_DEFAULT_MODEL_MULTIPLIER"
	EnvMaxModelMultiplier  = "AWF_MAX_MODEL_MULTIPLIER"
	EnvMaxRuns             = "AWF_MAX_RUNS"
	EnvMaxCacheMisses      = "AWF_MAX_CACHE_MISSES"
	EnvMaxPermissionDenied = "AWF_MAX_PERMISSION_DENIED"
	EnvAllowedModels       = "AWF_ALLOWED_MODELS"
	EnvDisallowedModels    = "AWF_DISALLOWED_MODELS"
	EnvModelAliases        = "AWF_MODEL_ALIASES"
	EnvSteering            = "AWF_ENABLE_TOKEN_STEERING"
	EnvAgentTimeoutMinutes = "AWF_AGENT_TIMEOUT_MINUTES"
	EnvModelFallback       = "AWF_MODEL_FALLBACK"
	EnvRequestedModel      = "AWF_REQUESTED_MODEL"
)

// FromEnv reads the guard settings. Like the original, a value that does
// not parse disables that guard; unlike it, each such value is reported in
// warnings so it is never silently ignored.
func FromEnv(getenv func(string) string) (Config, []string) {
	var c Config
	var warns []string
	bad := func(name, v, want string) {
		warns = append(warns, fmt.Sprintf("%s=%q is not %s; that guard is off", name, v, want))
	}
	posInt := func(name string) int64 {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return 0
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f != math.Trunc(f) || f > math.MaxInt64/2 {
			bad(name, v, "a positive integer")
			return 0
		}
		return int64(f)
	}
	posNum := func(name string) float64 {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return 0
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			bad(name, v, "a positive number")
			return 0
		}
		return f
	}
	c.MaxAICredits = min(posNum(EnvMaxAICredits), Pricing.HardCapCredits)
	c.MaxEffectiveTokens = posInt(EnvMaxEffectiveTokens)
	c.DefaultMultiplier = posNum(EnvDefaultMultiplier)
	c.MaxModelMultiplier = posNum(EnvMaxModelMultiplier)
	c.MaxRuns = posInt(EnvMaxRuns)
	c.MaxCacheMisses = posInt(EnvMaxCacheMisses)
	c.MaxPermissionDenied = posInt(EnvMaxPermissionDenied)
	c.Steering = getenv(EnvSteering) == "true"
	c.RequestedModel = strings.TrimSpace(getenv(EnvRequestedModel))
	c.CaptureBlocked = CaptureMode(getenv(EnvCaptureBlocked))
	c.MaxCaptureBytes = int(posInt(EnvMaxCaptureBytes))
	if m := posInt(EnvAgentTimeoutMinutes); m > 0 {
		c.AgentTimeout = time.Duration(m) * time.Minute
	}
	if v := strings.TrimSpace(getenv(EnvDefaultPricing)); v != "" {
		p, err := ParseDefaultPricing(v)
		if err != nil {
			bad(EnvDefaultPricing, v, `{"input": N, "output": N[, "cachedInput": N][, "cacheWrite": N]}`)
		} else {
			c.DefaultPricing = p
		}
	}
	if v := strings.TrimSpace(getenv(EnvModelMultipliers)); v != "" {
		m, err := ParseMultipliers(v)
		if err != nil {
			bad(EnvModelMultipliers, v, "a JSON object of positive numbers")
		}
		c.ModelMultipliers = m
	}
	var err error
	for _, x := range []struct {
		name string
		dst  *[]string
	}{{EnvAllowedModels, &c.AllowedModels}, {EnvDisallowedModels, &c.DisallowedModels}} {
		v := strings.TrimSpace(getenv(x.name))
		if v == "" {
			continue
		}
		if *x.dst, err = ParsePatterns(v); err != nil {
			bad(x.name, v, "a JSON array of glob strings")
		}
	}
	if v := strings.TrimSpace(getenv(EnvProviders)); v != "" {
		if c.ProviderPrices, err = ParseProviders(v); err != nil {
			warns = append(warns, fmt.Sprintf("%s: %v; operator prices are off", EnvProviders, err))
		}
	}
	if v := strings.TrimSpace(getenv(EnvModelFallback)); v != "" {
		if c.ModelFallback, err = ParseFallback(v); err != nil {
			bad(EnvModelFallback, v, `{"enabled": bool, "strategy": "middle_power", "excludeEngines": [...]}`)
		}
	}
	if v := strings.TrimSpace(getenv(EnvHostedWeb)); v != "" {
		off, unknown, err := ParseHostedWeb(v)
		if err != nil {
			bad(EnvHostedWeb, v, `{"<engine>": {"enabled": bool}}`)
		}
		c.HostedWebOff = off
		for _, e := range unknown {
			warns = append(warns, fmt.Sprintf("%s: unknown engine %q ignored (known: %s)", EnvHostedWeb, e, strings.Join(HostedWebEngines(), ", ")))
		}
	}
	if v := strings.TrimSpace(getenv(EnvModelAliases)); v != "" {
		if c.Aliases, err = ParseAliases(v); err != nil {
			bad(EnvModelAliases, v, `{"models": {"alias": ["provider/glob", ...]}}`)
		}
	}
	return c, warns
}

// ParseDefaultPricing reads {"input","output"[,"cachedInput"][,"cacheWrite"]}
// in USD per 1M tokens; cachedInput defaults to a tenth of input.
func ParseDefaultPricing(v string) (*Price, error) {
	var raw struct {
		Input       *float64 `json:"input"`
		Output      *float64 `json:"output"`
		CachedInput *float64 `json:"cachedInput"`
		CacheWrite  *float64 `json:"cacheWrite"`
	}
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return nil, err
	}
	if raw.Input == nil || raw.Output == nil || *raw.Input < 0 || *raw.Output < 0 {
		return nil, fmt.Errorf("input and output are required non-negative numbers")
	}
	p := &Price{Input: *raw.Input, Output: *raw.Output, CachedInput: *raw.Input * 0.1, CacheWrite: -1, Source: SourceDefault}
	if raw.CachedInput != nil {
		p.CachedInput = *raw.CachedInput
	}
	if raw.CacheWrite != nil {
		p.CacheWrite = *raw.CacheWrite
	}
	return p, nil
}

// ParseMultipliers reads a JSON object model -> positive number; entries
// that are not positive numbers are dropped (and reported by the error).
func ParseMultipliers(v string) (map[string]float64, error) {
	var raw map[string]any
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return nil, err
	}
	out := map[string]float64{}
	var dropped []string
	for k, x := range raw {
		var f float64
		var err error
		switch n := x.(type) {
		case float64:
			f = n
		case string:
			f, err = strconv.ParseFloat(n, 64)
		default:
			err = fmt.Errorf("not a number")
		}
		if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			dropped = append(dropped, k)
			continue
		}
		out[k] = f
	}
	if len(dropped) > 0 {
		sort.Strings(dropped)
		return out, fmt.Errorf("not positive numbers: %s", strings.Join(dropped, ", "))
	}
	return out, nil
}

// ParsePatterns reads a JSON array of glob strings; blanks are dropped and
// an array with none left means "not configured" (nil).
func ParsePatterns(v string) ([]string, error) {
	var raw []any
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return nil, err
	}
	var out []string
	for _, x := range raw {
		if s, ok := x.(string); ok && strings.TrimSpace(s) != "" {
			out = append(out, strings.TrimSpace(s))
		}
	}
	return out, nil
}

// ParseFallback reads apiProxy.modelFallback; enabled defaults to true.
func ParseFallback(v string) (Fallback, error) {
	var raw struct {
		Enabled        *bool    `json:"enabled"`
		Strategy       string   `json:"strategy"`
		ExcludeEngines []string `json:"excludeEngines"`
	}
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return Fallback{}, err
	}
	f := Fallback{Strategy: strings.TrimSpace(raw.Strategy), ExcludeEngines: raw.ExcludeEngines}
	f.Disabled = raw.Enabled != nil && !*raw.Enabled
	return f, nil
}

// ParseAliases reads {"models": {name: [patterns] | {"patterns": [...],
// "fallback": bool}}}. Any malformed entry rejects the whole map, as the
// original does.
func ParseAliases(v string) (map[string]Alias, error) {
	var raw struct {
		Models map[string]json.RawMessage `json:"models"`
	}
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return nil, err
	}
	if raw.Models == nil {
		return nil, fmt.Errorf(`no "models" object`)
	}
	out := make(map[string]Alias, len(raw.Models))
	for k, m := range raw.Models {
		var list []string
		if json.Unmarshal(m, &list) == nil {
			out[k] = Alias{Patterns: list, Fallback: true}
			continue
		}
		var obj struct {
			Patterns []string `json:"patterns"`
			Fallback *bool    `json:"fallback"`
		}
		if err := json.Unmarshal(m, &obj); err != nil || obj.Patterns == nil {
			return nil, fmt.Errorf("alias %q: want an array of strings or {patterns, fallback}", k)
		}
		a := Alias{Patterns: obj.Patterns, Fallback: true}
		if obj.Fallback != nil {
			a.Fallback = *obj.Fallback
		}
		out[k] = a
	}
	return out, nil
}

// Active reports whether anything beyond the always-on hard cap is set.
func (c *Config) Active() bool {
	return c.MaxAICredits > 0 || c.MaxEffectiveTokens > 0 || c.MaxModelMultiplier > 0 || c.MaxRuns > 0 ||
		c.MaxCacheMisses > 0 || c.MaxPermissionDenied > 0 || c.AllowedModels != nil || c.DisallowedModels != nil ||
		len(c.Aliases) > 0 || c.Steering || len(c.HostedWebOff) > 0
}

// NeedsModel reports whether admitting a request needs the model it names
// (so the proxy must read the body before forwarding it).
func (c *Config) NeedsModel() bool {
	return c.MaxAICredits > 0 || c.MaxModelMultiplier > 0 || c.AllowedModels != nil || c.DisallowedModels != nil ||
		len(c.Aliases) > 0 || c.Steering
}
