package cliproxy

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// SchemaVersion names the record format, as the original's
// "cli-proxy-access/v<awf version>" (schemas/cli-proxy-access.schema.json).
var SchemaVersion = "0.0.0-dev"

// LogFile is the original's file name; LogAlias is the name the issue
// uses, a symlink to it.
const (
	LogFile  = "access.jsonl"
	LogAlias = "access.log"
)

// AccessLog writes one JSON object per line: timestamp (ISO 8601 UTC, ms),
// _schema, event, then the event's fields.
type AccessLog struct {
	mu  sync.Mutex
	w   io.Writer
	f   *os.File
	now func() time.Time
}

// OpenLog opens dir/access.jsonl for appending (and links access.log to it).
func OpenLog(dir string) (*AccessLog, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	os.Symlink(LogFile, filepath.Join(dir, LogAlias))
	return &AccessLog{w: f, f: f, now: time.Now}, nil
}

// NewLog writes to w (tests).
func NewLog(w io.Writer) *AccessLog { return &AccessLog{w: w, now: time.Now} }

// Log writes one record; fields never override the three fixed keys.
func (l *AccessLog) Log(event string, fields map[string]any) {
	if l == nil {
		return
	}
	rec := map[string]any{}
	for k, v := range fields {
		rec[k] = v
	}
	rec["timestamp"] = l.now().UTC().Format("2006-01-02T15:04:05.000Z")
	rec["_schema"] = "cli-proxy-access/v" + SchemaVersion
	rec["event"] = event
	b, err := json.Marshal(rec)
	if err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Write(append(b, '\n'))
}

// Close closes the file.
func (l *AccessLog) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	return l.f.Close()
}
