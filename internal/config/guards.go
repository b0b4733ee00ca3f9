package config

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/awf-dev/awf/internal/guards"
	"github.com/spf13/pflag"
)

// guardFlags are the api-proxy guard settings (budgets, turn limits, model
// policy). The original has CLI flags for some; the rest are config-only
// (apiProxy.*), registered here as hidden flags named after the original's
// option names so the --config loader can set them like any flag. Values
// that are objects or arrays in the config take JSON.
type guardFlags struct {
	fs                                         *pflag.FlagSet
	modelMultiplier, modelMultiplierCap        string // --max-model-multiplier, --max-model-multiplier-cap
	maxPermissionDenied, maxCacheMisses        string
	steering                                   bool
	maxEffectiveTokens, maxAICredits           string // hidden from here on
	defaultPricing, multipliersJSON, defaultMM string
	maxRuns, maxTurns                          string
	modelAliases, allowedModels, disallowed    string
	providers, modelFallback, requestedModel   string
	captureBlocked, maxCaptured                string
}

// GuardFlagNames are the flags registered by registerGuards, public first.
var GuardFlagNames = []string{
	"max-model-multiplier", "max-model-multiplier-cap", "max-permission-denied", "max-cache-misses", "enable-token-steering",
	"max-effective-tokens", "max-ai-credits", "default-ai-credits-pricing", "effective-token-model-multipliers",
	"effective-token-default-model-multiplier", "max-runs", "max-turns", "model-aliases", "allowed-models", "disallowed-models", "api-proxy-providers", "model-fallback", "requested-model", "capture-blocked-requests", "max-captured-bytes",
}

func registerGuards(fs *pflag.FlagSet) *guardFlags {
	g := &guardFlags{fs: fs}
	fs.StringVar(&g.modelMultiplier, "max-model-multiplier", "", "Per-model cost multipliers for effective token accounting, `model:multiplier,...` (requires --enable-api-proxy)")
	fs.StringVar(&g.modelMultiplierCap, "max-model-multiplier-cap", "", "Refuse (400) requests for models whose multiplier exceeds this `number` (requires --enable-api-proxy)")
	fs.StringVar(&g.maxPermissionDenied, "max-permission-denied", "", "Stop the run after this `number` of upstream 401/403 responses (requires --enable-api-proxy)")
	fs.StringVar(&g.maxCacheMisses, "max-cache-misses", "", "Stop the run after this `number` of consecutive responses without prompt-cache hits (requires --enable-api-proxy)")
	fs.BoolVar(&g.steering, "enable-token-steering", false, "Inject budget and time warnings at 80/90/95/99% into the agent's requests (requires --enable-api-proxy)")
	hidden := []struct {
		dst        *string
		name, help string
	}{
		{&g.maxEffectiveTokens, "max-effective-tokens", "apiProxy.maxEffectiveTokens: weighted token budget"},
		{&g.maxAICredits, "max-ai-credits", "apiProxy.maxAiCredits: AI credit budget (1 credit = $0.01; hard cap 10000)"},
		{&g.defaultPricing, "default-ai-credits-pricing", `apiProxy.defaultAiCreditsPricing: JSON {"input":N,"output":N,...} in $/1M tokens`},
		{&g.multipliersJSON, "effective-token-model-multipliers", "apiProxy.modelMultipliers: JSON object model -> multiplier"},
		{&g.defaultMM, "effective-token-default-model-multiplier", "apiProxy.defaultModelMultiplier"},
		{&g.maxRuns, "max-runs", "apiProxy.maxRuns: maximum successful LLM calls"},
		{&g.maxTurns, "max-turns", "apiProxy.maxTurns: maximum successful LLM calls (wins over max-runs)"},
		{&g.modelAliases, "model-aliases", "apiProxy.models: JSON object alias -> [patterns] or {patterns, fallback}"},
		{&g.allowedModels, "allowed-models", "apiProxy.allowedModels: JSON array (or comma list) of model globs"},
		{&g.disallowed, "disallowed-models", "apiProxy.disallowedModels: JSON array (or comma list) of model globs"},
		{&g.requestedModel, "requested-model", "apiProxy.requestedModel: checked against the providers' model lists at start-up (logged only)"},
		{&g.captureBlocked, "capture-blocked-requests", "apiProxy.diagnostics.captureBlockedRequests: false|true|summary|redacted|full"},
		{&g.maxCaptured, "max-captured-bytes", "apiProxy.diagnostics.maxCapturedBytes (full mode; default 250000)"},
		{&g.modelFallback, "model-fallback", `apiProxy.modelFallback: JSON {"enabled": bool, "strategy": "middle_power", "excludeEngines": [...]}`},
		{&g.providers, "api-proxy-providers", "apiProxy.providers: JSON operator prices per provider (models.dev layout, USD per token)"},
	}
	for _, h := range hidden {
		fs.StringVar(h.dst, h.name, "", h.help)
		fs.MarkHidden(h.name)
	}
	return g
}

func (g *guardFlags) changed(name string) bool {
	f := g.fs.Lookup(name)
	return f != nil && f.Changed
}

// build validates the guard flags with the original's messages and returns
// the sidecar variables they map to (AWF_MAX_AI_CREDITS, ...). agentTimeout
// feeds time steering, as AWF_AGENT_TIMEOUT_MINUTES.
func (g *guardFlags) build(apiProxy bool, agentTimeout time.Duration) (map[string]string, error) {
	env := map[string]string{}
	any := false
	for _, n := range GuardFlagNames {
		any = any || g.changed(n)
	}
	if !any {
		return env, nil
	}
	if !apiProxy {
		return nil, errorf("Guard flags (%s) require --enable-api-proxy", strings.Join(g.changedNames(), ", "))
	}
	posInt := func(option, v, envName string) error {
		if v == "" {
			return nil
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f <= 0 || f != math.Trunc(f) || f > 1<<53 {
			return errorf("Error: Invalid %s value (must be a positive integer)", option)
		}
		env[envName] = strconv.FormatInt(int64(f), 10)
		return nil
	}
	posNum := func(option, v, envName string) error {
		if v == "" {
			return nil
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return errorf("Error: Invalid %s value (must be > 0)", option)
		}
		env[envName] = strconv.FormatFloat(f, 'f', -1, 64)
		return nil
	}
	runs := g.maxRuns
	if g.maxTurns != "" {
		runs = g.maxTurns // maxTurns ?? maxRuns, as the original maps them
	}
	for _, c := range []error{
		posInt("maxEffectiveTokens", g.maxEffectiveTokens, guards.EnvMaxEffectiveTokens),
		posNum("maxAiCredits", g.maxAICredits, guards.EnvMaxAICredits),
		posNum("effectiveTokenDefaultModelMultiplier", g.defaultMM, guards.EnvDefaultMultiplier),
		posNum("maxModelMultiplierCap", g.modelMultiplierCap, guards.EnvMaxModelMultiplier),
		posInt("maxRuns", runs, guards.EnvMaxRuns),
		posInt("maxPermissionDenied", g.maxPermissionDenied, guards.EnvMaxPermissionDenied),
		posInt("maxCacheMisses", g.maxCacheMisses, guards.EnvMaxCacheMisses),
	} {
		if c != nil {
			return nil, c
		}
	}
	// Config multipliers, then --max-model-multiplier entries over them.
	mult := map[string]float64{}
	if g.multipliersJSON != "" {
		m, err := guards.ParseMultipliers(g.multipliersJSON)
		if err != nil {
			return nil, errorf("Error: Invalid modelMultipliers value: %v", err)
		}
		mult = m
	}
	if g.modelMultiplier != "" {
		m, err := ParseModelMultipliersCLI(g.modelMultiplier)
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			mult[k] = v
		}
	}
	if len(mult) > 0 {
		b, _ := json.Marshal(mult)
		env[guards.EnvModelMultipliers] = string(b)
	}
	if g.defaultPricing != "" {
		if _, err := guards.ParseDefaultPricing(g.defaultPricing); err != nil {
			return nil, errorf("Error: Invalid defaultAiCreditsPricing value (%v)", err)
		}
		env[guards.EnvDefaultPricing] = g.defaultPricing
	}
	if v := strings.TrimSpace(g.requestedModel); v != "" {
		env[guards.EnvRequestedModel] = v
	}
	switch v := strings.TrimSpace(g.captureBlocked); v {
	case "", "false", "0":
	case "true", "1", "summary", "redacted", "full":
		env[guards.EnvCaptureBlocked] = v
	default:
		return nil, errorf("Error: Invalid captureBlockedRequests value %q (expected false, true, summary, redacted or full)", v)
	}
	if err := posInt("maxCapturedBytes", g.maxCaptured, guards.EnvMaxCaptureBytes); err != nil {
		return nil, err
	}
	if g.modelFallback != "" {
		if _, err := guards.ParseFallback(g.modelFallback); err != nil {
			return nil, errorf("Error: Invalid apiProxy.modelFallback value (%v)", err)
		}
		env[guards.EnvModelFallback] = g.modelFallback
	}
	if g.providers != "" {
		if _, err := guards.ParseProviders(g.providers); err != nil {
			return nil, errorf("Error: Invalid apiProxy.providers value (%v)", err)
		}
		env[guards.EnvProviders] = g.providers
	}
	if g.modelAliases != "" {
		wrapped := `{"models":` + g.modelAliases + `}`
		if _, err := guards.ParseAliases(wrapped); err != nil {
			return nil, errorf("Error: Invalid apiProxy.models value (%v)", err)
		}
		env[guards.EnvModelAliases] = wrapped
	}
	for _, x := range []struct{ option, v, envName string }{
		{"allowedModels", g.allowedModels, guards.EnvAllowedModels},
		{"disallowedModels", g.disallowed, guards.EnvDisallowedModels},
	} {
		if x.v == "" {
			continue
		}
		list, err := patternList(x.v)
		if err != nil {
			return nil, errorf("Error: Invalid %s value (%v)", x.option, err)
		}
		if len(list) > 0 {
			b, _ := json.Marshal(list)
			env[x.envName] = string(b)
		}
	}
	if g.steering {
		env[guards.EnvSteering] = "true"
		if agentTimeout > 0 {
			env[guards.EnvAgentTimeoutMinutes] = strconv.Itoa(int(agentTimeout / time.Minute))
		}
	}
	return env, nil
}

func (g *guardFlags) changedNames() []string {
	var out []string
	for _, n := range GuardFlagNames {
		if g.changed(n) {
			out = append(out, "--"+n)
		}
	}
	return out
}

// patternList reads a JSON array of strings or a comma-separated list.
func patternList(v string) ([]string, error) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "[") {
		return guards.ParsePatterns(v)
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// ParseModelMultipliersCLI reads --max-model-multiplier's model:multiplier
// list (the last colon splits, so model names may contain colons).
func ParseModelMultipliersCLI(v string) (map[string]float64, error) {
	out := map[string]float64{}
	for _, e := range strings.Split(v, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		i := strings.LastIndexByte(e, ':')
		if i <= 0 {
			return nil, errorf("Error: --max-model-multiplier: invalid entry %q (expected model:multiplier)", e)
		}
		model, raw := strings.TrimSpace(e[:i]), strings.TrimSpace(e[i+1:])
		if model == "" {
			return nil, errorf("Error: --max-model-multiplier: empty model name in %q", e)
		}
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil || f <= 0 || math.IsInf(f, 0) {
			return nil, errorf("Error: --max-model-multiplier: multiplier for %q must be a positive number (got %q)", model, raw)
		}
		out[model] = f
	}
	return out, nil
}
