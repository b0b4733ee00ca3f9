package usage

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// LogFile is the name of the usage log inside its directory.
const LogFile = "token-usage.jsonl"

// SchemaVersion is the version in each record's _schema; the original
// requires a semantic version (0.0.0-dev for development builds).
var SchemaVersion = "0.0.0-dev"

// RecordEvent is each record's event discriminator.
const RecordEvent = "token_usage"

// Record is one line of token-usage.jsonl; keys as the original sidecar,
// including its record discriminators (_schema token-usage/v<version>,
// event token_usage), which Append fills in.
type Record struct {
	Schema           string `json:"_schema"`
	Timestamp        string `json:"timestamp"`
	Event            string `json:"event"`
	RequestID        string `json:"request_id"`
	Provider         string `json:"provider"`
	Model            string `json:"model"`
	Path             string `json:"path"`
	Status           int    `json:"status"`
	Streaming        bool   `json:"streaming"`
	InputTokens      int64  `json:"input_tokens"`
	OutputTokens     int64  `json:"output_tokens"`
	CacheReadTokens  int64  `json:"cache_read_tokens"`
	CacheWriteTokens int64  `json:"cache_write_tokens"`
	DurationMs       int64  `json:"duration_ms"`
	ResponseBytes    int64  `json:"response_bytes"`
	Transport        string `json:"transport,omitempty"` // "websocket" for WS
	Budget
}

// Budget is what the api-proxy's guards booked for one response; present
// only when the respective guard is active (effective tokens) or the
// response was priced (AI credits), as the original's optional fields.
type Budget struct {
	EffectiveTokensThisResponse *float64 `json:"effective_tokens_this_response,omitempty"`
	EffectiveTokensTotal        *float64 `json:"effective_tokens_total,omitempty"`
	ModelMultiplier             *float64 `json:"model_multiplier,omitempty"`
	AICreditsThisResponse       *float64 `json:"ai_credits_this_response,omitempty"`
	AICreditsTotal              *float64 `json:"ai_credits_total,omitempty"`
	AICreditsPricingSource      string   `json:"ai_credits_pricing_source,omitempty"`
	AICreditsFallbackPricing    *bool    `json:"ai_credits_fallback_pricing_used,omitempty"`
	AICreditsDynamicSelector    string   `json:"ai_credits_dynamic_selector,omitempty"`
}

// NewRecord fills a Record from a tracker result; the caller sets the rest.
func NewRecord(u Usage) Record {
	return Record{
		Model:            u.Model,
		InputTokens:      u.InputTokens,
		OutputTokens:     u.OutputTokens,
		CacheReadTokens:  u.CacheReadTokens,
		CacheWriteTokens: u.CacheWriteTokens,
	}
}

// Timestamp formats t like JavaScript's Date.toISOString, as the original.
func Timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// logQueue bounds the records waiting for the disk (~200 bytes each).
const logQueue = 1024

// Log appends records to dir/token-usage.jsonl from a background goroutine.
// Which calls get a record is the caller's choice (the original logs 2xx
// responses and WebSocket sessions).
type Log struct {
	path    string
	f       *os.File
	ch      chan Record
	done    chan struct{}
	mu      sync.RWMutex // guards closed against Append racing Close
	closed  bool
	dropped atomic.Uint64
	written atomic.Uint64
	failed  atomic.Uint64
	err     error // first write error, read after done
}

// OpenLog creates dir (0755) if needed and opens dir/token-usage.jsonl
// (0644) for appending.
func OpenLog(dir string) (*Log, error) {
	return openLog(dir, logQueue)
}

func openLog(dir string, queue int) (*Log, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, LogFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	l := &Log{path: path, f: f, ch: make(chan Record, queue), done: make(chan struct{})}
	go l.run()
	return l, nil
}

// Path is the file being appended to.
func (l *Log) Path() string { return l.path }

// Append queues r without blocking; when the queue is full the record is
// dropped and counted. An empty Timestamp is set to now, an empty Model to
// "unknown" (as the original), empty _schema and event to the original's. Appending after Close is a counted drop.
func (l *Log) Append(r Record) {
	if r.Timestamp == "" {
		r.Timestamp = Timestamp(time.Now())
	}
	if r.Model == "" {
		r.Model = "unknown"
	}
	if r.Schema == "" {
		r.Schema = "token-usage/v" + SchemaVersion
	}
	if r.Event == "" {
		r.Event = RecordEvent
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		l.dropped.Add(1)
		return
	}
	select {
	case l.ch <- r:
	default:
		l.dropped.Add(1)
	}
}

// Dropped counts records lost to a full queue or a closed log.
func (l *Log) Dropped() uint64 { return l.dropped.Load() }

// Written counts records handed to the file.
func (l *Log) Written() uint64 { return l.written.Load() }

// Failed counts records lost to write errors.
func (l *Log) Failed() uint64 { return l.failed.Load() }

func (l *Log) run() {
	defer close(l.done)
	w := bufio.NewWriterSize(l.f, 64<<10)
	var line []byte
	for r := range l.ch {
		var err error
		line, err = appendRecord(line[:0], r)
		if err == nil {
			_, err = w.Write(line)
		}
		// Flush when the queue is drained, so a quiet proxy's file is
		// current while a busy one writes in large batches.
		if err == nil && len(l.ch) == 0 {
			err = w.Flush()
		}
		if err != nil {
			l.fail(err)
			w.Reset(l.f)
			continue
		}
		l.written.Add(1)
	}
	if err := w.Flush(); err != nil {
		l.fail(err)
	}
}

func (l *Log) fail(err error) {
	if l.failed.Add(1) == 1 {
		l.err = err
		slog.Warn("token_log_write_error", "path", l.path, "error", err.Error())
	}
}

func appendRecord(dst []byte, r Record) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return dst, err
	}
	dst = append(dst, b...)
	return append(dst, '\n'), nil
}

// Close stops accepting records, writes everything queued and closes the
// file. It returns the first write error, if any. Idempotent.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		<-l.done
		return nil
	}
	l.closed = true
	close(l.ch)
	l.mu.Unlock()
	<-l.done
	cerr := l.f.Close()
	if l.err != nil {
		return l.err
	}
	return cerr
}
