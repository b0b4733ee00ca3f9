package guards

import (
	"encoding/json"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func chat(provider, model string) Request {
	return Request{Provider: provider, Method: "POST", Path: "/v1/chat/completions", Model: model}
}

func ok(u Usage) Usage { u.Found = true; return u }

func errType(d Decision) string {
	e, _ := d.Body["error"].(map[string]any)
	s, _ := e["type"].(string)
	return s
}

func TestGlob(t *testing.T) {
	for _, tt := range []struct {
		p, s string
		want bool
	}{
		{"*opus*", "claude-opus-4-7", true},
		{"*OPUS*", "claude-opus-4-7", true},
		{"claude-*", "claude-sonnet-4-5", true},
		{"claude-*", "xclaude-sonnet", false},
		{"gpt-5*", "gpt-5.4", true},
		{"gpt-5*", "gpt-4o", false},
		{"gpt-4o", "gpt-4o", true},
		{"gpt-4o", "gpt-4o-mini", false},
		{"gpt-?o", "gpt-4o", false}, // only * is a wildcard
		{"a*b*c", "abc", true},
		{"a*b*c", "acb", false},
		{"ab*ab", "ab", false},
		{"*", "", true},
		{"gpt-5*codex*", "gpt-5.3-codex", true},
	} {
		if got := Glob(tt.p, tt.s); got != tt.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", tt.p, tt.s, got, tt.want)
		}
	}
}

func TestModelPolicy(t *testing.T) {
	for _, tt := range []struct {
		name          string
		allow, deny   []string
		model, reason string
	}{
		{"no policy", nil, nil, "anything", ""},
		{"denied", nil, []string{"*opus*"}, "claude-opus-4-7", ReasonDisallowed},
		{"deny wins over allow", []string{"claude-*"}, []string{"*opus*"}, "claude-opus-4-7", ReasonDisallowed},
		{"allowed", []string{"claude-*"}, nil, "claude-sonnet-4-5", ""},
		{"not allowed", []string{"claude-*"}, nil, "gpt-5", ReasonNotAllowed},
		{"auto under a denylist", nil, []string{"*opus*"}, "auto", ReasonUnverifable},
		{"auto explicitly allowed", []string{"auto", "gpt-*"}, []string{"*opus*"}, "auto", ""},
		{"auto with allowlist only", []string{"gpt-*"}, nil, "auto", ReasonNotAllowed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{AllowedModels: tt.allow, DisallowedModels: tt.deny}
			if got := c.policyReason(tt.model); got != tt.reason {
				t.Fatalf("reason = %q, want %q", got, tt.reason)
			}
			g := New(c)
			_, d := g.Admit(chat("openai", tt.model))
			if d.Allow != (tt.reason == "") {
				t.Fatalf("allow = %v", d.Allow)
			}
			if !d.Allow && (d.Status != 403 || errType(d) != "model_policy_violation" || d.Body["error"].(map[string]any)["reason"] != tt.reason) {
				t.Fatalf("refusal = %d %v", d.Status, d.Body)
			}
		})
	}
}

func TestMultiplierResolution(t *testing.T) {
	c := Config{ModelMultipliers: map[string]float64{"claude-opus-4.7": 27, "claude-opus": 20, "gpt-4o": 2}}
	for _, tt := range []struct {
		model  string
		want   float64
		source string
	}{
		{"claude-opus-4.7", 27, "exact"},
		{"claude-opus-4.7-20260501", 27, "prefix"}, // longest prefix wins over claude-opus
		{"claude-opus-5", 20, "prefix"},
		{"gpt-4o-mini", 2, "prefix"},
		{"gpt-4omni", 1, "default"}, // a prefix must end at '-'
	} {
		if m, s := c.Multiplier(tt.model); m != tt.want || s != tt.source {
			t.Errorf("Multiplier(%q) = %v %s, want %v %s", tt.model, m, s, tt.want, tt.source)
		}
	}
	c.DefaultMultiplier = 3
	if m, _ := c.Multiplier("unknown-model"); m != 3 {
		t.Errorf("configured default = %v", m)
	}
}

func TestMultiplierCap(t *testing.T) {
	g := New(Config{MaxModelMultiplier: 5, ModelMultipliers: map[string]float64{"claude-opus-4.7": 27, "gpt-4o": 2}})
	_, d := g.Admit(chat("anthropic", "claude-opus-4.7"))
	if d.Allow || d.Status != 400 || errType(d) != "model_multiplier_cap_exceeded" {
		t.Fatalf("%+v", d)
	}
	want := `Model multiplier cap exceeded: model "claude-opus-4.7" has multiplier 27 which exceeds the configured maximum of 5.`
	if d.Message() != want {
		t.Fatalf("message %q", d.Message())
	}
	if _, d := g.Admit(chat("openai", "gpt-4o")); !d.Allow {
		t.Fatal("gpt-4o within the cap refused")
	}
	if _, d := g.Admit(Request{Provider: "openai", Method: "GET", Path: "/v1/models"}); !d.Allow {
		t.Fatal("a request without a model refused")
	}
	if _, d := g.Admit(chat("copilot", "auto")); d.Allow || errType(d) != "model_multiplier_cap_unverifiable" {
		t.Fatalf("copilot auto: %+v", d)
	}
}

func TestPricingLookup(t *testing.T) {
	for _, tt := range []struct {
		model string
		input float64
		ok    bool
	}{
		{"claude-sonnet-4-5", 3, true},
		{"copilot/claude-sonnet-4.5", 3, true},
		{"claude_sonnet_4_5", 3, true},
		{"claude-sonnet-4-5-20250929", 3, true}, // date suffix
		{"gpt-5.4-mini", 0.75, true},
		{"gpt-5.4-pro", 2.5, true}, // longest prefix: gpt-5.4
		{"models/gemini-2.5-pro", 1.25, true},
		{"totally-unknown", 0, false},
	} {
		p, ok := Pricing.Lookup(tt.model)
		if ok != tt.ok || p.Input != tt.input {
			t.Errorf("Lookup(%q) = %v %v, want %v %v", tt.model, p.Input, ok, tt.input, tt.ok)
		}
	}
	if Pricing.Version == "" || Pricing.Date == "" || Pricing.Source == "" {
		t.Fatal("pricing table lacks version, date or source")
	}
	if _, err := LoadPricing([]byte(`{"models":{}}`)); err == nil {
		t.Fatal("a table without version/source loads")
	}
}

func TestCredits(t *testing.T) {
	// OpenAI: cached tokens are inside input and priced at the cached rate.
	g := New(Config{})
	s := g.Settle(mustAdmit(t, g, chat("openai", "gpt-5.4")), 200, ok(Usage{Model: "gpt-5.4", InputTokens: 1_000_000, CacheReadTokens: 400_000, OutputTokens: 100_000}))
	// (600k*2.5 + 400k*0.25 + 100k*15) / 1e6 / 0.01 = (1.5 + 0.1 + 1.5)*100 = 310
	if !s.HasCredits || math.Abs(s.CreditsThis-310) > 1e-9 || s.PricingSource != SourceCurated {
		t.Fatalf("openai credits %+v", s)
	}
	// Anthropic: input_tokens excludes cache reads and writes.
	g = New(Config{})
	s = g.Settle(mustAdmit(t, g, chat("anthropic", "claude-sonnet-4-5")), 200, ok(Usage{Model: "claude-sonnet-4-5", InputTokens: 100_000, CacheReadTokens: 1_000_000, CacheWriteTokens: 100_000, OutputTokens: 10_000}))
	// (100k*3 + 1M*0.3 + 100k*3.75 + 10k*15)/1e4 = (0.3+0.3+0.375+0.15)*100 = 112.5
	if math.Abs(s.CreditsThis-112.5) > 1e-9 {
		t.Fatalf("anthropic credits %+v", s)
	}
	// An unpriced model: configured default, reported as such.
	def, _ := ParseDefaultPricing(`{"input": 10, "output": 20}`)
	g = New(Config{DefaultPricing: def})
	s = g.Settle(mustAdmit(t, g, chat("openai", "mystery-1")), 200, ok(Usage{Model: "mystery-1", InputTokens: 1000, OutputTokens: 1000}))
	if s.PricingSource != SourceDefault || !s.FallbackPricing || math.Abs(s.CreditsThis-3) > 1e-9 || !g.UnknownModel(s, "mystery-1") || g.UnknownModel(s, "mystery-1") {
		t.Fatalf("default pricing %+v", s)
	}
	// Copilot auto: the ceiling over the table.
	g = New(Config{})
	s = g.Settle(mustAdmit(t, g, chat("copilot", "auto")), 200, ok(Usage{InputTokens: 1_000_000}))
	if s.PricingSource != SourceDynamic || s.DynamicSelector != "copilot:auto" || s.CreditsThis < 1000 {
		t.Fatalf("auto %+v", s)
	}
}

func mustAdmit(t *testing.T, g *Guards, r Request) *Ticket {
	t.Helper()
	tk, d := g.Admit(r)
	if !d.Allow {
		t.Fatalf("refused: %+v", d)
	}
	return tk
}

func TestAICreditsLimit(t *testing.T) {
	g := New(Config{MaxAICredits: 1})
	// 1000 in + 1000 out on gpt-5.4 = (2500+15000)/1e4... = 1.75 credits
	g.Settle(mustAdmit(t, g, chat("openai", "gpt-5.4")), 200, ok(Usage{Model: "gpt-5.4", InputTokens: 1000, OutputTokens: 1000}))
	_, d := g.Admit(chat("openai", "gpt-5.4"))
	if d.Allow || d.Status != 403 || errType(d) != "ai_credits_limit_exceeded" {
		t.Fatalf("%+v", d)
	}
	e := d.Body["error"].(map[string]any)
	if e["total_ai_credits"] != 1.75 || e["max_ai_credits"] != 1.0 || e["hard_cap"] != false || d.Message() != "Maximum AI credits exceeded (1.750000 / 1)." {
		t.Fatalf("body %v", e)
	}
	// Final: every later request too, whatever it is.
	if _, d := g.Admit(Request{Provider: "openai", Method: "GET", Path: "/v1/models"}); d.Allow {
		t.Fatal("a later request was admitted")
	}
	snap := g.Snapshot()
	if snap.StoppedBy == nil || snap.StoppedBy.Rule != "ai_credits_limit_exceeded" || snap.Blocked["ai_credits_limit_exceeded"] != 2 {
		t.Fatalf("snapshot %+v", snap)
	}
	if l := strings.Join(snap.Lines(), "\n"); !strings.Contains(l, "AI credits: 1.7500 / 1") || !strings.Contains(l, "Stopped by guard ai_credits_limit_exceeded") {
		t.Fatalf("lines %s", l)
	}
}

func TestHardCap(t *testing.T) {
	c, _ := FromEnv(env(map[string]string{EnvMaxAICredits: "50000"}))
	if c.MaxAICredits != 10000 {
		t.Fatalf("maxAiCredits above the hard cap: %v", c.MaxAICredits)
	}
	g := New(Config{}) // no budget configured: the hard cap still holds
	g.Settle(mustAdmit(t, g, chat("anthropic", "claude-opus-4-5")), 200, ok(Usage{Model: "claude-opus-4-5", OutputTokens: 40_000_000}))
	_, d := g.Admit(chat("anthropic", "claude-opus-4-5"))
	if d.Allow || errType(d) != "ai_credits_limit_exceeded" || d.Body["error"].(map[string]any)["hard_cap"] != true {
		t.Fatalf("%+v", d)
	}
}

func TestUnknownModelRejection(t *testing.T) {
	g := New(Config{MaxAICredits: 100})
	_, d := g.Admit(chat("openai", "no-such-model"))
	if d.Allow || d.Status != 400 || errType(d) != "unknown_model_ai_credits" {
		t.Fatalf("%+v", d)
	}
	if _, d := g.Admit(chat("copilot", "auto")); !d.Allow {
		t.Fatal("copilot auto is a recognised selector")
	}
	if _, d := g.Admit(Request{Provider: "openai", Method: "POST", Path: "/v1/embeddings"}); !d.Allow {
		t.Fatal("no model: not subject to the check")
	}
	def, _ := ParseDefaultPricing(`{"input":1,"output":2}`)
	if _, d := New(Config{MaxAICredits: 100, DefaultPricing: def}).Admit(chat("openai", "no-such-model")); !d.Allow {
		t.Fatal("with a default price the model is admitted")
	}
}

func TestMaxRuns(t *testing.T) {
	g := New(Config{MaxRuns: 2})
	for i := 0; i < 2; i++ {
		g.Settle(mustAdmit(t, g, chat("openai", "")), 200, Usage{})
	}
	// A model listing is not an invocation, and a failed call does not count.
	_, d := g.Admit(Request{Provider: "openai", Method: "GET", Path: "/v1/models"})
	if d.Allow || d.Status != 429 || errType(d) != "max_runs_exceeded" || d.Message() != "Maximum LLM invocations exceeded (2 / 2)." {
		t.Fatalf("%+v", d)
	}
	g = New(Config{MaxRuns: 1})
	g.Settle(mustAdmit(t, g, chat("openai", "")), 500, Usage{})
	g.Settle(mustAdmit(t, g, Request{Provider: "gemini", Method: "POST", Path: "/v1beta/models/gemini-2.5-pro:generateContent"}), 200, Usage{})
	if _, d := g.Admit(chat("openai", "")); d.Allow {
		t.Fatal("gemini generateContent did not count")
	}
}

// TestMaxRunsReservation: parallel admissions cannot exceed maxRuns.
func TestMaxRunsReservation(t *testing.T) {
	g := New(Config{MaxRuns: 5})
	var mu sync.Mutex
	var tickets []*Ticket
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if tk, d := g.Admit(chat("openai", "")); d.Allow {
				mu.Lock()
				tickets = append(tickets, tk)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(tickets) != 5 {
		t.Fatalf("%d admitted in parallel, want 5", len(tickets))
	}
	// A failed one frees its slot.
	g.Settle(tickets[0], 502, Usage{})
	if _, d := g.Admit(chat("openai", "")); !d.Allow {
		t.Fatal("freed slot not reusable")
	}
}

func TestPermissionDenied(t *testing.T) {
	g := New(Config{MaxPermissionDenied: 2})
	g.Settle(mustAdmit(t, g, chat("openai", "")), 401, Usage{})
	g.Settle(mustAdmit(t, g, chat("openai", "")), 403, Usage{})
	_, d := g.Admit(chat("openai", ""))
	if d.Allow || d.Status != 403 || errType(d) != "permission_denied_limit_exceeded" || !strings.HasPrefix(d.Message(), "Permission denied limit exceeded (2 / 2). The run has been stopped") {
		t.Fatalf("%+v", d)
	}
}

func TestCacheMisses(t *testing.T) {
	g := New(Config{MaxCacheMisses: 2})
	miss := ok(Usage{InputTokens: 100})
	hit := ok(Usage{InputTokens: 100, CacheReadTokens: 50})
	zero := ok(Usage{OutputTokens: 5})
	for _, u := range []Usage{miss, hit, miss, zero} { // a hit resets; zero input does not count
		g.Settle(mustAdmit(t, g, chat("openai", "")), 200, u)
	}
	g.Settle(mustAdmit(t, g, chat("openai", "")), 200, miss)
	_, d := g.Admit(chat("openai", ""))
	if d.Allow || d.Status != 403 || errType(d) != "max_cache_misses_exceeded" || d.Message() != "Maximum consecutive cache misses exceeded (2 / 2)." {
		t.Fatalf("%+v", d)
	}
}

func TestEffectiveTokensAndSteering(t *testing.T) {
	g := New(Config{MaxEffectiveTokens: 1000, ModelMultipliers: map[string]float64{"gpt-5": 2}, Steering: true})
	// base = 100 + 0.1*0 + 4*50 + 4*25 = 400; x2 = 800: crosses 80%.
	s := g.Settle(mustAdmit(t, g, chat("openai", "gpt-5")), 200, ok(Usage{Model: "gpt-5", InputTokens: 100, OutputTokens: 50, ReasoningTokens: 25}))
	if !s.HasEffective || s.EffectiveThis != 800 || s.Multiplier != 2 || len(s.Crossed) != 1 || s.Crossed[0] != 80 {
		t.Fatalf("%+v", s)
	}
	// 800 + 2*(100) = 1000: crosses 90, 95, 99 at once and the limit.
	s = g.Settle(mustAdmit(t, g, chat("openai", "gpt-5")), 200, ok(Usage{Model: "gpt-5", InputTokens: 100}))
	if len(s.Crossed) != 3 {
		t.Fatalf("crossed %v", s.Crossed)
	}
	// Highest first, one per request; the 80% warning was never sent, it comes last.
	var got []string
	for i := 0; i < 5; i++ {
		for _, st := range g.PopSteering() {
			got = append(got, st.Message[len("[AWF TOKEN WARNING] You have used "):][:3])
		}
	}
	if strings.Join(got, ",") != "99%,95%,90%,80%" {
		t.Fatalf("steering order %v", got)
	}
	_, d := g.Admit(chat("openai", "gpt-5"))
	if d.Allow || d.Status != 403 || errType(d) != "effective_tokens_limit_exceeded" || d.Message() != "Maximum effective tokens exceeded (1000.00 / 1000)." {
		t.Fatalf("%+v", d)
	}
	if New(Config{MaxEffectiveTokens: 10}).PopSteering() != nil {
		t.Fatal("steering without --enable-token-steering")
	}
}

func TestTimeSteering(t *testing.T) {
	g := New(Config{Steering: true, AgentTimeout: 10 * time.Minute})
	now := g.start.Add(9*time.Minute + 31*time.Second) // 95.2%
	g.now = func() time.Time { return now }
	s := g.PopSteering()
	if len(s) != 1 || s[0].Kind != "timeout" || !strings.HasPrefix(s[0].Message, "[AWF TIME WARNING] You have used 95%") {
		t.Fatalf("%+v", s)
	}
}

func TestInjectSteering(t *testing.T) {
	const m = "[AWF TOKEN WARNING] x"
	for _, tt := range []struct {
		provider, body, want string
	}{
		{"openai", `{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"}]}`,
			`{"messages":[{"role":"system","content":"s"},{"content":"[AWF TOKEN WARNING] x","role":"system"},{"role":"user","content":"u"}]}`},
		{"copilot", `{"messages":[{"role":"user","content":"u"}]}`, `{"messages":[{"content":"[AWF TOKEN WARNING] x","role":"system"},{"role":"user","content":"u"}]}`},
		{"anthropic", `{"system":"be brief","messages":[]}`, `{"messages":[],"system":"be brief\n\n[AWF TOKEN WARNING] x"}`},
		{"anthropic", `{"system":[{"type":"text","text":"a"}]}`, `{"system":[{"type":"text","text":"a"},{"text":"[AWF TOKEN WARNING] x","type":"text"}]}`},
		{"anthropic", `{"messages":[]}`, `{"messages":[],"system":"[AWF TOKEN WARNING] x"}`},
		{"gemini", `{"contents":[]}`, `{"contents":[],"systemInstruction":{"parts":[{"text":"[AWF TOKEN WARNING] x"}]}}`},
		{"gemini", `{"systemInstruction":{"parts":[{"text":"a"}]}}`, `{"systemInstruction":{"parts":[{"text":"a"},{"text":"[AWF TOKEN WARNING] x"}]}}`},
		{"openai", `{"input":"responses API has no messages"}`, ""},
		{"openai", `not json`, ""},
	} {
		got, ok := InjectSteering([]byte(tt.body), tt.provider, m)
		if tt.want == "" {
			if ok {
				t.Errorf("%s %s: injected %s", tt.provider, tt.body, got)
			}
			continue
		}
		var a, b any
		json.Unmarshal(got, &a)
		json.Unmarshal([]byte(tt.want), &b)
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !ok || string(ja) != string(jb) {
			t.Errorf("%s %s:\n got %s\nwant %s", tt.provider, tt.body, got, tt.want)
		}
	}
}

func TestBodyModel(t *testing.T) {
	body := []byte(`{"messages":[{"model":"inner"}], "model" : "sonnet","stream":true}`)
	if m := ModelFromBody(body); m != "sonnet" {
		t.Fatalf("model %q", m)
	}
	out, ok := ReplaceModel(body, "claude-sonnet-4-5")
	if !ok || string(out) != `{"messages":[{"model":"inner"}], "model" : "claude-sonnet-4-5","stream":true}` {
		t.Fatalf("%s", out)
	}
	for _, b := range []string{`{"model":5}`, `[]`, `nope`, `{"x":{"model":"m"}}`} {
		if m := ModelFromBody([]byte(b)); m != "" {
			t.Errorf("%s: %q", b, m)
		}
	}
	for p, want := range map[string]string{
		"/v1beta/models/gemini-2.5-pro:generateContent":       "gemini-2.5-pro",
		"/v1beta/models/gemini-2.5-pro:streamGenerateContent": "gemini-2.5-pro",
		"/v1beta/models":                    "",
		"/v1beta/models/gemini-2.5-pro":     "",
		"/base/v1/models/x%2Fy:countTokens": "x/y",
	} {
		if got := GeminiPathModel(p); got != want {
			t.Errorf("GeminiPathModel(%q) = %q, want %q", p, got, want)
		}
	}
	if p := ReplaceGeminiPathModel("/v1beta/models/pro:generateContent", "gemini-2.5-pro"); p != "/v1beta/models/gemini-2.5-pro:generateContent" {
		t.Fatal(p)
	}
	if m := ModelFromQuery("model=gpt-5&x=1"); m != "gpt-5" {
		t.Fatal(m)
	}
}

func TestResolveAliases(t *testing.T) {
	c, warns := FromEnv(env(map[string]string{
		EnvModelAliases:     `{"models":{"sonnet":["copilot/*sonnet*","anthropic/*sonnet*"],"agent":["sonnet","gpt-5"],"gpt-5":["openai/gpt-5*"],"loop":["loop2"],"loop2":["loop"]}}`,
		EnvDisallowedModels: `["*opus*"]`,
	}))
	if len(warns) != 0 {
		t.Fatal(warns)
	}
	anth := []string{"claude-sonnet-4-5", "claude-sonnet-4-6", "claude-haiku-4-5", "claude-opus-4-1"}
	oa := []string{"gpt-5", "gpt-5.4", "gpt-5.2", "gpt-4o"}
	for _, tt := range []struct {
		req, provider string
		catalog       []string
		want          string
	}{
		{"sonnet", "anthropic", anth, "claude-sonnet-4-6"}, // highest version
		{"SONNET", "anthropic", anth, "claude-sonnet-4-6"},
		{"agent", "anthropic", anth, "claude-sonnet-4-6"}, // alias of alias
		{"agent", "openai", oa, "gpt-5.4"},
		{"claude-haiku-4-5", "anthropic", anth, "claude-haiku-4-5"}, // listed model kept
		{"gpt-5.9", "openai", oa, "gpt-5.4"},                        // family alias
		{"sonnet", "openai", oa, ""},                                // no candidate on this provider
		{"loop", "openai", oa, ""},
		{"claude-opus-4-1", "anthropic", anth, ""}, // listed but refused by policy: not rewritten
		{"auto", "copilot", oa, ""},
	} {
		r, ok := c.ResolveModel(tt.req, tt.provider, tt.catalog)
		if got := map[bool]string{true: r.Model}[ok]; got != tt.want {
			t.Errorf("ResolveModel(%q, %s) = %q (%v), want %q", tt.req, tt.provider, got, r.Log, tt.want)
		}
	}
}

func TestFromEnv(t *testing.T) {
	c, warns := FromEnv(env(map[string]string{
		EnvMaxAICredits: "12.5", EnvMaxRuns: "8", EnvMaxCacheMisses: "5", EnvMaxPermissionDenied: "3",
		EnvMaxEffectiveTokens: "100000", EnvModelMultipliers: `{"gpt-5":2,"bad":-1}`, EnvDefaultMultiplier: "1.5",
		EnvMaxModelMultiplier: "4", EnvAllowedModels: `["gpt-*"," "]`, EnvDisallowedModels: `not json`,
		EnvSteering: "true", EnvAgentTimeoutMinutes: "30", EnvDefaultPricing: `{"input":3,"output":15}`,
	}))
	if c.MaxAICredits != 12.5 || c.MaxRuns != 8 || c.MaxCacheMisses != 5 || c.MaxPermissionDenied != 3 || c.MaxEffectiveTokens != 100000 ||
		c.ModelMultipliers["gpt-5"] != 2 || c.DefaultMultiplier != 1.5 || c.MaxModelMultiplier != 4 || len(c.AllowedModels) != 1 ||
		c.DisallowedModels != nil || !c.Steering || c.AgentTimeout != 30*time.Minute || math.Abs(c.DefaultPricing.CachedInput-0.3) > 1e-12 {
		t.Fatalf("%+v", c)
	}
	if len(warns) != 2 || !strings.Contains(strings.Join(warns, "\n"), EnvDisallowedModels) || !strings.Contains(strings.Join(warns, "\n"), "bad") {
		t.Fatalf("warnings %q", warns)
	}
	_, warns = FromEnv(env(map[string]string{EnvMaxRuns: "2.5", EnvMaxAICredits: "-1"}))
	if len(warns) != 2 {
		t.Fatalf("bad numbers not reported: %q", warns)
	}
	if (&Config{}).Active() {
		t.Fatal("zero config active")
	}
}

func TestProviderOverlay(t *testing.T) {
	c, warns := FromEnv(env(map[string]string{EnvProviders: `{"github-copilot":{"models":{"custom-model":{"cost":{"input":"3e-06","output":"1.5e-05","cache_read":"3e-07"}}}},"openai":{"models":{"gpt-5.4":{"cost":{"input":1e-06,"output":2e-06}}}}}`}))
	if len(warns) != 0 {
		t.Fatal(warns)
	}
	g := New(c)
	// The overlay prices a model the table does not know (for its provider only) ...
	s := g.Settle(mustAdmit(t, g, chat("copilot", "custom-model-2")), 200, ok(Usage{InputTokens: 1_000_000, OutputTokens: 100_000}))
	if s.PricingSource != SourceOperator || math.Abs(s.CreditsThis-450) > 1e-6 || s.FallbackPricing {
		t.Fatalf("%+v", s)
	}
	// ... and wins over the table for one it does.
	s = g.Settle(mustAdmit(t, g, chat("openai", "gpt-5.4")), 200, ok(Usage{Model: "gpt-5.4", InputTokens: 1_000_000}))
	if s.PricingSource != SourceOperator || math.Abs(s.CreditsThis-100) > 1e-6 {
		t.Fatalf("%+v", s)
	}
	if _, d := New(Config{MaxAICredits: 5, ProviderPrices: c.ProviderPrices}).Admit(chat("copilot", "custom-model")); !d.Allow {
		t.Fatal("an overlay-priced model is not unknown")
	}
	if _, w := FromEnv(env(map[string]string{EnvProviders: `{"openai":{"models":{"m":{"cost":{"input":"x","output":1}}}}}`})); len(w) != 1 {
		t.Fatalf("bad overlay not reported: %v", w)
	}
}

func TestMiddlePowerFallback(t *testing.T) {
	anth := []string{"claude-sonnet-4-5", "claude-sonnet-4-6", "claude-haiku-4-5", "claude-opus-4-1"}
	oa := []string{"gpt-5", "gpt-5.4", "gpt-5.2", "gpt-4o", "gpt-3.5-turbo"}
	aliases, _ := ParseAliases(`{"models":{"sonnet":["anthropic/*sonnet-9*"],"strict":{"patterns":["anthropic/*sonnet-9*"],"fallback":false}}}`)
	off, _ := ParseFallback(`{"enabled":false}`)
	noOpenAI, _ := ParseFallback(`{"excludeEngines":["openai"]}`)
	for _, tt := range []struct {
		name, req, provider string
		cfg                 Config
		catalog             []string
		want                string
	}{
		{"unlisted claude: median of the claude family by tier", "claude-nonexistent", "anthropic", Config{}, anth, "claude-sonnet-4-5"},
		{"no family: median of all by tier then name", "mystery", "openai", Config{}, oa, "gpt-5.4"},
		{"the spec's example", "mystery", "openai", Config{}, []string{"gpt-3.5-turbo", "gpt-5.2", "gpt-4.1"}, "gpt-4.1"},
		{"alias without candidates", "sonnet", "anthropic", Config{Aliases: aliases}, anth, "claude-sonnet-4-5"},
		{"alias with fallback false", "strict", "anthropic", Config{Aliases: aliases}, anth, ""},
		{"never for copilot", "mystery", "copilot", Config{}, oa, ""},
		{"disabled", "mystery", "openai", Config{ModelFallback: off}, oa, ""},
		{"engine excluded", "mystery", "openai", Config{ModelFallback: noOpenAI}, oa, ""},
		{"not with a model policy (alias)", "sonnet", "anthropic", Config{Aliases: aliases, DisallowedModels: []string{"*x*"}}, anth, ""},
		{"only priceable picks under a credit budget", "mystery", "openai", Config{MaxAICredits: 5}, []string{"mystery-1", "gpt-5", "mystery-2"}, "gpt-5"},
		{"empty catalogue", "mystery", "openai", Config{}, nil, ""},
	} {
		r, ok := tt.cfg.ResolveModel(tt.req, tt.provider, tt.catalog)
		if got := map[bool]string{true: r.Model}[ok]; got != tt.want || (ok && !r.Fallback) {
			t.Errorf("%s: got %q (fallback %v, %v), want %q", tt.name, got, r.Fallback, r.Log, tt.want)
		}
	}
}

func TestValidateRequested(t *testing.T) {
	aliases, _ := ParseAliases(`{"models":{"sonnet":["anthropic/*sonnet*"]}}`)
	lists := map[string][]string{"anthropic": {"claude-sonnet-4-5"}, "openai": {"gpt-5"}}
	for _, tt := range []struct{ model, prov, via string }{{"sonnet", "anthropic", "alias"}, {"GPT-5", "openai", "direct"}, {"nope", "", ""}} {
		c := Config{Aliases: aliases, RequestedModel: tt.model}
		if p, via, _ := c.ValidateRequested(lists); p != tt.prov || via != tt.via {
			t.Errorf("%s: %q %q", tt.model, p, via)
		}
	}
}
