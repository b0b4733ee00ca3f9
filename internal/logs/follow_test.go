package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// collector gathers followed lines for a test.
type collector struct {
	mu    sync.Mutex
	lines []string
}

func (c *collector) add(l string) error {
	c.mu.Lock()
	c.lines = append(c.lines, l)
	c.mu.Unlock()
	return nil
}

func (c *collector) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		if len(c.lines) >= n {
			out := append([]string{}, c.lines...)
			c.mu.Unlock()
			return out
		}
		c.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t.Fatalf("timed out waiting for %d lines, have %q", n, c.lines)
	return nil
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestFollowRotationTruncationPartial(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	var old strings.Builder
	for i := 0; i < 15; i++ {
		fmt.Fprintf(&old, "old%d\n", i)
	}
	appendTo(t, path, old.String())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &collector{}
	done := make(chan error, 1)
	go func() { done <- Follow(ctx, path, FollowOptions{Interval: 5 * time.Millisecond, Backlog: 10}, c.add) }()

	got := c.waitFor(t, 10)
	if got[0] != "old5" || got[9] != "old14" {
		t.Fatalf("backlog %q", got)
	}
	// A line written in two parts comes out whole.
	appendTo(t, path, "par")
	time.Sleep(30 * time.Millisecond)
	appendTo(t, path, "tial\n")
	c.waitFor(t, 11)
	// Rotation: rename away, write a last line to the old file, start a new one.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path+".1", "late-old\n")
	time.Sleep(30 * time.Millisecond)
	appendTo(t, path, "new1\n")
	c.waitFor(t, 13)
	// Truncation: the file shrinks and is written again.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	appendTo(t, path, "after-truncate\n")
	got = c.waitFor(t, 14)
	want := []string{"partial", "late-old", "new1", "after-truncate"}
	if strings.Join(got[10:], ",") != strings.Join(want, ",") {
		t.Errorf("got %q want %q", got[10:], want)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Follow returned %v", err)
	}
}

func TestFollowWaitsForFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &collector{}
	go Follow(ctx, path, FollowOptions{Interval: 5 * time.Millisecond, Backlog: 10}, c.add)
	time.Sleep(20 * time.Millisecond)
	appendTo(t, path, "first\n")
	if got := c.waitFor(t, 1); got[0] != "first" {
		t.Errorf("%q", got)
	}
}

func TestBacklogOffset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	var b strings.Builder
	for i := 0; i < 50000; i++ { // > one 64 KiB block
		fmt.Fprintf(&b, "line-%d\n", i)
	}
	appendTo(t, path, b.String())
	f, _ := os.Open(path)
	defer f.Close()
	for _, n := range []int{0, 1, 10, 20000, 60000} {
		off, err := backlogOffset(f, n)
		if err != nil {
			t.Fatal(err)
		}
		rest, _ := os.ReadFile(path)
		got := strings.Count(string(rest[off:]), "\n")
		want := min(n, 50000)
		if got != want {
			t.Errorf("n=%d: %d lines after offset", n, got)
		}
	}
}

// TestFollowCommandWithPid runs `awf logs -f --with-pid` over a log whose
// line names the client port of a connection this process holds open: the
// line must come out attributed to this very process.
func TestFollowCommandWithPid(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().(*net.TCPAddr)

	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	appendTo(t, path, "")
	var out safeBuffer
	env := Env{Stdout: &out, Stderr: &bytes.Buffer{}, Discovery: Discovery{TmpDir: dir, RunDir: dir}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunLogs(ctx, env, LogsOptions{Follow: true, WithPid: true, Format: "json", Source: dir, Interval: 5 * time.Millisecond})
	}()
	time.Sleep(20 * time.Millisecond)
	appendTo(t, path, fmt.Sprintf("1774290908.910 127.0.0.1:%d a.test:443 1.1.1.1:443 1.1 CONNECT 200 TCP_TUNNEL:HIER_DIRECT a.test:443 \"-\"\n", local.Port))
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "\n") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want := `"pid":` + strconv.Itoa(os.Getpid()); !strings.Contains(out.String(), want) {
		t.Errorf("output %q lacks %s", out.String(), want)
	}
}

type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestParseProcAddr(t *testing.T) {
	a, p, ok := parseProcAddr("0100007F:1F90")
	if !ok || a.String() != "127.0.0.1" || p != 8080 {
		t.Errorf("%v %d %v", a, p, ok)
	}
	a, p, ok = parseProcAddr("B80D0120000000000000000001000000:01BB")
	if !ok || a.String() != "2001:db8::1" || p != 443 {
		t.Errorf("%v %d %v", a, p, ok)
	}
	if _, _, ok := parseProcAddr("zz:1"); ok {
		t.Error("bad hex accepted")
	}
}

func TestPidTrackerIPv6(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	defer ln.Close()
	conn, err := net.Dial("tcp6", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	port := conn.LocalAddr().(*net.TCPAddr).Port
	info, ok := PidTracker{}.Lookup("::1", port)
	if !ok || info.PID != os.Getpid() || info.Inode == "" || info.Cmdline == "" {
		t.Errorf("%+v %v", info, ok)
	}
	if _, ok := (PidTracker{}).Lookup("10.9.9.9", port); ok {
		t.Error("matched the wrong address")
	}
}
