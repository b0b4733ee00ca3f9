package apiproxy

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/awf-dev/awf/internal/fakeprovider"
	"github.com/awf-dev/awf/internal/guards"
)

// TestHostedWebRefusedBeforeUpstream: with apiProxy.hostedWeb.<engine>
// disabled, a request asking for a provider-hosted web tool is answered
// 403 hosted_web_disabled by the proxy and the fake provider never sees
// it; the same request without the tool, and the tool on a port whose
// engine is not disabled, go through.
func TestHostedWebRefusedBeforeUpstream(t *testing.T) {
	off := guards.HostedWebOff{"claude": true, "codex": true, "copilot": true, "gemini": true}
	for _, tt := range []struct {
		name, provider, path, body, without, tool, engine string
		fake                                              func(fakeprovider.Reply) *fakeprovider.Fake
	}{
		{"anthropic messages", "anthropic", "/v1/messages",
			`{"model":"claude-sonnet-4-5","max_tokens":9,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":"hi"}]}`,
			`{"model":"claude-sonnet-4-5","max_tokens":9,"tools":[{"name":"web_search","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"hi"}]}`,
			"web_search_20250305", "claude", fakeprovider.NewAnthropic},
		{"openai responses", "openai", "/v1/responses",
			`{"model":"gpt-5","input":"hi","stream":true,"tools":[{"type":"web_search_preview"}]}`,
			`{"model":"gpt-5","input":"hi","stream":true,"tools":[{"type":"function","name":"web_search","parameters":{}}]}`,
			"web_search_preview", "codex", fakeprovider.NewOpenAI},
		{"openai chat web_search_options", "openai", "/v1/chat/completions",
			`{"model":"gpt-4o-search-preview","web_search_options":{"search_context_size":"low"},"messages":[{"role":"user","content":"hi"}]}`,
			`{"model":"gpt-4o-search-preview","messages":[{"role":"user","content":"hi"}]}`,
			"web_search_options", "codex", fakeprovider.NewOpenAI},
		{"copilot anthropic shape", "copilot", "/chat/completions",
			`{"model":"claude-sonnet-4.5","tools":[{"type":"web_fetch_20250910","name":"web_fetch"}],"messages":[{"role":"user","content":"hi"}]}`,
			`{"model":"claude-sonnet-4.5","messages":[{"role":"user","content":"hi"}]}`,
			"web_fetch_20250910", "copilot", fakeprovider.NewCopilot},
		{"gemini googleSearch", "gemini", "/v1beta/models/gemini-2.5-pro:generateContent",
			`{"contents":[{"parts":[{"text":"hi"}]}],"tools":[{"googleSearch":{}}]}`,
			`{"contents":[{"parts":[{"text":"hi"}]}],"tools":[{"functionDeclarations":[{"name":"googleSearch"}]}]}`,
			"googleSearch", "gemini", fakeprovider.NewGemini},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fake := tt.fake(fakeprovider.Reply{})
			r := newRig(t, fake, withGuards(guards.Config{HostedWebOff: off}))
			resp, body := r.do(tt.provider, "POST", tt.path, post(tt.body), jsonCT)
			if resp.StatusCode != 403 || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d %q", resp.StatusCode, body)
			}
			e := guardError(t, body)
			want := "Provider-hosted web tools (" + tt.tool + ") are disabled for " + tt.engine + " by apiProxy.hostedWeb." + tt.engine +
				".enabled=false; use the firewall's allowlisted network instead"
			if e["type"] != "hosted_web_disabled" || e["message"] != want {
				t.Fatalf("body %v", e)
			}
			if n := len(fake.Requests()); n != 0 {
				t.Fatalf("upstream received %d requests", n)
			}
			r.waitEvents("hosted_web_disabled", 1)
			if resp, body := r.do(tt.provider, "POST", tt.path, post(tt.without), jsonCT); resp.StatusCode != 200 {
				t.Fatalf("without the hosted tool: %d %s", resp.StatusCode, body)
			}
			if n := len(fake.Requests()); n != 1 {
				t.Fatalf("upstream received %d requests, want 1", n)
			}
			r.stop()
			if s := r.snapshot(); s.Blocked["hosted_web_disabled"] != 1 {
				t.Fatalf("blocked %v", s.Blocked)
			}
		})
	}
	t.Run("engine enabled", func(t *testing.T) {
		fake := fakeprovider.NewAnthropic(fakeprovider.Reply{})
		r := newRig(t, fake, withGuards(guards.Config{HostedWebOff: guards.HostedWebOff{"codex": true}}))
		body := `{"model":"claude-sonnet-4-5","max_tokens":9,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":"hi"}]}`
		if resp, b := r.do("anthropic", "POST", "/v1/messages", post(body), jsonCT); resp.StatusCode != 200 || len(fake.Requests()) != 1 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	})
}

// TestHostedWebWebSocket: on a Responses API WebSocket, a response.create
// asking for web_search is refused (error event 403 hosted_web_disabled,
// close 1008) and never reaches the upstream; an earlier plain turn did.
func TestHostedWebWebSocket(t *testing.T) {
	fake := fakeprovider.NewOpenAI(fakeprovider.Reply{})
	r := newRig(t, fake, withGuards(guards.Config{HostedWebOff: guards.HostedWebOff{"codex": true}}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.urls["openai"], "http")+"/v1/responses", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if ok, ev, err := sendTurn(t, ctx, c, "gpt-5"); !ok {
		t.Fatalf("plain turn: %v %v", ev, err)
	}
	msg := `{"type":"response.create","response":{"model":"gpt-5","tools":[{"type":"web_search"}],"input":[{"role":"user","content":"look it up"}]}}`
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	for {
		_, m, err := c.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
				t.Fatalf("close: %v", err)
			}
			break
		}
		json.Unmarshal(m, &ev)
	}
	e, _ := ev["error"].(map[string]any)
	if ev["type"] != "error" || ev["status"] != 403.0 || e["type"] != "hosted_web_disabled" {
		t.Fatalf("event %v", ev)
	}
	var frames int
	for _, q := range fake.Requests() {
		for _, f := range q.Frames {
			frames++
			if strings.Contains(f, "web_search") {
				t.Fatalf("the refused turn reached the upstream: %s", f)
			}
		}
	}
	if frames != 1 {
		t.Fatalf("upstream received %d turns, want 1", frames)
	}
	r.waitEvents("hosted_web_disabled", 1)
}
