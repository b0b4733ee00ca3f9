package apiproxy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/fakeprovider"
	"github.com/awf-dev/awf/internal/guards"
	"github.com/awf-dev/awf/internal/logs"
	"github.com/awf-dev/awf/internal/usage"
	"github.com/coder/websocket"
)

func withGuards(g guards.Config) rigOpt { return func(c *Config) { c.Guards = g } }

// guardError decodes a guard refusal body.
func guardError(t *testing.T, body string) map[string]any {
	t.Helper()
	var v struct {
		Error map[string]any `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.Error == nil {
		t.Fatalf("not a guard error body: %q", body)
	}
	return v.Error
}

// records reads token-usage.jsonl once the proxy has stopped.
func (r *rig) records() []usage.Record {
	r.t.Helper()
	if err := r.stop(); err != nil {
		r.t.Fatal(err)
	}
	f, err := os.Open(r.tokens)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []usage.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec usage.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			r.t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

func (r *rig) snapshot() guards.Snapshot {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(filepath.Dir(r.tokens), GuardStateFile))
	if err != nil {
		r.t.Fatal(err)
	}
	var s guards.Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		r.t.Fatal(err)
	}
	return s
}

func post(body string) *strings.Reader { return strings.NewReader(body) }

var jsonCT = map[string]string{"Content-Type": "application/json"}

// shape is one way an agent names a model to one provider.
type shape struct {
	name, provider, path, body string
	fake                       func(fakeprovider.Reply) *fakeprovider.Fake
}

func shapes(model string) []shape {
	return []shape{
		{"openai chat", "openai", "/v1/chat/completions", `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`, fakeprovider.NewOpenAI},
		{"openai chat stream", "openai", "/v1/chat/completions", `{"model":"` + model + `","stream":true,"messages":[{"role":"user","content":"hi"}]}`, fakeprovider.NewOpenAI},
		{"openai responses", "openai", "/v1/responses", `{"model":"` + model + `","input":"hi"}`, fakeprovider.NewOpenAI},
		{"openai responses stream", "openai", "/v1/responses", `{"model":"` + model + `","input":"hi","stream":true}`, fakeprovider.NewOpenAI},
		{"anthropic", "anthropic", "/v1/messages", `{"model":"` + model + `","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, fakeprovider.NewAnthropic},
		{"anthropic stream", "anthropic", "/v1/messages", `{"model":"` + model + `","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, fakeprovider.NewAnthropic},
		{"copilot", "copilot", "/chat/completions", `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`, fakeprovider.NewCopilot},
		{"copilot stream", "copilot", "/chat/completions", `{"model":"` + model + `","stream":true,"messages":[{"role":"user","content":"hi"}]}`, fakeprovider.NewCopilot},
		{"gemini path", "gemini", "/v1beta/models/" + model + ":generateContent", `{"contents":[{"parts":[{"text":"hi"}]}]}`, fakeprovider.NewGemini},
		{"gemini path stream", "gemini", "/v1beta/models/" + model + ":streamGenerateContent?alt=sse", `{"contents":[{"parts":[{"text":"hi"}]}]}`, fakeprovider.NewGemini},
	}
}

// TestGuardDisallowedModelEveryShape: a denied model is refused before
// anything reaches the upstream, whichever provider and request shape
// names it; a permitted one goes through.
func TestGuardDisallowedModelEveryShape(t *testing.T) {
	cfg := guards.Config{DisallowedModels: []string{"*opus*"}}
	for _, sh := range shapes("x-opus-9") {
		t.Run(sh.name, func(t *testing.T) {
			fake := sh.fake(fakeprovider.Reply{})
			r := newRig(t, fake, withGuards(cfg))
			resp, body := r.do(sh.provider, "POST", sh.path, post(sh.body), jsonCT)
			if resp.StatusCode != 403 || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d %q", resp.StatusCode, body)
			}
			e := guardError(t, body)
			if e["type"] != "model_policy_violation" || e["reason"] != "disallowed" || e["model"] != "x-opus-9" ||
				e["message"] != "Model 'x-opus-9' is not permitted: it is explicitly disallowed by the model policy." {
				t.Fatalf("body %v", e)
			}
			if n := len(fake.Requests()); n != 0 {
				t.Fatalf("upstream received %d requests", n)
			}
			r.waitEvents("model_policy_violation", 1)
			// The permitted model of the same shape goes through.
			ok := strings.Replace(strings.Replace(sh.body, "x-opus-9", "gpt-5", 1), "", "", 0)
			okPath := strings.Replace(sh.path, "x-opus-9", "gemini-2.5-pro", 1)
			if resp, body := r.do(sh.provider, "POST", okPath, post(ok), jsonCT); resp.StatusCode != 200 {
				t.Fatalf("permitted model: %d %s", resp.StatusCode, body)
			}
			if n := len(fake.Requests()); n != 1 {
				t.Fatalf("upstream received %d requests", n)
			}
		})
	}
	t.Run("websocket ?model=", func(t *testing.T) {
		fake := fakeprovider.NewOpenAI(fakeprovider.Reply{})
		r := newRig(t, fake, withGuards(cfg))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.urls["openai"], "http")+"/v1/responses?model=claude-opus-4-1", nil)
		if err == nil || resp == nil || resp.StatusCode != 403 {
			t.Fatalf("upgrade with a denied model: %v %v", err, resp)
		}
		if n := len(fake.Requests()); n != 0 {
			t.Fatalf("upstream received %d requests", n)
		}
	})
}

// TestGuardAllowlist: with an allowlist, anything not on it is refused
// with reason not_allowed.
func TestGuardAllowlist(t *testing.T) {
	fake := fakeprovider.NewAnthropic(fakeprovider.Reply{})
	r := newRig(t, fake, withGuards(guards.Config{AllowedModels: []string{"claude-sonnet-*"}}))
	sh := shapes("claude-haiku-4-5")[4]
	resp, body := r.do("anthropic", "POST", sh.path, post(sh.body), jsonCT)
	if e := guardError(t, body); resp.StatusCode != 403 || e["reason"] != "not_allowed" {
		t.Fatalf("%d %v", resp.StatusCode, e)
	}
	sh = shapes("claude-sonnet-4-5")[4]
	if resp, _ := r.do("anthropic", "POST", sh.path, post(sh.body), jsonCT); resp.StatusCode != 200 {
		t.Fatalf("allowed model: %d", resp.StatusCode)
	}
}

// TestGuardAliasesEveryProvider: apiProxy.models aliases are resolved
// against each provider's own model list (fetched from the upstream) and
// the concrete model goes upstream, in the body or Gemini's path; an alias
// whose only candidates the policy refuses is not rewritten to them.
func TestGuardAliasesEveryProvider(t *testing.T) {
	aliases, err := guards.ParseAliases(`{"models":{"sonnet":["copilot/*sonnet*","anthropic/*sonnet*"],"mini":["openai/gpt-5*mini*"],"fast":["gemini/*flash-lite*"],"agent":["sonnet","mini","fast"],"big":["anthropic/*opus*"]}}`)
	if err != nil {
		t.Fatal(err)
	}
	cfg := guards.Config{Aliases: aliases, DisallowedModels: []string{"*opus*"}}
	for _, tt := range []struct {
		sh   shape
		want string // model that must reach the upstream (body or path)
	}{
		{shapes("agent")[0], "gpt-5-mini"},
		{shapes("mini")[3], "gpt-5-mini"},
		{shapes("sonnet")[5], "claude-sonnet-4-5"},
		{shapes("agent")[6], "claude-sonnet-4.5"},
		{shapes("fast")[8], "gemini-2.5-flash-lite"},
		{shapes("agent")[9], "gemini-2.5-flash-lite"},
	} {
		t.Run(tt.sh.name, func(t *testing.T) {
			fake := tt.sh.fake(fakeprovider.Reply{})
			r := newRig(t, fake, withGuards(cfg))
			resp, body := r.do(tt.sh.provider, "POST", tt.sh.path, post(tt.sh.body), jsonCT)
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			gen := fake.Requests()
			last := gen[len(gen)-1]
			got := guards.ModelFromBody(last.Body)
			if tt.sh.provider == "gemini" {
				got = guards.GeminiPathModel(last.Path)
			}
			if got != tt.want {
				t.Fatalf("upstream got model %q, want %q (%v)", got, tt.want, fake.Summary())
			}
			r.waitEvents("model_rewrite", 1)
		})
	}
	t.Run("alias to refused models only", func(t *testing.T) {
		fake := fakeprovider.NewAnthropic(fakeprovider.Reply{})
		r := newRig(t, fake, withGuards(cfg))
		sh := shapes("big")[4]
		r.do("anthropic", "POST", sh.path, post(sh.body), jsonCT)
		for _, q := range fake.Requests() {
			if strings.Contains(string(q.Body), "opus") {
				t.Fatalf("a refused model reached the upstream: %s", q.Body)
			}
		}
	})
}

// usageStream is an OpenAI chat SSE stream whose usage arrives in the last
// event, after gate is closed (nil: at once).
func usageStream(in, out int, gate <-chan struct{}, delivered *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"object":"list","data":[]}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for i := 0; i < 5; i++ {
			fmt.Fprintf(w, "data: {\"model\":\"gpt-5.4\",\"choices\":[{\"delta\":{\"content\":\"part%d \"}}]}\n\n", i)
			f.Flush()
		}
		if gate != nil {
			select {
			case <-gate:
			case <-time.After(10 * time.Second):
			}
		}
		fmt.Fprintf(w, "data: {\"model\":\"gpt-5.4\",\"choices\":[],\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d}}\n\ndata: [DONE]\n\n", in, out)
		if delivered != nil {
			delivered.Add(int64(in*25 + out*150)) // in 1e-5 credits at gpt-5.4 rates ($2.5 and $15 per 1M)
		}
	}
}

// TestGuardCapReachedMidStream: as the original, a stream in flight when
// the budget is crossed is not cut: it is delivered whole and accounted;
// every request after the crossing is refused.
func TestGuardCapReachedMidStream(t *testing.T) {
	gate := make(chan struct{})
	slow := usageStream(1000, 1000, gate, nil) // 0.25 + 1.5 = 1.75 credits
	fast := usageStream(4000, 1000, nil, nil)  // 1.0 + 1.5 = 2.5 credits
	var n atomic.Int64
	r := newRig(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if n.Add(1) == 1 {
			slow(w, req)
		} else {
			fast(w, req)
		}
	}), withGuards(guards.Config{MaxAICredits: 2}))
	body := `{"model":"gpt-5.4","stream":true,"messages":[]}`
	streamA := inBackground(func() (*http.Response, error) {
		return client.Post(r.urls["openai"]+"/v1/chat/completions", "application/json", post(body))
	})
	for n.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	resp, b := r.do("openai", "POST", "/v1/chat/completions", post(body), jsonCT)
	if resp.StatusCode != 200 || !strings.Contains(b, "[DONE]") {
		t.Fatalf("B: %d %s", resp.StatusCode, b)
	}
	r.waitEvents("token_usage", 1) // B settled: 2.5 >= 2
	resp, b = r.do("openai", "POST", "/v1/chat/completions", post(body), jsonCT)
	if e := guardError(t, b); resp.StatusCode != 403 || e["type"] != "ai_credits_limit_exceeded" || e["total_ai_credits"] != 2.5 {
		t.Fatalf("C: %d %v", resp.StatusCode, e)
	}
	close(gate)
	if a := <-streamA; !strings.Contains(a, "part4") || !strings.Contains(a, `"usage"`) || !strings.HasSuffix(a, "data: [DONE]\n\n") {
		t.Fatalf("stream A was cut: %q", a)
	}
	r.waitEvents("token_usage", 2)
	if resp, _ := r.do("openai", "GET", "/v1/models", nil, nil); resp.StatusCode != 403 {
		t.Fatalf("after the cap a model listing got %d", resp.StatusCode)
	}
	recs := r.records()
	if len(recs) != 2 || *recs[1].AICreditsTotal != 4.25 {
		t.Fatalf("records %+v", recs)
	}
	snap := r.snapshot()
	if snap.AICredits != 4.25 || snap.MaxAICredits != 2 || snap.StoppedBy == nil || snap.StoppedBy.Rule != "ai_credits_limit_exceeded" {
		t.Fatalf("snapshot %+v", snap)
	}
	if n.Load() != 2 {
		t.Fatalf("upstream received %d requests, want 2", n.Load())
	}
}

// TestGuardParallelStreamsOvershootBound: N agents stream against one
// budget until refused. The proxy's total equals what the upstream
// reported, and it exceeds the cap by at most one request per stream.
func TestGuardParallelStreamsOvershootBound(t *testing.T) {
	const streams, in, out = 8, 2000, 1000 // 0.5 + 1.5 = 2 credits per request at gpt-5.4
	const limit = 25.0
	var delivered atomic.Int64 // ground truth, in 1e-5 credits
	h := usageStream(in, out, nil, &delivered)
	var upstream atomic.Int64
	r := newRig(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		upstream.Add(1)
		time.Sleep(time.Duration(upstream.Load()%3) * time.Millisecond) // stagger the settles
		h(w, req)
	}), withGuards(guards.Config{MaxAICredits: limit}))
	var wg sync.WaitGroup
	var refused, admitted atomic.Int64
	for i := 0; i < streams; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				resp, err := client.Post(r.urls["openai"]+"/v1/chat/completions", "application/json", post(`{"model":"gpt-5.4","stream":true,"messages":[]}`))
				if err != nil {
					t.Error(err)
					return
				}
				b := make([]byte, 64<<10)
				nb := 0
				for {
					k, err := resp.Body.Read(b[nb:])
					nb += k
					if err != nil {
						break
					}
				}
				resp.Body.Close()
				if resp.StatusCode == 403 {
					refused.Add(1)
					return
				}
				admitted.Add(1)
			}
		}()
	}
	wg.Wait()
	recs := r.records()
	snap := r.snapshot()
	truth := float64(delivered.Load()) / 1e5
	if math.Abs(snap.AICredits-truth) > 1e-6 || len(recs) != int(upstream.Load()) || admitted.Load() != upstream.Load() {
		t.Fatalf("proxy total %v, upstream truth %v; %d records, %d upstream requests, %d admitted", snap.AICredits, truth, len(recs), upstream.Load(), admitted.Load())
	}
	perRequest := 2.0
	if snap.AICredits < limit || snap.AICredits > limit+streams*perRequest {
		t.Fatalf("total %v outside [limit %v, limit + %d×%v]", snap.AICredits, limit, streams, perRequest)
	}
	if refused.Load() != streams {
		t.Fatalf("%d streams refused, want all %d", refused.Load(), streams)
	}
	t.Logf("limit %v, spent %v (overshoot %.1f credits = %.1f requests), %d requests", limit, snap.AICredits, snap.AICredits-limit, (snap.AICredits-limit)/perRequest, upstream.Load())

	// `awf logs summary` shows the same numbers: spend against the limit,
	// the guard that stopped the run, and token sums equal to what the
	// upstream reported.
	dir := filepath.Dir(r.tokens)
	os.WriteFile(filepath.Join(dir, "access.log"), nil, 0o644)
	st, err := logs.LoadStats(logs.Source{Path: dir}, "")
	if err != nil {
		t.Fatal(err)
	}
	md := logs.FormatStatsMarkdown(st)
	calls := upstream.Load()
	for _, want := range []string{
		fmt.Sprintf("| AI credits | %.4f | 25 |", truth),
		"Stopped by guard `ai_credits_limit_exceeded`",
		fmt.Sprintf("`ai_credits_limit_exceeded` %d", streams),
		fmt.Sprintf("| gpt-5.4 | %d | %.4f | curated |", calls, truth),
		fmt.Sprintf("▼ %d calls | %s input | %s output", calls, thousandsOf(calls*in), thousandsOf(calls*out)),
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
}

func thousandsOf(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// TestGuardTurnLimit: maxRuns counts successful inference calls (model
// listings do not count) and answers 429 without Retry-After; parallel
// callers cannot get more turns than the limit.
func TestGuardTurnLimit(t *testing.T) {
	fake := fakeprovider.NewOpenAI(fakeprovider.Reply{})
	r := newRig(t, fake, withGuards(guards.Config{MaxRuns: 3}))
	chat := `{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}`
	for i := 0; i < 3; i++ {
		if resp, _ := r.do("openai", "GET", "/v1/models", nil, nil); resp.StatusCode != 200 {
			t.Fatal("model listing refused")
		}
		if resp, b := r.do("openai", "POST", "/v1/chat/completions", post(chat), jsonCT); resp.StatusCode != 200 {
			t.Fatalf("turn %d: %d %s", i+1, resp.StatusCode, b)
		}
	}
	resp, b := r.do("openai", "POST", "/v1/chat/completions", post(chat), jsonCT)
	e := guardError(t, b)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "" || e["type"] != "max_runs_exceeded" ||
		e["message"] != "Maximum LLM invocations exceeded (3 / 3)." || e["invocation_count"] != 3.0 || e["max_runs"] != 3.0 {
		t.Fatalf("%d %v", resp.StatusCode, e)
	}
	if n := len(fake.Find("/chat/completions")); n != 3 {
		t.Fatalf("upstream served %d turns", n)
	}
	// /reflect reports the state, in the original's shape.
	_, rb := r.do("openai", "GET", "/reflect", nil, nil)
	var ref struct {
		Runs             map[string]any `json:"runs"`
		CacheMisses      map[string]any `json:"cache_misses"`
		PermissionDenied map[string]any `json:"permission_denied"`
		AICredits        map[string]any `json:"ai_credits"`
	}
	json.Unmarshal([]byte(rb), &ref)
	if ref.Runs["enabled"] != true || ref.Runs["max_runs"] != 3.0 || ref.Runs["invocation_count"] != 3.0 || ref.Runs["remaining_runs"] != 0.0 ||
		ref.CacheMisses["enabled"] != false || ref.CacheMisses["max_cache_misses"] != nil || ref.PermissionDenied["denied_count"] != 0.0 ||
		ref.AICredits["total"] == nil {
		t.Fatalf("/reflect: %s", rb)
	}

	t.Run("parallel", func(t *testing.T) {
		fake := fakeprovider.NewOpenAI(fakeprovider.Reply{})
		r := newRig(t, fake, withGuards(guards.Config{MaxRuns: 5}))
		var wg sync.WaitGroup
		var ok atomic.Int64
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := client.Post(r.urls["openai"]+"/v1/chat/completions", "application/json", post(chat))
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == 200 {
						ok.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 5 || len(fake.Find("/chat/completions")) != 5 {
			t.Fatalf("%d turns granted, %d reached the upstream; limit 5", ok.Load(), len(fake.Find("/chat/completions")))
		}
	})
}

// TestGuardCacheMisses: consecutive responses with input but no cache
// reads stop the run at the limit; a cache hit resets the streak.
func TestGuardCacheMisses(t *testing.T) {
	var cached atomic.Int64
	r := newRig(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"type":"message","model":"claude-sonnet-4-5","usage":{"input_tokens":100,"output_tokens":5,"cache_read_input_tokens":%d}}`, cached.Load())
	}), withGuards(guards.Config{MaxCacheMisses: 2}))
	msg := shapes("claude-sonnet-4-5")[4]
	send := func() (int, string) {
		resp, b := r.do("anthropic", "POST", msg.path, post(msg.body), jsonCT)
		return resp.StatusCode, b
	}
	events := 0
	for _, c := range []int64{0, 50, 0} { // miss, hit (reset), miss
		cached.Store(c)
		if s, b := send(); s != 200 {
			t.Fatalf("%d %s", s, b)
		}
		events++
		r.waitEvents("token_usage", events)
	}
	cached.Store(0)
	send() // second consecutive miss
	r.waitEvents("token_usage", events+1)
	s, b := send()
	if e := guardError(t, b); s != 403 || e["type"] != "max_cache_misses_exceeded" || e["consecutive_cache_misses"] != 2.0 {
		t.Fatalf("%d %v", s, e)
	}
}

// TestGuardPermissionDenied: upstream 401/403s stop the run at the limit.
func TestGuardPermissionDenied(t *testing.T) {
	rc := &recorder{then: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(401) }}
	r := newRig(t, rc, withGuards(guards.Config{MaxPermissionDenied: 2}))
	for i := 0; i < 2; i++ {
		if resp, _ := r.do("openai", "POST", "/v1/chat/completions", post(`{}`), jsonCT); resp.StatusCode != 401 {
			t.Fatalf("upstream status not relayed: %d", resp.StatusCode)
		}
	}
	r.waitEvents("request_complete", 2)
	resp, b := r.do("openai", "POST", "/v1/chat/completions", post(`{}`), jsonCT)
	if e := guardError(t, b); resp.StatusCode != 403 || e["type"] != "permission_denied_limit_exceeded" || e["denied_count"] != 2.0 {
		t.Fatalf("%d %v", resp.StatusCode, e)
	}
	if rc.count() != 2 {
		t.Fatalf("upstream got %d requests", rc.count())
	}
}

// TestGuardSteeringInjected: after a response crosses 80% of the
// effective-token budget, the next request carries the warning, once.
func TestGuardSteeringInjected(t *testing.T) {
	fake := fakeprovider.NewAnthropic(fakeprovider.Reply{InputTokens: 100, OutputTokens: 50})
	// One call = 100 + 4×50 = 300 effective tokens: 85.7% of 350.
	r := newRig(t, fake, withGuards(guards.Config{MaxEffectiveTokens: 350, Steering: true}))
	msg := shapes("claude-sonnet-4-5")[4]
	r.do("anthropic", "POST", msg.path, post(msg.body), jsonCT)
	r.waitEvents("token_usage", 1)
	r.do("anthropic", "POST", msg.path, post(msg.body), jsonCT)
	reqs := fake.Find("/v1/messages")
	if strings.Contains(string(reqs[0].Body), "AWF TOKEN WARNING") || !strings.Contains(string(reqs[1].Body), `[AWF TOKEN WARNING] You have used 80% of your effective token budget.`) {
		t.Fatalf("bodies: %s / %s", reqs[0].Body, reqs[1].Body)
	}
	r.waitEvents("token_steering", 1)
	resp, b := r.do("anthropic", "POST", msg.path, post(msg.body), jsonCT)
	if e := guardError(t, b); resp.StatusCode != 403 || e["type"] != "effective_tokens_limit_exceeded" || e["message"] != "Maximum effective tokens exceeded (600.00 / 350)." {
		t.Fatalf("%d %v", resp.StatusCode, e)
	}
	recs := r.records()
	if len(recs) != 2 || recs[1].EffectiveTokensTotal == nil || *recs[1].EffectiveTokensTotal != 600 || *recs[1].ModelMultiplier != 1 {
		t.Fatalf("records %+v", recs)
	}
}

// TestGuardUnknownModel: with a credit budget and no default price, a
// model the table does not know is refused (400); with a default price it
// is admitted, priced by the default and reported.
func TestGuardUnknownModel(t *testing.T) {
	fake := fakeprovider.NewOpenAI(fakeprovider.Reply{InputTokens: 1000, OutputTokens: 1000})
	r := newRig(t, fake, withGuards(guards.Config{MaxAICredits: 100}))
	resp, b := r.do("openai", "POST", "/v1/chat/completions", post(`{"model":"mystery-9","messages":[]}`), jsonCT)
	if e := guardError(t, b); resp.StatusCode != 400 || e["type"] != "unknown_model_ai_credits" || e["model"] != "mystery-9" {
		t.Fatalf("%d %v", resp.StatusCode, e)
	}
	def, _ := guards.ParseDefaultPricing(`{"input": 10, "output": 30}`)
	fake = fakeprovider.NewOpenAI(fakeprovider.Reply{InputTokens: 1000, OutputTokens: 1000, CachedTokens: 0})
	r = newRig(t, fake, withGuards(guards.Config{MaxAICredits: 100, DefaultPricing: def}))
	if resp, _ := r.do("openai", "POST", "/v1/chat/completions", post(`{"model":"mystery-9","messages":[]}`), jsonCT); resp.StatusCode != 200 {
		t.Fatalf("%d", resp.StatusCode)
	}
	r.waitEvents("unknown_model_ai_credits_pricing", 1)
	recs := r.records()
	// (1000×10 + 1000×30) / 1e4 = 4 credits
	if len(recs) != 1 || *recs[0].AICreditsThisResponse != 4 || recs[0].AICreditsPricingSource != "configured_default" || !*recs[0].AICreditsFallbackPricing {
		t.Fatalf("%+v", recs)
	}
}

// sendTurn sends one response.create and reads until the turn ends: the
// response.completed event (ok) or a guard's error event and close.
func sendTurn(t *testing.T, ctx context.Context, c *websocket.Conn, model string) (completed bool, errEvent map[string]any, closeErr error) {
	t.Helper()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"response.create","model":"`+model+`","input":[{"role":"user","content":"hi"}]}`)); err != nil {
		return false, nil, err
	}
	for {
		_, m, err := c.Read(ctx)
		if err != nil {
			return false, errEvent, err
		}
		var ev map[string]any
		json.Unmarshal(m, &ev)
		switch ev["type"] {
		case "response.completed":
			return true, nil, nil
		case "error":
			errEvent = ev
		}
	}
}

// TestGuardWebSocketTurns: on one Responses API WebSocket, every
// response.create is a turn: budgets and model policy apply per turn, a
// refused turn never reaches the upstream, and the agent gets the guard's
// error event and a 1008 close.
func TestGuardWebSocketTurns(t *testing.T) {
	for _, mode := range []websocket.CompressionMode{websocket.CompressionDisabled, websocket.CompressionContextTakeover} {
		t.Run(map[websocket.CompressionMode]string{websocket.CompressionDisabled: "plain", websocket.CompressionContextTakeover: "deflate"}[mode], func(t *testing.T) {
			fake := fakeprovider.NewOpenAI(fakeprovider.Reply{InputTokens: 1000, OutputTokens: 100})
			r := newRig(t, fake, withGuards(guards.Config{MaxRuns: 2, DisallowedModels: []string{"*opus*"}}))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			dial := func() *websocket.Conn {
				c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.urls["openai"], "http")+"/v1/responses", &websocket.DialOptions{CompressionMode: mode})
				if err != nil {
					t.Fatal(err)
				}
				c.SetReadLimit(1 << 20)
				return c
			}
			c := dial()
			defer c.CloseNow()
			for i := 0; i < 2; i++ {
				if ok, ev, err := sendTurn(t, ctx, c, "gpt-5"); !ok {
					t.Fatalf("turn %d: %v %v", i+1, ev, err)
				}
			}
			ok, ev, err := sendTurn(t, ctx, c, "gpt-5")
			e, _ := ev["error"].(map[string]any)
			if ok || ev == nil || ev["status"] != 429.0 || e["type"] != "max_runs_exceeded" || websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
				t.Fatalf("third turn: completed=%v event=%v err=%v", ok, ev, err)
			}
			var frames int
			for _, q := range fake.Requests() {
				frames += len(q.Frames)
			}
			if frames != 2 {
				t.Fatalf("upstream received %d turns, want 2", frames)
			}
			recs := r.records()
			if len(recs) != 2 || recs[0].Transport != "websocket" || recs[0].InputTokens != 1000 || recs[1].AICreditsTotal == nil {
				t.Fatalf("records %+v", recs)
			}
		})
	}
	t.Run("disallowed model in response.create", func(t *testing.T) {
		fake := fakeprovider.NewOpenAI(fakeprovider.Reply{})
		r := newRig(t, fake, withGuards(guards.Config{DisallowedModels: []string{"*opus*"}}))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.urls["openai"], "http")+"/v1/responses", &websocket.DialOptions{CompressionMode: websocket.CompressionContextTakeover})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		if ok, ev, _ := sendTurn(t, ctx, c, "gpt-5"); !ok {
			t.Fatalf("allowed turn: %v", ev)
		}
		ok, ev, err := sendTurn(t, ctx, c, "claude-opus-4-1")
		e, _ := ev["error"].(map[string]any)
		if ok || ev["status"] != 403.0 || e["type"] != "model_policy_violation" || e["reason"] != "disallowed" || websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
			t.Fatalf("completed=%v event=%v err=%v", ok, ev, err)
		}
		for _, q := range fake.Requests() {
			for _, f := range q.Frames {
				if strings.Contains(f, "opus") {
					t.Fatalf("the refused turn reached the upstream: %s", f)
				}
			}
		}
		r.waitEvents("model_policy_violation", 1)
	})
}

// TestGuardDuplicateModelKeys: a body naming the model twice cannot slip a
// refused model past the policy, whichever copy the upstream reads.
func TestGuardDuplicateModelKeys(t *testing.T) {
	fake := fakeprovider.NewOpenAI(fakeprovider.Reply{})
	r := newRig(t, fake, withGuards(guards.Config{DisallowedModels: []string{"*opus*"}}))
	for _, body := range []string{`{"model":"x-opus-9","model":"gpt-5","messages":[]}`, `{"model":"gpt-5","messages":[],"model":"x-opus-9"}`} {
		resp, b := r.do("openai", "POST", "/v1/chat/completions", post(body), jsonCT)
		if e := guardError(t, b); resp.StatusCode != 403 || e["model"] != "x-opus-9" {
			t.Fatalf("%s: %d %v", body, resp.StatusCode, e)
		}
	}
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("upstream received %d requests", n)
	}
}

// TestGuardNonJSONBodyStreams: with guards that need the model, a body
// that is not a JSON object (a file upload) still streams: the upstream
// sees its first bytes before the agent has sent the rest.
func TestGuardNonJSONBodyStreams(t *testing.T) {
	first := make(chan struct{})
	r := newRig(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b := make([]byte, 4)
		io.ReadFull(req.Body, b)
		close(first)
		n, _ := io.Copy(io.Discard, req.Body)
		fmt.Fprintf(w, `{"bytes":%d}`, n+4)
	}), withGuards(guards.Config{DisallowedModels: []string{"*opus*"}, MaxAICredits: 10}))
	pr, pw := io.Pipe()
	got := inBackground(func() (*http.Response, error) {
		return client.Post(r.urls["openai"]+"/v1/files", "application/octet-stream", pr)
	})
	pw.Write([]byte("\n  PK\x03\x04 first part"))
	select {
	case <-first:
	case <-time.After(5 * time.Second):
		pw.Close()
		t.Fatal("the upstream saw nothing before the body ended: the body was held back")
	}
	pw.Write([]byte(strings.Repeat("z", 100000)))
	pw.Close()
	if b := <-got; b != `{"bytes":100018}` {
		t.Fatalf("got %q", b)
	}
}

// TestGuardMiddlePowerFallback: with aliases configured and no model
// policy, a model the provider does not list is rewritten to its
// median-capability model, as the original does, and the rewrite is logged.
func TestGuardMiddlePowerFallback(t *testing.T) {
	aliases, _ := guards.ParseAliases(`{"models":{"sonnet":["anthropic/*sonnet*"]}}`)
	fake := fakeprovider.NewAnthropic(fakeprovider.Reply{})
	r := newRig(t, fake, withGuards(guards.Config{Aliases: aliases}))
	sh := shapes("claude-99-unknown")[4]
	if resp, b := r.do("anthropic", "POST", sh.path, post(sh.body), jsonCT); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	gen := fake.Find("/v1/messages")
	if m := guards.ModelFromBody(gen[len(gen)-1].Body); m != "claude-sonnet-4-5" {
		t.Fatalf("upstream got %q", m)
	}
	r.waitEvents("model_fallback_activated", 1)
}

// TestGuardRequestedModelValidation: apiProxy.requestedModel is looked up
// in the provider's list at start-up (directly or through an alias) and
// the outcome is logged; nothing is refused.
func TestGuardRequestedModelValidation(t *testing.T) {
	aliases, _ := guards.ParseAliases(`{"models":{"sonnet":["anthropic/*sonnet*"]}}`)
	for _, tt := range []struct{ model, event, via string }{
		{"sonnet", "model_validation", `"resolved_via":"alias"`},
		{"claude-haiku-4-5", "model_validation", `"resolved_via":"direct"`},
		{"claude-retired-1", "model_unavailable_at_startup", `Available models: `},
	} {
		r := newRig(t, fakeprovider.NewAnthropic(fakeprovider.Reply{}), withGuards(guards.Config{Aliases: aliases, RequestedModel: tt.model}))
		r.waitEvents(tt.event, 1)
		if !strings.Contains(r.logs.String(), tt.via) {
			t.Errorf("%s: log lacks %s:\n%s", tt.model, tt.via, r.logs.String())
		}
	}
}

// TestGuardBlockedRequestDiag: with apiProxy.diagnostics.captureBlockedRequests
// a refused request leaves a record of its body's shape (no content in
// summary mode), named after the guard with its totals.
func TestGuardBlockedRequestDiag(t *testing.T) {
	fake := fakeprovider.NewOpenAI(fakeprovider.Reply{})
	r := newRig(t, fake, withGuards(guards.Config{MaxRuns: 1, CaptureBlocked: "summary"}))
	body := `{"model":"gpt-5","messages":[{"role":"user","content":"SECRET-PROMPT-TEXT"}]}`
	r.do("openai", "POST", "/v1/chat/completions", post(body), jsonCT)
	r.waitEvents("request_complete", 1)
	if resp, _ := r.do("openai", "POST", "/v1/chat/completions", post(body), jsonCT); resp.StatusCode != 429 {
		t.Fatalf("%d", resp.StatusCode)
	}
	r.stop()
	b, err := os.ReadFile(filepath.Join(filepath.Dir(r.tokens), guards.DiagFile))
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	totals, _ := rec["guard_totals"].(map[string]any)
	if rec["event"] != "blocked_request_diag" || rec["guard_type"] != "max_runs_exceeded" || rec["capture_mode"] != "summary" ||
		totals["invocation_count"] != 1.0 || rec["message_count"] != 1.0 || rec["model"] != "gpt-5" || !strings.HasPrefix(rec["_schema"].(string), "blocked-request-diag/v") {
		t.Fatalf("record %s", b)
	}
	if strings.Contains(string(b), "SECRET-PROMPT-TEXT") {
		t.Fatal("summary mode captured content")
	}
}
