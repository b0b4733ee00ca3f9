package apiproxy

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestWebSocketRelayedWithHeaderPolicyAndUsage(t *testing.T) {
	for _, mode := range []websocket.CompressionMode{websocket.CompressionDisabled, websocket.CompressionNoContextTakeover} {
		t.Run(map[websocket.CompressionMode]string{websocket.CompressionDisabled: "plain", websocket.CompressionNoContextTakeover: "deflate"}[mode], func(t *testing.T) {
			gotAuth := make(chan http.Header, 1)
			r := newRig(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotAuth <- r.Header.Clone()
				c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: mode})
				if err != nil {
					return
				}
				defer c.CloseNow()
				ctx := r.Context()
				_, msg, err := c.Read(ctx)
				if err != nil {
					return
				}
				c.Write(ctx, websocket.MessageText, []byte(`{"type":"response.created","response":{"model":"gpt-5-codex"}}`))
				c.Write(ctx, websocket.MessageText, []byte(`{"type":"response.output_text.delta","delta":"`+string(msg)+`"}`))
				c.Write(ctx, websocket.MessageText, []byte(`{"type":"response.completed","response":{"model":"gpt-5-codex","usage":{"input_tokens":40,"output_tokens":9,"input_tokens_details":{"cached_tokens":8}}}}`))
				c.Close(websocket.StatusNormalClosure, "bye")
			}))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			h := http.Header{}
			h.Set("Authorization", "Bearer placeholder")
			h.Set("X-Forwarded-For", "172.30.0.20")
			c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.urls["openai"], "http")+"/v1/responses", &websocket.DialOptions{HTTPHeader: h, CompressionMode: mode})
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.CloseNow()
			if resp.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-ID on the 101 response")
			}
			if err := c.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
				t.Fatal(err)
			}
			var msgs []string
			for {
				_, m, err := c.Read(ctx)
				if err != nil {
					break
				}
				msgs = append(msgs, string(m))
			}
			if len(msgs) != 3 || !strings.Contains(msgs[1], `"delta":"hello"`) {
				t.Fatalf("messages: %q", msgs)
			}
			up := <-gotAuth
			want(t, up.Get("Authorization"), "Bearer "+testKeys["openai"])
			want(t, up.Get("X-Forwarded-For"), "")
			c.CloseNow()
			deadline := time.Now().Add(3 * time.Second)
			for time.Now().Before(deadline) && !strings.Contains(r.logs.String(), `"event":"token_usage"`) {
				time.Sleep(20 * time.Millisecond)
			}
			r.stop()
			data, _ := os.ReadFile(r.tokens)
			var rec map[string]any
			if err := json.Unmarshal(data, &rec); err != nil {
				t.Fatalf("token log %q: %v", data, err)
			}
			if rec["transport"] != "websocket" || rec["input_tokens"] != 40.0 || rec["output_tokens"] != 9.0 ||
				rec["cache_read_tokens"] != 8.0 || rec["model"] != "gpt-5-codex" || rec["status"] != 101.0 {
				t.Errorf("record: %v", rec)
			}
		})
	}
}

func TestNonWebSocketUpgradeRefused(t *testing.T) {
	rec := &recorder{}
	r := newRig(t, rec)
	resp, body := r.do("openai", "GET", "/v1/x", nil, map[string]string{"Connection": "Upgrade", "Upgrade": "h2c"})
	if resp.StatusCode != 400 || rec.count() != 0 {
		t.Errorf("got %d %s", resp.StatusCode, body)
	}
}

// A WebSocket upgrade to a provider without credentials answers a bare 503
// on its port, as the original's upgrade handler does (OpenAI's plain
// requests answer 404, Anthropic's 403: an upgrade is 503 on every port).
func TestWebSocketUpgradeWithoutKeyIs503(t *testing.T) {
	rec := &recorder{}
	r := newRig(t, rec, withoutKey("openai"), withoutKey("anthropic"), withoutKey("gemini"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, p := range []string{"openai", "anthropic", "gemini"} {
		_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.urls[p], "http")+"/v1/responses", nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			code := 0
			if resp != nil {
				code = resp.StatusCode
			}
			t.Errorf("%s: websocket dial without key: %d %v, want 503", p, code, err)
		}
		resp2, body := r.do(p, "GET", "/health", nil, map[string]string{"Connection": "keep-alive, Upgrade", "Upgrade": "websocket"})
		if resp2.StatusCode != http.StatusServiceUnavailable || body != "" || !resp2.Close {
			t.Errorf("%s: upgrade without key: %d %q close=%v, want a bare 503, Connection: close", p, resp2.StatusCode, body, resp2.Close)
		}
	}
	if resp, _ := r.do("openai", "POST", "/v1/responses", strings.NewReader("{}"), nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("openai plain request without key: %d, want 404 (unchanged)", resp.StatusCode)
	}
	if rec.count() != 0 {
		t.Errorf("upstream got %d requests", rec.count())
	}
}
