package guards

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/awf-dev/awf/internal/usage"
)

// StateFile is where the api-proxy keeps the run's Snapshot, next to
// token-usage.jsonl, for `awf logs` and the run's last lines.
const StateFile = "guards.json"

// Usage is what one response reported (see internal/usage).
type Usage = usage.Usage

// Request is what admission looks at.
type Request struct {
	Provider  string
	Method    string
	Path      string // URL path, no query
	Model     string // "" when the request names none
	WebSocket bool
	Hosted    []string // provider-hosted web tools the body asks for (hostedweb.go; read only while a rule is in force)
}

// Inference reports whether r is an LLM call that counts against maxRuns:
// a POST to a chat/responses/messages endpoint or a Gemini
// :generateContent / :streamGenerateContent method. Model listings and
// other calls do not count.
func (r Request) Inference() bool {
	if r.Method != http.MethodPost {
		return false
	}
	p := strings.TrimRight(r.Path, "/")
	for _, s := range []string{"/chat/completions", "/responses", "/v1/messages", ":generateContent", ":streamGenerateContent"} {
		if strings.HasSuffix(p, s) {
			return true
		}
	}
	return false
}

// Decision is the verdict on one request. A refusal carries the status,
// the JSON body the agent gets and the log fields, all as the original.
type Decision struct {
	Allow  bool
	Status int
	Rule   string         // the guard's event name, e.g. "max_runs_exceeded"
	Body   map[string]any // {"error": {...}}
	Fields []any          // slog key/value pairs for the warn line
}

// Message is the refusal's human-readable message.
func (d Decision) Message() string {
	if e, ok := d.Body["error"].(map[string]any); ok {
		s, _ := e["message"].(string)
		return s
	}
	return ""
}

var allow = Decision{Allow: true}

// Ticket is an admitted request; settle it exactly once.
type Ticket struct {
	req      Request
	reserved bool // holds one of maxRuns' slots
	settled  bool
}

// Settlement is what one response cost, for its token-usage record.
type Settlement struct {
	HasEffective    bool
	EffectiveThis   float64
	EffectiveTotal  float64
	Multiplier      float64
	HasCredits      bool
	CreditsThis     float64
	CreditsTotal    float64
	PricingSource   string
	FallbackPricing bool
	DynamicSelector string
	Crossed         []int // effective-token thresholds first crossed by this response
}

// Guards holds one run's accounting. All methods are safe for concurrent use.
//
// Overshoot rule: a request is admitted only while every budget is below
// its limit, and its cost is known (settled) only when its response ends.
// So with N requests in flight a budget can end above its limit by at most
// the cost of those N requests: N parallel streams overshoot by at most one
// in-flight request each, and once any settle crosses the limit no further
// request is admitted. maxRuns is exact: an inference request reserves a
// slot at admission (done + reserved < max), released when it settles.
type Guards struct {
	cfg   Config
	price *PricingTable
	start time.Time
	now   func() time.Time

	mu            sync.Mutex
	runsDone      int64
	runsReserved  int64
	denied        int64
	missStreak    int64
	effective     float64
	emitted       map[int]bool
	pending       map[int]bool
	timeEmitted   map[int]bool
	timePending   map[int]bool
	credits       float64
	byModel       map[string]*ModelCredits
	warnedUnknown map[string]bool
	blocked       map[string]int64
	stop          *Stop
	onFirstBlock  func()
}

// ModelCredits is the spend of one model.
type ModelCredits struct {
	Credits       float64 `json:"credits"`
	Calls         int64   `json:"calls"`
	PricingSource string  `json:"pricing_source"`
}

// Stop records the first refusal by a budget or limit: which guard stopped
// the run.
type Stop struct {
	Rule    string    `json:"rule"`
	Message string    `json:"message"`
	Status  int       `json:"status"`
	Time    time.Time `json:"time"`
}

// New starts a run's accounting.
func New(cfg Config) *Guards {
	return &Guards{cfg: cfg, price: Pricing, start: time.Now(), now: time.Now,
		emitted: map[int]bool{}, pending: map[int]bool{}, timeEmitted: map[int]bool{}, timePending: map[int]bool{},
		byModel: map[string]*ModelCredits{}, warnedUnknown: map[string]bool{}, blocked: map[string]int64{}}
}

// Config is the configuration in force.
func (g *Guards) Config() *Config { return &g.cfg }

// OnFirstBlock registers f to run (without the lock) after a rule refuses
// for the first time, e.g. to persist the state file.
func (g *Guards) OnFirstBlock(f func()) { g.onFirstBlock = f }

// Admit decides whether r may go upstream. An admitted request gets a
// ticket to settle when its response ends.
func (g *Guards) Admit(r Request) (*Ticket, Decision) {
	g.mu.Lock()
	d := g.decide(r)
	var first bool
	t := &Ticket{req: r}
	if d.Allow {
		if g.cfg.MaxRuns > 0 && r.Inference() {
			g.runsReserved++
			t.reserved = true
		}
	} else {
		first = g.blocked[d.Rule] == 0
		g.blocked[d.Rule]++
		if g.stop == nil && terminal[d.Rule] {
			g.stop = &Stop{Rule: d.Rule, Message: d.Message(), Status: d.Status, Time: g.now().UTC()}
		}
	}
	g.mu.Unlock()
	if first && g.onFirstBlock != nil {
		g.onFirstBlock()
	}
	if !d.Allow {
		return nil, d
	}
	return t, d
}

// terminal are the guards that, once tripped, refuse every later request:
// they stop the run. The model guards refuse one request at a time.
var terminal = map[string]bool{
	"effective_tokens_limit_exceeded": true, "max_runs_exceeded": true, "max_cache_misses_exceeded": true,
	"permission_denied_limit_exceeded": true, "ai_credits_limit_exceeded": true,
}

// decide runs the guards in the original's order; the first refusal wins.
func (g *Guards) decide(r Request) Decision {
	c := &g.cfg
	if c.MaxEffectiveTokens > 0 && g.effective >= float64(c.MaxEffectiveTokens) {
		return refuse(http.StatusForbidden, "effective_tokens_limit_exceeded",
			fmt.Sprintf("Maximum effective tokens exceeded (%.2f / %d).", g.effective, c.MaxEffectiveTokens),
			"total_effective_tokens", g.effective, "max_effective_tokens", c.MaxEffectiveTokens)
	}
	if c.MaxRuns > 0 {
		n := g.runsDone
		if r.Inference() {
			n += g.runsReserved
		}
		// 429 without Retry-After: the turn budget is spent, not throttled.
		if g.runsDone >= c.MaxRuns || n >= c.MaxRuns {
			return refuse(http.StatusTooManyRequests, "max_runs_exceeded",
				fmt.Sprintf("Maximum LLM invocations exceeded (%d / %d).", n, c.MaxRuns),
				"invocation_count", n, "max_runs", c.MaxRuns)
		}
	}
	if c.MaxCacheMisses > 0 && g.missStreak >= c.MaxCacheMisses {
		return refuse(http.StatusForbidden, "max_cache_misses_exceeded",
			fmt.Sprintf("Maximum consecutive cache misses exceeded (%d / %d).", g.missStreak, c.MaxCacheMisses),
			"consecutive_cache_misses", g.missStreak, "max_cache_misses", c.MaxCacheMisses)
	}
	if c.MaxPermissionDenied > 0 && g.denied >= c.MaxPermissionDenied {
		return refuse(http.StatusForbidden, "permission_denied_limit_exceeded",
			fmt.Sprintf("Permission denied limit exceeded (%d / %d). The run has been stopped due to repeated permission errors — check that all API keys and tokens are correctly configured.", g.denied, c.MaxPermissionDenied),
			"denied_count", g.denied, "max_permission_denied", c.MaxPermissionDenied)
	}
	total := round6(g.credits)
	if hc := g.price.HardCapCredits; total >= hc {
		return refuse(http.StatusForbidden, "ai_credits_limit_exceeded",
			fmt.Sprintf("Hard cap on AI credits reached (%.6f / %s). This limit cannot be overridden.", total, num(hc)),
			"total_ai_credits", total, "max_ai_credits", hc, "hard_cap", true)
	}
	if c.MaxAICredits > 0 && total >= c.MaxAICredits {
		return refuse(http.StatusForbidden, "ai_credits_limit_exceeded",
			fmt.Sprintf("Maximum AI credits exceeded (%.6f / %s).", total, num(c.MaxAICredits)),
			"total_ai_credits", total, "max_ai_credits", c.MaxAICredits, "hard_cap", false)
	}
	if d := c.hostedWebDecision(r.Provider, r.Hosted); !d.Allow {
		return d
	}
	if r.Model == "" {
		return allow
	}
	return g.decideModel(r)
}

// ModelDecision judges one model name alone (no budgets, no state): for a
// body that names several models, each must pass.
func (g *Guards) ModelDecision(provider, model string) Decision {
	if model == "" {
		return allow
	}
	return g.decideModel(Request{Provider: provider, Method: http.MethodPost, Model: model})
}

// decideModel runs the guards that depend on the requested model.
func (g *Guards) decideModel(r Request) Decision {
	c, m := &g.cfg, r.Model
	if c.MaxModelMultiplier > 0 {
		if _, exact := c.ModelMultipliers[m]; isDynamicSelector(r.Provider, m) && !exact {
			return refuse(http.StatusBadRequest, "model_multiplier_cap_unverifiable",
				fmt.Sprintf("Model %q selects a concrete model at runtime, so its multiplier cannot be proven to be within the configured cap. Configure an explicit multiplier for %q to opt in.", m, m),
				"model", m, "model_multiplier", nil, "max_model_multiplier", c.MaxModelMultiplier)
		}
		if mult, _ := c.Multiplier(m); mult > c.MaxModelMultiplier {
			return refuse(http.StatusBadRequest, "model_multiplier_cap_exceeded",
				fmt.Sprintf("Model multiplier cap exceeded: model %q has multiplier %s which exceeds the configured maximum of %s.", m, num(mult), num(c.MaxModelMultiplier)),
				"model", m, "model_multiplier", mult, "max_model_multiplier", c.MaxModelMultiplier)
		}
	}
	if s, ok := g.price.Retired[strings.ToLower(m)]; ok {
		return refuse(http.StatusBadRequest, "retired_model",
			fmt.Sprintf("Model '%s' is retired or unsupported. Did you mean '%s'?", m, s), "model", m, "suggestion", s)
	}
	if reason := c.policyReason(m); reason != "" {
		msg := fmt.Sprintf("Model '%s' is not permitted: it does not match the allowed models policy.", m)
		switch reason {
		case ReasonDisallowed:
			msg = fmt.Sprintf("Model '%s' is not permitted: it is explicitly disallowed by the model policy.", m)
		case ReasonUnverifable:
			msg = fmt.Sprintf("Model '%s' selects a concrete model at runtime, so the configured denylist cannot be proven. Explicitly allow 'auto' to opt in.", m)
		}
		return refuse(http.StatusForbidden, "model_policy_violation", msg, "model", m, "reason", reason)
	}
	if c.MaxAICredits > 0 && c.DefaultPricing == nil {
		if _, _, ok := g.resolve(r.Provider, m, false); !ok {
			return refuse(http.StatusBadRequest, "unknown_model_ai_credits",
				fmt.Sprintf("Model %q has no AI credits pricing and no default pricing is configured. Set apiProxy.defaultAiCreditsPricing in the AWF config (e.g. {\"input\": 3.0, \"output\": 15.0}) to provide a fallback rate, or add the model to the pricing table.", m),
				"model", m)
		}
	}
	return allow
}

// refuse builds a refusal: {"error": {"type": rule, "message": msg, kv...}}.
func refuse(status int, rule, msg string, kv ...any) Decision {
	e := map[string]any{"type": rule, "message": msg}
	for i := 0; i+1 < len(kv); i += 2 {
		e[kv[i].(string)] = kv[i+1]
	}
	eventRule := rule
	if rule == "model_multiplier_cap_unverifiable" {
		eventRule = "model_multiplier_cap_exceeded" // the original logs both under one event
	}
	return Decision{Status: status, Rule: eventRule, Body: map[string]any{"error": e}, Fields: kv}
}

// num formats a number as JavaScript prints it in the original's messages.
func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// Settle books the outcome of an admitted request: its upstream status
// and the usage its response reported (u.Found false when none). A nil
// ticket (request never admitted) is ignored.
func (g *Guards) Settle(t *Ticket, status int, u Usage) Settlement {
	if t == nil {
		return Settlement{}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.settled {
		return Settlement{}
	}
	t.settled = true
	if t.reserved {
		g.runsReserved--
	}
	if status/100 == 2 && t.req.Inference() {
		g.runsDone++
	}
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		g.denied++
	}
	if !u.Found {
		return Settlement{}
	}
	return g.account(t.req.Provider, t.req.Model, u)
}

// Charge books usage that arrived without an admitted request (a
// WebSocket message that was not a response.create the proxy saw).
func (g *Guards) Charge(r Request, u Usage) Settlement {
	if !u.Found {
		return Settlement{}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.account(r.Provider, r.Model, u)
}

// Model is the model the ticket's request named.
func (t *Ticket) Model() string { return t.req.Model }

// account adds one response's usage to every budget. Called with g.mu held.
func (g *Guards) account(provider, reqModel string, u Usage) Settlement {
	c := &g.cfg
	var s Settlement
	model := u.Model
	if model == "" {
		model = reqModel // e.g. Copilot SDK streams omit it
	}
	if model == "" {
		model = "unknown"
	}
	if c.MaxCacheMisses > 0 && u.InputTokens > 0 {
		if u.CacheReadTokens > 0 {
			g.missStreak = 0
		} else {
			g.missStreak++
		}
	}
	if c.MaxEffectiveTokens > 0 {
		mult, _ := c.Multiplier(model)
		base := float64(u.InputTokens) + 0.1*float64(u.CacheReadTokens) + 4*float64(u.OutputTokens) + 4*float64(u.ReasoningTokens)
		s.HasEffective, s.Multiplier, s.EffectiveThis = true, mult, mult*base
		g.effective += s.EffectiveThis
		s.EffectiveTotal = g.effective
		pct := g.effective / float64(c.MaxEffectiveTokens) * 100
		for _, th := range Thresholds {
			if pct >= float64(th) && !g.emitted[th] {
				g.emitted[th], g.pending[th] = true, true
				s.Crossed = append(s.Crossed, th)
			}
		}
	}
	p, source, _ := g.resolve(provider, model, true)
	cr := g.price.credits(provider, u, p, source)
	g.credits += cr.Total
	mc := g.byModel[model]
	if mc == nil {
		mc = &ModelCredits{}
		g.byModel[model] = mc
	}
	mc.Credits += cr.Total
	mc.Calls++
	mc.PricingSource = source
	s.HasCredits, s.CreditsThis, s.CreditsTotal, s.PricingSource = true, round6(cr.Total), round6(g.credits), source
	s.FallbackPricing = source != SourceCurated && source != SourceOperator
	if source == SourceDynamic {
		s.DynamicSelector = dynamicSelectorN
	}
	return s
}

// UnknownModel reports (once per model) that model had no table price.
func (g *Guards) UnknownModel(s Settlement, model string) bool {
	if s.PricingSource != SourceDefault && s.PricingSource != SourceFallback {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.warnedUnknown[model] {
		return false
	}
	g.warnedUnknown[model] = true
	return true
}

// Snapshot is the run's spend against each budget.
type Snapshot struct {
	PricingVersion      string                   `json:"pricing_version"`
	AICredits           float64                  `json:"ai_credits"`
	MaxAICredits        float64                  `json:"max_ai_credits,omitempty"`
	HardCapAICredits    float64                  `json:"hard_cap_ai_credits"`
	EffectiveTokens     float64                  `json:"effective_tokens"`
	MaxEffectiveTokens  int64                    `json:"max_effective_tokens,omitempty"`
	Runs                int64                    `json:"runs"`
	MaxRuns             int64                    `json:"max_runs,omitempty"`
	CacheMissStreak     int64                    `json:"consecutive_cache_misses"`
	MaxCacheMisses      int64                    `json:"max_cache_misses,omitempty"`
	PermissionDenied    int64                    `json:"permission_denied"`
	MaxPermissionDenied int64                    `json:"max_permission_denied,omitempty"`
	ByModel             map[string]*ModelCredits `json:"ai_credits_by_model,omitempty"`
	Blocked             map[string]int64         `json:"blocked,omitempty"`
	StoppedBy           *Stop                    `json:"stopped_by,omitempty"`
}

// Snapshot copies the current state.
func (g *Guards) Snapshot() Snapshot {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := &g.cfg
	s := Snapshot{
		PricingVersion: g.price.Version, AICredits: round6(g.credits), MaxAICredits: c.MaxAICredits, HardCapAICredits: g.price.HardCapCredits,
		EffectiveTokens: g.effective, MaxEffectiveTokens: c.MaxEffectiveTokens, Runs: g.runsDone, MaxRuns: c.MaxRuns,
		CacheMissStreak: g.missStreak, MaxCacheMisses: c.MaxCacheMisses, PermissionDenied: g.denied, MaxPermissionDenied: c.MaxPermissionDenied,
		ByModel: map[string]*ModelCredits{}, Blocked: map[string]int64{},
	}
	for k, v := range g.byModel {
		cp := *v
		cp.Credits = round6(cp.Credits)
		s.ByModel[k] = &cp
	}
	for k, v := range g.blocked {
		s.Blocked[k] = v
	}
	if g.stop != nil {
		st := *g.stop
		s.StoppedBy = &st
	}
	return s
}

// Reflect is the guards' part of /reflect, in the original's shape:
// ai_credits {total, by_model}, runs, cache_misses and permission_denied
// ({enabled: false, ...: null} when not configured).
func (g *Guards) Reflect() map[string]any {
	s := g.Snapshot()
	c := &g.cfg
	byModel := map[string]any{}
	for m, mc := range s.ByModel {
		byModel[m] = map[string]any{"total": mc.Credits, "calls": mc.Calls, "pricing_source": mc.PricingSource}
	}
	opt := func(on bool, v int64) any {
		if !on {
			return nil
		}
		return v
	}
	runs := map[string]any{"enabled": c.MaxRuns > 0, "max_runs": opt(c.MaxRuns > 0, c.MaxRuns), "invocation_count": s.Runs,
		"remaining_runs": opt(c.MaxRuns > 0, max(0, c.MaxRuns-s.Runs))}
	misses := map[string]any{"enabled": c.MaxCacheMisses > 0, "max_cache_misses": opt(c.MaxCacheMisses > 0, c.MaxCacheMisses),
		"consecutive_cache_misses": s.CacheMissStreak, "remaining_cache_misses": opt(c.MaxCacheMisses > 0, max(0, c.MaxCacheMisses-s.CacheMissStreak))}
	if c.MaxCacheMisses == 0 {
		misses["consecutive_cache_misses"] = 0
	}
	denied := map[string]any{"enabled": c.MaxPermissionDenied > 0, "max_permission_denied": opt(c.MaxPermissionDenied > 0, c.MaxPermissionDenied),
		"denied_count": s.PermissionDenied}
	if c.MaxPermissionDenied == 0 {
		denied["denied_count"] = 0
	}
	if c.MaxRuns == 0 {
		runs["invocation_count"] = 0
	}
	var aliases any
	if len(c.Aliases) > 0 {
		aliases = c.Aliases
	}
	return map[string]any{
		"ai_credits": map[string]any{"total": s.AICredits, "by_model": byModel},
		"runs":       runs, "cache_misses": misses, "permission_denied": denied, "model_aliases": aliases,
	}
}

// Lines renders the snapshot as "used / limit" lines for the run's final
// stderr output and the summary.
func (s Snapshot) Lines() []string {
	var out []string
	lim := func(name, used, limit string) { out = append(out, fmt.Sprintf("%s: %s / %s", name, used, limit)) }
	if s.MaxAICredits > 0 {
		lim("AI credits", fmt.Sprintf("%.4f", s.AICredits), num(s.MaxAICredits))
	} else {
		lim("AI credits", fmt.Sprintf("%.4f", s.AICredits), num(s.HardCapAICredits)+" (hard cap)")
	}
	if s.MaxEffectiveTokens > 0 {
		lim("Effective tokens", fmt.Sprintf("%.2f", s.EffectiveTokens), strconv.FormatInt(s.MaxEffectiveTokens, 10))
	}
	if s.MaxRuns > 0 {
		lim("LLM turns", strconv.FormatInt(s.Runs, 10), strconv.FormatInt(s.MaxRuns, 10))
	}
	if s.MaxCacheMisses > 0 {
		lim("Consecutive cache misses", strconv.FormatInt(s.CacheMissStreak, 10), strconv.FormatInt(s.MaxCacheMisses, 10))
	}
	if s.MaxPermissionDenied > 0 {
		lim("Upstream 401/403 responses", strconv.FormatInt(s.PermissionDenied, 10), strconv.FormatInt(s.MaxPermissionDenied, 10))
	}
	if len(s.Blocked) > 0 {
		rules := make([]string, 0, len(s.Blocked))
		for r, n := range s.Blocked {
			rules = append(rules, fmt.Sprintf("%s×%d", r, n))
		}
		sort.Strings(rules)
		if s.StoppedBy != nil {
			out = append(out, fmt.Sprintf("Stopped by guard %s: %s (requests refused: %s)", s.StoppedBy.Rule, s.StoppedBy.Message, strings.Join(rules, ", ")))
		} else {
			out = append(out, "Requests refused by guards: "+strings.Join(rules, ", "))
		}
	}
	return out
}
