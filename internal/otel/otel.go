// Package otel writes the api-proxy's OpenTelemetry spans as the original's
// local exporter does: one JSON line per proxied LLM request in
// otel.jsonl, next to token-usage.jsonl (schema otel-span/v<version>, the
// original's schemas/otel-span.schema.json).
//
// Each span is a CLIENT span named api_proxy.<provider>.request carrying
// the GenAI semantic-convention attributes, the token usage (also as a
// gen_ai.usage event) and the upstream status. When the workflow's trace
// is given (GITHUB_AW_OTEL_TRACE_ID, GITHUB_AW_OTEL_PARENT_SPAN_ID: lower
// hex, 32 and 16 digits) every span joins it as a child of that span;
// otherwise each request is its own trace, as with the OpenTelemetry SDK.
//
// Only the file exporter is implemented: OTLP export
// (OTEL_EXPORTER_OTLP_ENDPOINT, GH_AW_OTLP_ENDPOINTS) is not, and the spans
// still go to the file (Exporting reports it).
package otel

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FileName is the span log's name in the api-proxy log directory.
const FileName = "otel.jsonl"

// Version is the awf version in the _schema field; the original requires
// a semantic version and uses 0.0.0-dev for development builds.
var Version = "0.0.0-dev"

// OpenTelemetry's SpanKind and SpanStatusCode values (the JS SDK's enums).
const (
	KindClient  = 2
	StatusUnset = 0
	StatusOK    = 1
	StatusError = 2
)

var (
	traceIDRe = regexp.MustCompile(`^[0-9a-f]{32}$`)
	spanIDRe  = regexp.MustCompile(`^[0-9a-f]{16}$`)
	semverRe  = regexp.MustCompile(`^\d+\.\d+\.\d+(-\w+)?$`)
)

// Tokens is the usage a response reported.
type Tokens struct {
	Found                                bool
	Model                                string
	Input, Output, CacheRead, CacheWrite int64
	Reasoning                            int64
}

// Record is one otel.jsonl line.
type Record struct {
	Schema       string         `json:"_schema"`
	Timestamp    string         `json:"timestamp"`
	Event        string         `json:"event"`
	TraceID      string         `json:"traceId"`
	SpanID       string         `json:"spanId"`
	ParentSpanID *string        `json:"parentSpanId"`
	Name         string         `json:"name"`
	Kind         int            `json:"kind"`
	StartTimeMs  int64          `json:"startTimeMs"`
	EndTimeMs    int64          `json:"endTimeMs"`
	Attributes   map[string]any `json:"attributes"`
	Events       []SpanEvent    `json:"events"`
	Status       Status         `json:"status"`
}

// SpanEvent is a span event as the original serialises it.
type SpanEvent struct {
	Name       string         `json:"name"`
	Attributes map[string]any `json:"attributes"`
}

// Status is the span status.
type Status struct {
	Code    int    `json:"code"`
	Message string `json:"message,omitempty"`
}

// Parent is the workflow span the api-proxy's spans belong to.
type Parent struct{ TraceID, SpanID string }

// ParentFromEnv reads the workflow trace; both ids must be valid or
// neither is used, as the original.
func ParentFromEnv(getenv func(string) string) Parent {
	t, s := strings.TrimSpace(getenv("GITHUB_AW_OTEL_TRACE_ID")), strings.TrimSpace(getenv("GITHUB_AW_OTEL_PARENT_SPAN_ID"))
	if traceIDRe.MatchString(t) && spanIDRe.MatchString(s) {
		return Parent{t, s}
	}
	return Parent{}
}

// Exporting names the OTLP endpoint the original would have exported to
// instead of writing the file ("" if none is configured).
func Exporting(getenv func(string) string) string {
	if v := strings.TrimSpace(getenv("GH_AW_OTLP_ENDPOINTS")); v != "" {
		return "GH_AW_OTLP_ENDPOINTS"
	}
	if v := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT")); v != "" {
		return "OTEL_EXPORTER_OTLP_ENDPOINT"
	}
	return ""
}

// Writer appends spans to one file.
type Writer struct {
	parent Parent
	schema string
	now    func() time.Time

	mu sync.Mutex
	f  *os.File
}

// Open creates (or appends to) dir/otel.jsonl.
func Open(dir string, parent Parent) (*Writer, error) {
	f, err := os.OpenFile(filepath.Join(dir, FileName), os.O_CREATE|os.O_WRONLY|os.O_APPEND|syscallNoFollow, 0o644)
	if err != nil {
		return nil, err
	}
	v := Version
	if !semverRe.MatchString(v) {
		v = "0.0.0-dev"
	}
	return &Writer{parent: parent, schema: "otel-span/v" + v, now: time.Now, f: f}, nil
}

// Close closes the file; later spans are dropped.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// Span is one request in flight.
type Span struct {
	w     *Writer
	start time.Time
	rec   Record
}

// Start begins the span of one proxied request.
func (w *Writer) Start(provider, method, path, requestID string) *Span {
	s := &Span{w: w, start: w.now()}
	traceID := w.parent.TraceID
	if traceID == "" {
		traceID = randomHex(16)
	}
	s.rec = Record{
		Schema: w.schema, Event: "otel_span", TraceID: traceID, SpanID: randomHex(8),
		Name: "api_proxy." + provider + ".request", Kind: KindClient,
		Attributes: map[string]any{
			"http.request.method":   method,
			"url.path":              path,
			"gen_ai.provider.name":  provider,
			"gen_ai.operation.name": "chat",
			"gen_ai.request.stream": true,
			"awf.request_id":        requestID,
		},
		Events: []SpanEvent{},
	}
	if w.parent.SpanID != "" {
		p := w.parent.SpanID
		s.rec.ParentSpanID = &p
	}
	return s
}

// End completes the span with the status the agent got and the usage the
// response reported, and writes it.
func (s *Span) End(status int, streaming bool, t Tokens) {
	r := &s.rec
	r.Attributes["gen_ai.request.stream"] = streaming
	if t.Found {
		if t.Model != "" && t.Model != "unknown" {
			r.Attributes["gen_ai.response.model"] = t.Model
		}
		usage := map[string]any{
			"gen_ai.usage.input_tokens":  t.Input,
			"gen_ai.usage.output_tokens": t.Output,
			"awf.cached_read":            strconv.FormatInt(t.CacheRead, 10),
			"awf.cached_write":           strconv.FormatInt(t.CacheWrite, 10),
			"awf.reasoning":              strconv.FormatInt(t.Reasoning, 10),
		}
		for k, v := range usage {
			r.Attributes[k] = v
		}
		r.Events = append(r.Events, SpanEvent{Name: "gen_ai.usage", Attributes: usage})
	}
	r.Attributes["http.response.status_code"] = status
	switch {
	case status >= 200 && status < 300:
		r.Status = Status{Code: StatusOK}
	case status >= 400:
		r.Status = Status{Code: StatusError, Message: "HTTP " + strconv.Itoa(status)}
	default:
		r.Status = Status{Code: StatusUnset}
	}
	end := s.w.now()
	r.StartTimeMs, r.EndTimeMs = s.start.UnixMilli(), end.UnixMilli()
	r.Timestamp = end.UTC().Format("2006-01-02T15:04:05.000Z")
	b, err := json.Marshal(r)
	if err != nil {
		return
	}
	b = append(b, '\n')
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	if s.w.f != nil {
		s.w.f.Write(b) // best-effort, as the original: tracing never breaks a request
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
