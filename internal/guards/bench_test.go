package guards

import (
	"strings"
	"testing"
)

// BenchmarkAdmitSettle is the guards' cost per request with every guard
// configured, from 64 goroutines at once (the api-proxy bench's c=64).
func BenchmarkAdmitSettle(b *testing.B) {
	def, _ := ParseDefaultPricing(`{"input":3,"output":15}`)
	g := New(Config{MaxAICredits: 10000, DefaultPricing: def, MaxEffectiveTokens: 1 << 60, MaxRuns: 1 << 60, MaxCacheMisses: 1 << 60,
		MaxPermissionDenied: 1 << 60, MaxModelMultiplier: 100, ModelMultipliers: map[string]float64{"gpt-5": 2},
		DisallowedModels: []string{"*opus*", "*fable*"}, AllowedModels: []string{"gpt-*", "claude-*"}})
	u := Usage{Found: true, Model: "gpt-5.4-2026-01-01", InputTokens: 1, OutputTokens: 1}
	b.SetParallelism(32) // 32 goroutines per CPU: 64 on this 2-CPU machine
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t, d := g.Admit(Request{Provider: "openai", Method: "POST", Path: "/v1/chat/completions", Model: "gpt-5.4"})
			if !d.Allow {
				b.Fatal(d.Body)
			}
			g.Settle(t, 200, u)
		}
	})
}

// BenchmarkModelFromBody: finding the model in a 64 KiB conversation
// whose "model" key comes last (the worst case).
func BenchmarkModelFromBody(b *testing.B) {
	body := []byte(`{"messages":[{"role":"user","content":"` + strings.Repeat("lorem ipsum ", 5460) + `"}],"model":"gpt-5"}`)
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		if ModelFromBody(body) != "gpt-5" {
			b.Fatal("no model")
		}
	}
}

// BenchmarkScanBodyHostedWeb: the same 64 KiB body with 20 tools, read
// once for the model and the hosted web tools (a hostedWeb rule in force).
func BenchmarkScanBodyHostedWeb(b *testing.B) {
	tools := strings.Repeat(`{"type":"function","name":"f","description":"a tool","parameters":{"type":"object","properties":{"x":{"type":"string"}}}},`, 20)
	body := []byte(`{"messages":[{"role":"user","content":"` + strings.Repeat("lorem ipsum ", 5460) + `"}],"tools":[` + tools + `{"type":"web_search"}],"model":"gpt-5"}`)
	c := Config{HostedWebOff: HostedWebOff{"codex": true}}
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		if s := c.ScanBody("openai", body); s.Model != "gpt-5" || len(s.Hosted) != 1 {
			b.Fatal(s)
		}
	}
}
