// Package fakeprovider holds fake LLM provider upstreams, as http.Handlers,
// that speak enough of the OpenAI (chat completions and Responses, HTTP and
// WebSocket), Anthropic Messages, Gemini and Copilot APIs for the official
// SDKs and agent CLIs to finish a turn. Every request is recorded (method,
// path, headers, body, WebSocket frames) so tests can assert what reached
// the upstream. Each answer carries token usage, streaming or not.
package fakeprovider

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Request is one request as the fake upstream received it.
type Request struct {
	Time      time.Time
	Method    string
	Path      string
	Query     string
	Header    http.Header
	Body      []byte
	WebSocket bool     // an upgrade the fake accepted
	Frames    []string // WebSocket messages received from the client
	Status    int      // status the fake answered (101 for WebSocket)
}

// String is a one-line summary for test logs.
func (r Request) String() string {
	q := ""
	if r.Query != "" {
		q = "?" + r.Query
	}
	ws := ""
	if r.WebSocket {
		ws = fmt.Sprintf(" (websocket, %d frames)", len(r.Frames))
	}
	return fmt.Sprintf("%s %s%s -> %d%s", r.Method, r.Path, q, r.Status, ws)
}

// Recorder keeps every request a fake received.
type Recorder struct {
	mu   sync.Mutex
	reqs []*Request
}

// Requests returns a copy of what was received so far, in order.
func (rc *Recorder) Requests() []Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]Request, len(rc.reqs))
	for i, r := range rc.reqs {
		out[i] = *r
		out[i].Frames = append([]string(nil), r.Frames...)
	}
	return out
}

// Find returns the requests whose path ends with suffix (all for "").
func (rc *Recorder) Find(suffix string) []Request {
	var out []Request
	for _, r := range rc.Requests() {
		if strings.HasSuffix(r.Path, suffix) {
			out = append(out, r)
		}
	}
	return out
}

// Summary lists every request, one per line, for failure messages.
func (rc *Recorder) Summary() string {
	var b strings.Builder
	for _, r := range rc.Requests() {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func (rc *Recorder) add(r *Request) {
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, r)
	rc.mu.Unlock()
}

func (rc *Recorder) update(f func()) {
	rc.mu.Lock()
	f()
	rc.mu.Unlock()
}

// maxBody bounds what one request may make the fake hold in memory.
const maxBody = 32 << 20

// statusWriter remembers the status for the record.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// recording reads the whole body, records the request and hands the handler
// a replayable body and a *Request it may amend (WebSocket frames).
func (rc *Recorder) recording(h func(w http.ResponseWriter, r *http.Request, rec *Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		rec := &Request{Time: time.Now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
			Header: r.Header.Clone(), Body: body}
		rc.add(rec)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		sw := &statusWriter{ResponseWriter: w}
		h(sw, r, rec)
		rc.update(func() {
			if rec.Status == 0 {
				rec.Status = sw.status
			}
		})
	})
}

// Reply is what a fake answers to every generation request.
type Reply struct {
	Text         string // the assistant's answer
	InputTokens  int    // usage reported for the prompt
	OutputTokens int    // usage reported for the answer
	CachedTokens int    // prompt tokens reported as read from cache
}

// DefaultReply is used when a fake is built with a zero Reply.
var DefaultReply = Reply{Text: "Hello from the fake upstream. The answer is 42.", InputTokens: 17, OutputTokens: 9, CachedTokens: 5}

func (r Reply) orDefault() Reply {
	if r.Text == "" {
		r.Text = DefaultReply.Text
	}
	if r.InputTokens == 0 && r.OutputTokens == 0 {
		r.InputTokens, r.OutputTokens, r.CachedTokens = DefaultReply.InputTokens, DefaultReply.OutputTokens, DefaultReply.CachedTokens
	}
	return r
}

// chunks splits the answer into word-sized pieces so streams have several
// deltas, each keeping its trailing space: the pieces join to Text exactly.
func (r Reply) chunks() []string {
	var out []string
	s := r.Text
	for s != "" {
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// sse writes server-sent events and flushes each at once.
type sse struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func startSSE(w http.ResponseWriter) *sse {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	return &sse{w: w, rc: http.NewResponseController(w)}
}

// event writes one event; name "" omits the event: line.
func (s *sse) event(name string, v any) {
	b, _ := json.Marshal(v)
	s.raw(name, string(b))
}

func (s *sse) raw(name, data string) {
	if name != "" {
		fmt.Fprintf(s.w, "event: %s\n", name)
	}
	fmt.Fprintf(s.w, "data: %s\n\n", data)
	s.rc.Flush()
}

// decode reads the JSON request body into a generic map ({} when empty).
func decode(r *http.Request) (map[string]any, error) {
	m := map[string]any{}
	b, err := io.ReadAll(r.Body)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func str(m map[string]any, k, def string) string {
	if s, ok := m[k].(string); ok && s != "" {
		return s
	}
	return def
}

func truthy(m map[string]any, k string) bool {
	b, _ := m[k].(bool)
	return b
}

var idSeq struct {
	sync.Mutex
	n int
}

func newID(prefix string) string {
	idSeq.Lock()
	defer idSeq.Unlock()
	idSeq.n++
	return fmt.Sprintf("%s%d%06d", prefix, time.Now().Unix(), idSeq.n)
}
