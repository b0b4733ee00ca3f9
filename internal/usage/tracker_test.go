package usage

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// encoders produce Content-Encoding variants with independent writers
// (stdlib for gzip/deflate) so decoder bugs cannot cancel out.
var encoders = []struct {
	name, header string
	enc          func([]byte) []byte
}{
	{"identity", "", func(b []byte) []byte { return b }},
	{"gzip", "gzip", func(b []byte) []byte {
		var o bytes.Buffer
		w := gzip.NewWriter(&o)
		w.Write(b)
		w.Close()
		return o.Bytes()
	}},
	{"deflate-zlib", "deflate", func(b []byte) []byte {
		var o bytes.Buffer
		w := zlib.NewWriter(&o)
		w.Write(b)
		w.Close()
		return o.Bytes()
	}},
	{"deflate-raw", "deflate", func(b []byte) []byte {
		var o bytes.Buffer
		w, _ := flate.NewWriter(&o, 6)
		w.Write(b)
		w.Close()
		return o.Bytes()
	}},
	{"br", "br", func(b []byte) []byte {
		var o bytes.Buffer
		w := brotli.NewWriterLevel(&o, 5)
		w.Write(b)
		w.Close()
		return o.Bytes()
	}},
	{"zstd", "zstd", func(b []byte) []byte {
		w, _ := zstd.NewWriter(nil)
		defer w.Close()
		return w.EncodeAll(b, nil)
	}},
	{"gzip-then-br", "gzip, br", func(b []byte) []byte {
		var o bytes.Buffer
		g := gzip.NewWriter(&o)
		g.Write(b)
		g.Close()
		var o2 bytes.Buffer
		w := brotli.NewWriter(&o2)
		w.Write(o.Bytes())
		w.Close()
		return o2.Bytes()
	}},
}

// chunkings split a body into the Write calls the proxy would make.
var chunkings = []struct {
	name  string
	split func([]byte) [][]byte
}{
	{"whole", func(b []byte) [][]byte { return [][]byte{b} }},
	{"bytewise", func(b []byte) [][]byte {
		out := make([][]byte, len(b))
		for i := range b {
			out[i] = b[i : i+1]
		}
		return out
	}},
	{"random", func(b []byte) [][]byte {
		r := rand.New(rand.NewPCG(uint64(len(b)), 3))
		var out [][]byte
		for len(b) > 0 {
			n := min(1+r.IntN(300), len(b))
			out = append(out, b[:n])
			b = b[n:]
		}
		return out
	}},
}

func header(ct, ce string) http.Header {
	h := http.Header{}
	if ct != "" {
		h.Set("Content-Type", ct)
	}
	if ce != "" {
		h.Set("Content-Encoding", ce)
	}
	return h
}

// feedAll writes the chunks and checks the tracker's promises to the
// proxy: it returns len(p), nil and leaves p untouched.
func feedAll(t testing.TB, w interface{ Write([]byte) (int, error) }, chunks [][]byte) {
	t.Helper()
	for _, c := range chunks {
		before := bytes.Clone(c)
		n, err := w.Write(c)
		if n != len(c) || err != nil {
			t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(c))
		}
		if !bytes.Equal(before, c) {
			t.Fatal("Write modified the caller's bytes")
		}
	}
}

func TestTrackerFixtures(t *testing.T) {
	for _, fx := range fixtures() {
		for _, enc := range encoders {
			for _, ch := range chunkings {
				if ch.name == "bytewise" && len(fx.body) > 64<<10 {
					continue
				}
				t.Run(fx.name+"/"+enc.name+"/"+ch.name, func(t *testing.T) {
					body := enc.enc(fx.body)
					tr := NewTracker("openai", header(fx.contentType, enc.header))
					feedAll(t, tr, ch.split(body))
					got := tr.Finish()
					if got != fx.want {
						t.Errorf("usage = %+v\nwant    %+v", got, fx.want)
					}
					if tr.Streaming() != fx.streaming {
						t.Errorf("Streaming = %v, want %v", tr.Streaming(), fx.streaming)
					}
					if tr.Bytes() != int64(len(body)) {
						t.Errorf("Bytes = %d, want %d", tr.Bytes(), len(body))
					}
				})
			}
		}
	}
}

// TestSSEFraming covers the event-stream grammar: line endings, comments,
// multi-line data, missing space after the colon, final event without its
// blank line, and garbage between good events.
func TestSSEFraming(t *testing.T) {
	start := `{"type":"message_start","message":{"model":"claude-haiku-4-5","usage":{"input_tokens":10,"cache_read_input_tokens":3,"output_tokens":1}}}`
	delta := `{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":42}}`
	want := Usage{Found: true, Model: "claude-haiku-4-5", InputTokens: 10, OutputTokens: 42, CacheReadTokens: 3}
	partial := Usage{Found: true, Model: "claude-haiku-4-5", InputTokens: 10, OutputTokens: 1, CacheReadTokens: 3}
	tests := []struct {
		name string
		body string
		want Usage
	}{
		{"lf", "data: " + start + "\n\ndata: " + delta + "\n\n", want},
		{"crlf", "data: " + start + "\r\n\r\ndata: " + delta + "\r\n\r\n", want},
		{"cr", "data: " + start + "\r\rdata: " + delta + "\r\r", want},
		{"no space", "data:" + start + "\n\ndata:" + delta + "\n\n", want},
		{"comments and fields", ": keep-alive\nretry: 3000\nid: 7\nevent: message_start\ndata: " + start + "\n\n: ping\n\nevent: message_delta\ndata: " + delta + "\n\n", want},
		{"multi-line data", "data: {\"type\":\"message_start\",\ndata: \"message\":{\"model\":\"claude-haiku-4-5\",\"usage\":\ndata: {\"input_tokens\":10,\"cache_read_input_tokens\":3,\"output_tokens\":1}}}\n\ndata: " + delta + "\n\n", want},
		{"no final blank line", "data: " + start + "\n\ndata: " + delta, want},
		{"aborted mid-stream", "data: " + start + "\n\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"Hi", partial},
		{"malformed events ignored", "data: {\"usage\": {oops\n\ndata: " + start + "\n\ndata: {\"usage\":\n\ndata: [DONE]\n\ndata: " + delta + "\n\ndata: }{\n\n", want},
		{"data field variants ignored", "database: " + delta + "\n\ndata: " + start + "\n\n", partial},
		{"wrong types skipped", `data: {"model":5,"usage":{"prompt_tokens":"x","completion_tokens":9}}` + "\n\n", Usage{Found: true, OutputTokens: 9}},
		{"negative ignored", `data: {"usage":{"prompt_tokens":-4,"completion_tokens":2}}` + "\n\n", Usage{Found: true, OutputTokens: 2}},
		{"usage null only", `data: {"model":"m","usage":null}` + "\n\n", Usage{Model: "m"}},
		{"first model wins", `data: {"model":"first"}` + "\n\n" + `data: {"model":"second","usage":{"prompt_tokens":1}}` + "\n\n", Usage{Found: true, Model: "first", InputTokens: 1}},
		{"empty usage object", `data: {"usage":{}}` + "\n\n", Usage{}},
		{"realtime response.done", `data: {"type":"session.created","session":{"model":"gpt-realtime"}}` + "\n\n" +
			`data: {"type":"response.done","response":{"usage":{"total_tokens":30,"input_tokens":20,"output_tokens":10,"input_token_details":{"cached_tokens":4}}}}` + "\n\n",
			Usage{Found: true, Model: "gpt-realtime", InputTokens: 20, OutputTokens: 10, CacheReadTokens: 4}},
	}
	for _, tt := range tests {
		for _, ch := range chunkings {
			t.Run(tt.name+"/"+ch.name, func(t *testing.T) {
				tr := NewTracker("anthropic", header("text/event-stream", ""))
				feedAll(t, tr, ch.split([]byte(tt.body)))
				if got := tr.Finish(); got != tt.want {
					t.Errorf("usage = %+v\nwant    %+v", got, tt.want)
				}
			})
		}
	}
}

func TestJSONBodies(t *testing.T) {
	oa := openAIChatJSON("gpt-4o", counts{in: 5, out: 6, cacheRead: 1}, "hi")
	want := Usage{Found: true, Model: "gpt-4o", InputTokens: 5, OutputTokens: 6, CacheReadTokens: 1}
	tests := []struct {
		name string
		h    http.Header
		body []byte
		want Usage
	}{
		{"no content type", http.Header{}, oa, want},
		{"leading whitespace", header("application/json", ""), append([]byte("\n\n  "), oa...), want},
		{"not json", header("audio/mpeg", ""), append([]byte("ID3\x04"), oa...), Usage{}},
		{"truncated", header("application/json", ""), oa[:len(oa)/2], Usage{}},
		{"error body", header("application/json", ""), []byte(`{"error":{"message":"Rate limit","type":"rate_limit_error"}}`), Usage{}},
		{"string message field", header("application/json", ""), []byte(`{"message":"oops","model":"x","usage":{"input_tokens":3}}`), Usage{Found: true, Model: "x", InputTokens: 3}},
		{"unknown encoding", header("application/json", "compress"), oa, Usage{}},
		{"corrupt gzip", header("application/json", "gzip"), append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, oa...), Usage{}},
		{"empty", header("application/json", ""), nil, Usage{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker("openai", tt.h)
			feedAll(t, tr, [][]byte{tt.body})
			if got := tr.Finish(); got != tt.want {
				t.Errorf("usage = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	small := limits{maxBody: 1024, maxEvent: 512, maxPending: 1 << 20, maxDecoded: 1 << 20}
	big := bytes.Repeat([]byte(" "), 2048)

	t.Run("json over cap gives up", func(t *testing.T) {
		body := append(anthropicJSON("claude", counts{in: 1, out: 2}, "x"), big...)
		tr := newTracker("anthropic", header("application/json", ""), small)
		feedAll(t, tr, [][]byte{body})
		if got := tr.Finish(); got.Found {
			t.Errorf("found usage past the cap: %+v", got)
		}
	})
	t.Run("content-length over cap is not buffered", func(t *testing.T) {
		h := header("application/json", "")
		h.Set("Content-Length", strconv.Itoa(small.maxBody+1))
		tr := newTracker("openai", h, small)
		if tr.sink != nil {
			t.Fatal("a sink was set up for a body known to exceed the cap")
		}
		feedAll(t, tr, [][]byte{big})
		tr.Finish()
	})
	t.Run("non-json stops buffering at once", func(t *testing.T) {
		tr := newTracker("openai", header("image/png", ""), small)
		feedAll(t, tr, [][]byte{[]byte("\x89PNG"), big})
		if tr.sink != nil {
			t.Fatal("still buffering a body that is not JSON")
		}
		tr.Finish()
	})
	t.Run("oversized sse event dropped, stream continues", func(t *testing.T) {
		huge := `data: {"usage":{"input_tokens":999},"pad":"` + strings.Repeat("x", 600) + "\"}\n\n"
		multi := "data: {\"usage\":{\"input_tokens\":888},\ndata: \"pad\":\"" + strings.Repeat("y", 500) + "\"}\n\n"
		body := huge + multi + `data: {"usage":{"input_tokens":7,"output_tokens":8}}` + "\n\n"
		for _, ch := range chunkings {
			tr := newTracker("x", header("text/event-stream", ""), small)
			feedAll(t, tr, ch.split([]byte(body)))
			want := Usage{Found: true, InputTokens: 7, OutputTokens: 8}
			if got := tr.Finish(); got != want {
				t.Errorf("%s: usage = %+v, want %+v", ch.name, got, want)
			}
		}
	})
	t.Run("decompression bomb is bounded", func(t *testing.T) {
		zeros := make([]byte, 64<<20)
		var o bytes.Buffer
		w, _ := gzip.NewWriterLevel(&o, gzip.BestCompression)
		w.Write([]byte("data: "))
		w.Write(zeros)
		w.Close()
		tr := newTracker("x", header("text/event-stream", "gzip"), small)
		start := time.Now()
		feedAll(t, tr, [][]byte{o.Bytes()})
		tr.Finish()
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("bomb took %v", d)
		}
	})
}

func TestTrackerFinishIdempotent(t *testing.T) {
	body := openAIChatSSE("gpt-4o", counts{in: 3, out: 4}, []string{"a"})
	for _, enc := range encoders {
		tr := NewTracker("openai", header("text/event-stream", enc.header))
		feedAll(t, tr, [][]byte{enc.enc(body)})
		a := tr.Finish()
		feedAll(t, tr, [][]byte{[]byte(`data: {"usage":{"prompt_tokens":100}}` + "\n\n")})
		if b := tr.Finish(); a != b || a.InputTokens != 3 {
			t.Errorf("%s: Finish not stable: %+v then %+v", enc.name, a, b)
		}
	}
}

// flushingWriter is a compressor a streaming server would use: it flushes
// after every event so the client can decode each one on arrival.
type flushingWriter interface {
	Write([]byte) (int, error)
	Flush() error
	Close() error
}

func newFlushingWriter(name string, o io.Writer) flushingWriter {
	switch name {
	case "gzip":
		return gzip.NewWriter(o)
	case "deflate-zlib":
		return zlib.NewWriter(o)
	case "deflate-raw":
		w, _ := flate.NewWriter(o, 6)
		return w
	case "br":
		return brotli.NewWriterLevel(o, 5)
	case "zstd":
		w, _ := zstd.NewWriter(o)
		return w
	}
	return nil
}

// sseEvents splits an SSE body after each blank line.
func sseEvents(body []byte) [][]byte {
	var out [][]byte
	for len(body) > 0 {
		i := bytes.Index(body, []byte("\n\n"))
		if i < 0 {
			return append(out, body)
		}
		out = append(out, body[:i+2])
		body = body[i+2:]
	}
	return out
}

// TestCompressedAbort: a compressed stream cut off mid-body still yields
// what was decoded so far, and Finish does not hang.
func TestCompressedAbort(t *testing.T) {
	body := anthropicSSE("claude-sonnet-4-5", counts{in: 50, out: 60}, textPieces(1, 2000))
	for _, enc := range encoders[1:] {
		var o bytes.Buffer
		w := newFlushingWriter(enc.name, &o)
		if w == nil {
			continue
		}
		for _, ev := range sseEvents(body) {
			w.Write(ev)
			w.Flush()
		}
		w.Close()
		z := o.Bytes()
		tr := NewTracker("anthropic", header("text/event-stream", enc.header))
		feedAll(t, tr, [][]byte{z[:len(z)/2]})
		done := make(chan Usage)
		go func() { done <- tr.Finish() }()
		select {
		case got := <-done:
			if got.Model != "claude-sonnet-4-5" || got.InputTokens != 50 || got.OutputTokens != 1 {
				t.Errorf("%s: usage = %+v, want message_start's", enc.name, got)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Finish hung", enc.name)
		}
	}
}

func TestFeedGivesUpWhenFull(t *testing.T) {
	f := newFeed(10)
	f.push([]byte("12345"))
	f.push([]byte("678901")) // 11 pending: over the cap
	if _, err := f.Read(make([]byte, 4)); err != errGaveUp {
		t.Fatalf("Read err = %v, want errGaveUp", err)
	}
	f.push([]byte("x")) // ignored, must not panic or grow
	if f.buf != nil {
		t.Fatal("a dead feed kept bytes")
	}
}

func TestMayCarry(t *testing.T) {
	tests := []struct {
		data      string
		needModel bool
		want      bool
	}{
		{`{"usage":null}`, false, false},
		{`{"usage" : null,"x":1}`, false, false},
		{`{"usage":{"a":1}}`, false, true},
		{`{"usageMetadata": {"promptTokenCount": 1}}`, false, true},
		{`{"model":"m","usage":null}`, true, true},
		{`{"model":"m","usage":null}`, false, false},
		{`{"delta":{"text":"usage of the model"}}`, false, false},
		{`{"type":"content_block_delta"}`, true, false},
		{`{"usage"`, false, false},
		{`{"usage":`, false, true},
		{`{"delta":{"text":"{\"usage\":{\"input_tokens\":1}}"}}`, false, false},
		{`{"role": "model","x":1}`, true, false},
		{`{"modelVersion": "gemini-2.5-pro"}`, true, true},
		{`{"model":null}`, true, false},
		{`{"text":"a \\","usage":{"a":1}}`, false, true},
	}
	for _, tt := range tests {
		if got := mayCarry([]byte(tt.data), tt.needModel); got != tt.want {
			t.Errorf("mayCarry(%s, %v) = %v, want %v", tt.data, tt.needModel, got, tt.want)
		}
	}
}

func TestParseEncodings(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{"identity", nil, true},
		{"GZIP", []string{"gzip"}, true},
		{"gzip, br", []string{"br", "gzip"}, true},
		{"x-gzip,zstd", []string{"zstd", "x-gzip"}, true},
		{"compress", nil, false},
	}
	for _, tt := range tests {
		got, ok := parseEncodings(tt.in)
		if ok != tt.ok || strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("parseEncodings(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestNoGoroutineLeak: decoder goroutines start only for bodies that have
// bytes and are gone once Finish returns, aborted bodies included.
func TestNoGoroutineLeak(t *testing.T) {
	body := encoders[1].enc(openAIChatSSE("gpt-4o", counts{in: 1, out: 2}, textPieces(2, 50)))
	before := runtime.NumGoroutine()
	for i := range 50 {
		tr := NewTracker("openai", header("text/event-stream", "gzip"))
		if i%2 == 0 {
			tr.Write(body[:i*len(body)/50])
		}
		if i%2 == 1 && i%5 == 4 { // never written, never finished
			if tr.feed != nil {
				t.Fatal("a decoder started before any byte was written")
			}
			continue
		}
		tr.Finish()
	}
	for range 100 {
		if runtime.NumGoroutine() <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("goroutines: %d before, %d after", before, runtime.NumGoroutine())
}

// TestProviderVariants covers shapes beyond the main fixtures: newer and
// gateway variants of the same APIs, and streams that end without usage.
func TestProviderVariants(t *testing.T) {
	sse := func(evs ...string) string {
		var b strings.Builder
		for _, e := range evs {
			sseEvent(&b, "", e)
		}
		return b.String()
	}
	tests := []struct {
		name string
		body string
		want Usage
	}{
		{"anthropic cumulative message_delta", sse(
			`{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"usage":{"input_tokens":3,"cache_creation_input_tokens":2048,"cache_read_input_tokens":0,"output_tokens":1}}}`,
			`{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":3,"cache_creation_input_tokens":2048,"cache_read_input_tokens":15000,"output_tokens":89,"server_tool_use":{"web_search_requests":0}}}`),
			Usage{Found: true, Model: "claude-sonnet-4-5-20250929", InputTokens: 3, OutputTokens: 89, CacheReadTokens: 15000, CacheWriteTokens: 2048}},
		{"anthropic overloaded mid-stream", sse(
			`{"type":"message_start","message":{"model":"claude-opus-4-1","usage":{"input_tokens":700,"output_tokens":1}}}`,
			`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`),
			Usage{Found: true, Model: "claude-opus-4-1", InputTokens: 700, OutputTokens: 1}},
		{"copilot final chunk with choices", sse(
			`{"choices":[{"index":0,"delta":{"content":"Hi","role":"assistant"}}],"created":1752000000,"id":"chatcmpl-1","model":"gpt-4.1-2025-04-14"}`,
			`{"choices":[{"finish_reason":"stop","index":0,"delta":{"content":null}}],"created":1752000000,"id":"chatcmpl-1","usage":{"completion_tokens":9,"prompt_tokens":1425,"prompt_tokens_details":{"cached_tokens":1024},"total_tokens":1434},"model":"gpt-4.1-2025-04-14"}`,
			"[DONE]"),
			Usage{Found: true, Model: "gpt-4.1-2025-04-14", InputTokens: 1425, OutputTokens: 9, CacheReadTokens: 1024}},
		{"openai stream without include_usage", sse(
			`{"id":"chatcmpl-2","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}`,
			"[DONE]"),
			Usage{Model: "gpt-4o-mini"}},
		{"responses incomplete", sse(
			`{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","model":"o3-2025-04-16","status":"in_progress","usage":null}}`,
			`{"type":"response.incomplete","sequence_number":9,"response":{"id":"resp_1","model":"o3-2025-04-16","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"usage":{"input_tokens":50,"input_tokens_details":{"cached_tokens":0},"output_tokens":16,"output_tokens_details":{"reasoning_tokens":16},"total_tokens":66}}}`),
			Usage{Found: true, Model: "o3-2025-04-16", InputTokens: 50, OutputTokens: 16, ReasoningTokens: 16}},
		{"gemini tool-use prompt tokens", sse(
			`{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{}}}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":120,"candidatesTokenCount":15,"totalTokenCount":180,"toolUsePromptTokenCount":30,"thoughtsTokenCount":15},"modelVersion":"gemini-2.5-flash"}`),
			Usage{Found: true, Model: "gemini-2.5-flash", InputTokens: 150, OutputTokens: 30}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker("x", header("text/event-stream", ""))
			feedAll(t, tr, chunkings[2].split([]byte(tt.body)))
			if got := tr.Finish(); got != tt.want {
				t.Errorf("usage = %+v\nwant    %+v", got, tt.want)
			}
		})
	}
}

// TestPreFilter: on the SSE path only events that can carry usage or the
// still-unknown model reach the JSON scanner.
func TestPreFilter(t *testing.T) {
	pieces := textPieces(4, 500)
	c := counts{in: 1, out: 2}
	tests := []struct {
		name string
		body []byte
		max  int
	}{
		{"openai-chat", openAIChatSSE("gpt-4o", c, pieces), 2},  // first chunk (model), usage chunk
		{"anthropic", anthropicSSE("claude", c, pieces), 2},     // message_start, message_delta
		{"responses", responsesSSE("gpt-5", c, pieces), 2},      // response.created, response.completed
		{"gemini", geminiSSE("gemini", c, pieces), len(pieces)}, // usageMetadata in every chunk
	}
	for _, tt := range tests {
		tr := NewTracker("x", header("text/event-stream", ""))
		feedAll(t, tr, [][]byte{tt.body})
		if u := tr.Finish(); !u.Found {
			t.Errorf("%s: no usage", tt.name)
		}
		if tr.acc.parsed > tt.max {
			t.Errorf("%s: %d events parsed, want at most %d", tt.name, tr.acc.parsed, tt.max)
		}
	}
}
