package usage

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func readRecords(t *testing.T, path string) []Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func TestLogAppendsJSONLines(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "api-proxy")
	l, err := OpenLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	u := Usage{Found: true, Model: "claude-sonnet-4-5", InputTokens: 10, OutputTokens: 20, CacheReadTokens: 30, CacheWriteTokens: 40}
	r := NewRecord(u)
	r.Timestamp = Timestamp(time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.FixedZone("x", 3600)))
	r.RequestID, r.Provider, r.Path, r.Status, r.Streaming = "req-1", "anthropic", "/v1/messages", 200, true
	r.DurationMs, r.ResponseBytes = 1234, 5678
	l.Append(r)
	ws := Record{RequestID: "req-2", Provider: "openai", Path: "/v1/responses", Status: 101, Transport: "websocket"}
	l.Append(ws)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	raw, err := os.ReadFile(filepath.Join(dir, LogFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	wantFirst := `{"_schema":"token-usage/v0.0.0-dev","timestamp":"2026-01-02T02:04:05.006Z","event":"token_usage","request_id":"req-1","provider":"anthropic","model":"claude-sonnet-4-5","path":"/v1/messages","status":200,"streaming":true,"input_tokens":10,"output_tokens":20,"cache_read_tokens":30,"cache_write_tokens":40,"duration_ms":1234,"response_bytes":5678}`
	if len(lines) != 2 || lines[0] != wantFirst {
		t.Fatalf("file:\n%s\nwant first line:\n%s", raw, wantFirst)
	}
	got := readRecords(t, filepath.Join(dir, LogFile))
	if got[1].Model != "unknown" || got[1].Transport != "websocket" || got[1].Timestamp == "" {
		t.Errorf("second record = %+v", got[1])
	}
	if _, err := time.Parse(time.RFC3339Nano, got[1].Timestamp); err != nil {
		t.Errorf("timestamp %q: %v", got[1].Timestamp, err)
	}
	if strings.Contains(lines[0], "transport") {
		t.Error("transport must be omitted for HTTP records")
	}

	umask := syscall.Umask(0)
	syscall.Umask(umask)
	for p, want := range map[string]os.FileMode{dir: 0o755, filepath.Join(dir, LogFile): 0o644} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want&^os.FileMode(umask) {
			t.Errorf("%s: mode %v, want %v (umask %o)", p, st.Mode().Perm(), want, umask)
		}
	}
	if l.Written() != 2 || l.Dropped() != 0 || l.Failed() != 0 {
		t.Errorf("written %d dropped %d failed %d", l.Written(), l.Dropped(), l.Failed())
	}
}

func TestLogAppendsToExistingFile(t *testing.T) {
	dir := t.TempDir()
	for i := range 3 {
		l, err := OpenLog(dir)
		if err != nil {
			t.Fatal(err)
		}
		l.Append(Record{RequestID: fmt.Sprint(i)})
		l.Close()
	}
	got := readRecords(t, filepath.Join(dir, LogFile))
	if len(got) != 3 || got[0].RequestID != "0" || got[2].RequestID != "2" {
		t.Errorf("records = %+v", got)
	}
}

// TestLogNeverBlocks makes the file a FIFO nobody drains, so the writer
// stalls: Append must still return at once, drop and count, and Close must
// then write every queued record once the reader drains.
func TestLogNeverBlocks(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, LogFile)
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	rd, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	const queue, n = 64, 20000
	l, err := openLog(dir, queue)
	if err != nil {
		t.Fatal(err)
	}
	rec := Record{RequestID: strings.Repeat("r", 100), Provider: "openai", Path: "/v1/chat/completions", Status: 200}
	start := time.Now()
	for range n {
		l.Append(rec)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("%d Appends took %v", n, d)
	}
	if l.Dropped() == 0 {
		t.Fatal("nothing dropped although the writer was stalled")
	}

	// Drain the FIFO concurrently while Close flushes.
	if err := syscall.SetNonblock(int(rd.Fd()), false); err != nil {
		t.Fatal(err)
	}
	lines := make(chan int)
	go func() {
		c := 0
		sc := bufio.NewScanner(rd)
		for sc.Scan() {
			c++
		}
		lines <- c
	}()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := <-lines
	if uint64(got) != l.Written() || uint64(got)+l.Dropped() != n {
		t.Errorf("lines %d, written %d, dropped %d; want lines+dropped = %d", got, l.Written(), l.Dropped(), n)
	}
}

func TestLogConcurrentAndAfterClose(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				l.Append(Record{RequestID: fmt.Sprintf("%d-%d", g, i), InputTokens: int64(i)})
			}
		})
	}
	// A racing Close must neither panic nor lose a queued record.
	wg.Go(func() { time.Sleep(time.Millisecond); l.Close() })
	wg.Wait()
	l.Append(Record{RequestID: "late"})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := readRecords(t, filepath.Join(dir, LogFile))
	if uint64(len(got)) != l.Written() || uint64(len(got))+l.Dropped() != 8*200+1 {
		t.Errorf("lines %d written %d dropped %d", len(got), l.Written(), l.Dropped())
	}
	seen := map[string]bool{}
	for _, r := range got {
		if seen[r.RequestID] {
			t.Fatalf("duplicate %s", r.RequestID)
		}
		seen[r.RequestID] = true
	}
}

func TestOpenLogErrors(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := OpenLog(filepath.Join(f, "sub")); err == nil {
		t.Error("OpenLog under a regular file succeeded")
	}
}

func TestRecordKeys(t *testing.T) {
	// The JSON keys are a contract with the original's readers (awf logs).
	// "" is the embedded Budget (its optional fields are inlined).
	want := []string{"_schema", "timestamp", "event", "request_id", "provider", "model", "path", "status", "streaming",
		"input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "duration_ms",
		"response_bytes", "transport,omitempty", ""}
	typ := reflect.TypeFor[Record]()
	var got []string
	for i := range typ.NumField() {
		got = append(got, typ.Field(i).Tag.Get("json"))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("keys = %v", got)
	}
}
