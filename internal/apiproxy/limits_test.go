package apiproxy

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestWindowWaitIsTheTrueWait(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	w := newWindow(time.Second, 60, 3)
	w.add(t0, 1)
	w.add(t0.Add(10*time.Second), 1)
	w.add(t0.Add(20*time.Second), 1)
	now := t0.Add(30 * time.Second)
	// The oldest request (t0) leaves the window at t0+60s: 30 s from now.
	if got := w.wait(now, 1); got != 30*time.Second {
		t.Errorf("wait = %v, want 30s", got)
	}
	if got := w.wait(t0.Add(60*time.Second), 1); got != 0 {
		t.Errorf("after expiry wait = %v, want 0", got)
	}
	// Two must expire to fit two more: the second leaves at t0+70s.
	if got := w.wait(now, 2); got != 40*time.Second {
		t.Errorf("wait for 2 = %v, want 40s", got)
	}
	// A slot is reused once its epoch passes.
	w.add(t0.Add(61*time.Second), 1)
	if c := w.count(t0.Add(61 * time.Second)); c != 3 {
		t.Errorf("count after wrap = %d, want 3", c)
	}
}

func TestLimiterOrderAndMessages(t *testing.T) {
	now := time.Unix(2_000_000, 500_000_000)
	l := newLimiter(RateLimitConfig{Enabled: true, RPM: 2, RPH: 100, BytesPM: 1000})
	for i := 0; i < 2; i++ {
		if d := l.check(now, 10); !d.Allowed {
			t.Fatalf("request %d denied: %+v", i, d)
		}
	}
	d := l.check(now.Add(5*time.Second), 10)
	if d.Allowed || d.Kind.key != "rpm" || d.Remaining != 0 {
		t.Fatalf("third request: %+v", d)
	}
	// Both requests sit in the slot that began at second 2_000_000; it
	// expires at 2_000_060, i.e. 54.5 s after the check: answer 55 s.
	if s := d.RetryAfterSeconds(); s != 55 {
		t.Errorf("Retry-After = %d, want 55", s)
	}
	want(t, d.Message("openai"), "Rate limit exceeded for openai provider. Limit: 2 requests per minute. Retry after 55 seconds.")
	// Bytes: a denied request is not recorded.
	l2 := newLimiter(RateLimitConfig{Enabled: true, RPM: 100, RPH: 100, BytesPM: 1000})
	if d := l2.check(now, 900); !d.Allowed {
		t.Fatal(d)
	}
	if d := l2.check(now, 200); d.Allowed || d.Kind.key != "bytes_pm" {
		t.Fatalf("bytes: %+v", d)
	}
	if d := l2.check(now, 100); !d.Allowed {
		t.Fatalf("a request that fits after a denial: %+v", d)
	}
}

func TestRateLimitResponse(t *testing.T) {
	r := newRig(t, &recorder{}, func(c *Config) {
		c.RateLimit = RateLimitConfig{Enabled: true, RPM: 2, RPH: 1000, BytesPM: DefaultBytesPM}
	})
	for i := 0; i < 2; i++ {
		if resp, b := r.do("openai", "POST", "/v1/chat/completions", strings.NewReader("{}"), nil); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, b)
		}
	}
	resp, body := r.do("openai", "POST", "/v1/chat/completions", strings.NewReader("{}"), nil)
	if resp.StatusCode != 429 {
		t.Fatalf("third request: %d %s", resp.StatusCode, body)
	}
	ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if ra < 58 || ra > 61 {
		t.Errorf("Retry-After = %d, want the real wait (about 60 s)", ra)
	}
	want(t, resp.Header.Get("X-RateLimit-Limit"), "2")
	want(t, resp.Header.Get("X-RateLimit-Remaining"), "0")
	if reset, _ := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); reset < time.Now().Unix()+55 {
		t.Errorf("X-RateLimit-Reset = %d", reset)
	}
	var e struct {
		Error struct {
			Type, Message, Provider, Window string
			Limit                           int
			RetryAfter                      int `json:"retry_after"`
		}
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Type != "rate_limit_error" ||
		e.Error.Provider != "openai" || e.Error.Window != "per_minute" || e.Error.Limit != 2 || e.Error.RetryAfter != ra {
		t.Errorf("429 body: %s", body)
	}
	// Limits are per provider.
	if resp, _ := r.do("anthropic", "POST", "/v1/messages", strings.NewReader("{}"), nil); resp.StatusCode != 200 {
		t.Errorf("anthropic limited by openai's traffic: %d", resp.StatusCode)
	}
	_, m := r.do("openai", "GET", "/metrics", nil, nil)
	if !strings.Contains(m, `"rate_limit_rejected_total:openai:rpm":1`) {
		t.Errorf("metrics: %s", m)
	}
}

func TestTokenUsageRecorded(t *testing.T) {
	r := newRig(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/chat/completions":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			fmt.Fprint(zw, `{"id":"c1","model":"gpt-5","usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18,"prompt_tokens_details":{"cached_tokens":3}}}`)
			zw.Close()
		case "/v1/messages":
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":4,\"cache_read_input_tokens\":6,\"output_tokens\":1}}}\n\n")
			fmt.Fprint(w, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n")
			fmt.Fprint(w, "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}\n\n")
		}
	}))
	_, body := r.do("openai", "POST", "/v1/chat/completions", strings.NewReader("{}"), map[string]string{"Accept-Encoding": "gzip"})
	if !strings.HasPrefix(body, "\x1f\x8b") {
		t.Errorf("gzip body was altered on the way: %q", body[:min(10, len(body))])
	}
	r.do("anthropic", "POST", "/v1/messages", strings.NewReader("{}"), nil)
	r.waitEvents("token_usage", 2)
	_, metrics := r.do("openai", "GET", "/metrics", nil, nil)
	for _, c := range []string{`"input_tokens_total:openai":11`, `"output_tokens_total:anthropic":15`} {
		if !strings.Contains(metrics, c) {
			t.Errorf("metrics lack %s: %s", c, metrics)
		}
	}
	r.stop() // flushes the token log
	data, err := os.ReadFile(r.tokens)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 {
		t.Fatalf("token log: %q", data)
	}
	var recs []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, m)
	}
	check := func(m map[string]any, kv map[string]any) {
		t.Helper()
		for k, v := range kv {
			if fmt.Sprint(m[k]) != fmt.Sprint(v) {
				t.Errorf("%s = %v, want %v (record %v)", k, m[k], v, m)
			}
		}
	}
	check(recs[0], map[string]any{"provider": "openai", "model": "gpt-5", "input_tokens": 11, "output_tokens": 7, "cache_read_tokens": 3, "streaming": false, "status": 200, "path": "/v1/chat/completions"})
	check(recs[1], map[string]any{"provider": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 25, "output_tokens": 15, "cache_read_tokens": 6, "cache_write_tokens": 4, "streaming": true})
	for _, m := range recs {
		for _, k := range []string{"timestamp", "request_id", "duration_ms", "response_bytes"} {
			if _, ok := m[k]; !ok {
				t.Errorf("record lacks %s: %v", k, m)
			}
		}
	}
	if !bytes.Contains([]byte(r.logs.String()), []byte(`"event":"token_usage"`)) {
		t.Error("no token_usage log line")
	}
}
