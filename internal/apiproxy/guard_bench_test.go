package apiproxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/guards"
)

// BenchmarkGuardedChat is a chat completion (2 KiB body naming a model,
// JSON answer with usage) through the proxy at 64 concurrent requests,
// without guards and with every guard configured (the body is then read
// whole before it goes upstream). Compare the two ns/op.
func BenchmarkGuardedChat(b *testing.B) {
	answer := []byte(`{"id":"c1","object":"chat.completion","model":"gpt-5.4","choices":[],"usage":{"prompt_tokens":500,"completion_tokens":20,"prompt_tokens_details":{"cached_tokens":400}}}`)
	body := `{"model":"gpt-5.4","messages":[{"role":"user","content":"` + strings.Repeat("x", 2048) + `"}]}`
	def, _ := guards.ParseDefaultPricing(`{"input":3,"output":15}`)
	all := guards.Config{MaxAICredits: 10000, DefaultPricing: def, MaxEffectiveTokens: 1 << 60, MaxRuns: 1 << 60, MaxCacheMisses: 1 << 60,
		MaxPermissionDenied: 1 << 60, MaxModelMultiplier: 100, DisallowedModels: []string{"*opus*"}, AllowedModels: []string{"gpt-*"}}
	for _, tc := range []struct {
		name string
		cfg  guards.Config
	}{{"none", guards.Config{}}, {"all", all}} {
		b.Run(tc.name, func(b *testing.B) {
			r := newRig(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				w.Write(answer)
			}), withGuards(tc.cfg))
			b.SetParallelism(32) // 64 goroutines on 2 CPUs
			cpu0 := cpuTime()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Post(r.urls["openai"]+"/v1/chat/completions", "application/json", strings.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Error(fmt.Sprint(resp.StatusCode))
						return
					}
				}
			})
			// CPU time (proxy, upstream and client together) is steadier
			// than wall time on a shared machine.
			b.ReportMetric(float64(cpuTime()-cpu0)/1e3/float64(b.N), "cpu-us/op")
		})
	}
}

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
