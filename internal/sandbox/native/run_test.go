package native

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/sandbox"
	"github.com/awf-dev/awf/internal/testnet"
)

var runSeq int

func testPlan(t *testing.T, script string, mod func(*sandbox.Input)) *sandbox.Plan {
	t.Helper()
	runSeq++
	ws := t.TempDir()
	os.Chmod(ws, 0o777)
	os.Chmod(filepath.Dir(ws), 0o755)
	in := sandbox.Input{
		ID: fmt.Sprintf("t%d-%d", os.Getpid(), runSeq), Command: []string{"/bin/bash", "-c", script},
		User:      sandbox.User{UID: 1000, GID: 1000, Name: "agent", Home: "/home/agent"},
		Workspace: ws, Workdir: ws,
		Env: map[string]string{"AWF_TEST": "1"},
	}
	if mod != nil {
		mod(&in)
	}
	p, err := sandbox.Build(in)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runPlan runs p and returns the exit code and the command's stdout.
func runPlan(t *testing.T, p *sandbox.Plan) (int, string) {
	t.Helper()
	s, err := Prepare(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, w, _ := os.Pipe()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&out, r); close(done) }()
	code, err := s.Run(IO{Stdin: nil, Stdout: w, Stderr: os.Stderr})
	w.Close()
	<-done
	if err != nil {
		t.Fatal(err)
	}
	return code, out.String()
}

func TestRunBasics(t *testing.T) {
	testnet.Require(t)
	p := testPlan(t, `echo uid=$(id -u) gid=$(id -g); echo pid=$$; echo host=$(hostname); cat /proc/1/status | grep -i '^capeff'; grep CapEff /proc/self/status; grep NoNewPrivs /proc/self/status; grep Seccomp: /proc/self/status; touch /usr/x 2>&1 | head -c 40; echo; ls /home; cat /etc/resolv.conf; test -x /usr/local/bin/get-claude-key.sh && echo helper-ok; exit 7`, nil)
	t0 := time.Now()
	code, out := runPlan(t, p)
	t.Logf("run took %v\n%s", time.Since(t0), out)
	if code != 7 {
		t.Errorf("exit code %d, want 7", code)
	}
	for _, w := range []string{"uid=1000 gid=1000", "host=awf-agent", "CapEff:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2", "Read-only", "nameserver 172.30.0.10", "helper-ok"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
}

func TestRunTimeout(t *testing.T) {
	testnet.Require(t)
	p := testPlan(t, "trap '' TERM; sleep 30", func(in *sandbox.Input) { in.Timeout = 200 * time.Millisecond })
	s, err := Prepare(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Grace = 300 * time.Millisecond
	t0 := time.Now()
	code, err := s.Run(IO{Stdout: os.Stdout, Stderr: os.Stderr})
	if err != nil || code != ExitTimeout {
		t.Fatalf("code %d err %v, want %d", code, err, ExitTimeout)
	}
	if el := time.Since(t0); el > 3*time.Second {
		t.Fatalf("timeout took %v", el)
	}
}

func TestRunLimitsAndTTY(t *testing.T) {
	testnet.Require(t)
	p := testPlan(t, `test -t 0 && test -t 1 && echo is-a-tty; for c in $(sed -n 's/^[0-9]*:\(pids\|memory\):\(.*\)/\1\2/p;s/^0::\(.*\)/\1/p' /proc/self/cgroup); do cat /sys/fs/cgroup/$c/pids.max /sys/fs/cgroup/$c/memory.limit_in_bytes /sys/fs/cgroup/$c/memory.max 2>/dev/null; done; true`,
		func(in *sandbox.Input) { in.TTY = true; in.Pids = 77; in.MemoryBytes = 256 << 20 })
	code, out := runPlan(t, p)
	if code != 0 {
		t.Fatalf("code %d: %s", code, out)
	}
	for _, w := range []string{"is-a-tty", "77", "268435456"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestPreflightAborts(t *testing.T) {
	testnet.Require(t)
	p := testPlan(t, "touch ran", func(in *sandbox.Input) {
		in.Preflight = true
		in.Env["AWF_TEST_PREFLIGHT_FAIL"] = "1"
	})
	marker := filepath.Join(p.Workdir, "ran")
	s, err := Prepare(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	code, err := s.Run(IO{Stdout: os.Stdout, Stderr: os.Stderr})
	if code != 1 || !errors.Is(err, ErrSetup) || !strings.Contains(err.Error(), "pre-flight check failed: placeholder mismatch") {
		t.Fatalf("code %d err %v", code, err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the command ran despite the failed pre-flight check")
	}
}
