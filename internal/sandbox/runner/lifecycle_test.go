package runner

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/testnet"
)

func TestExitCodesAndStdin(t *testing.T) {
	testnet.Require(t)
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"success", []string{"--", "true"}, 0},
		{"own code", []string{"--", "exit 42"}, 42},
		{"killed by signal", []string{"--", "kill -9 $$"}, 137},
		{"several words are quoted", []string{"--", "sh", "-c", "exit 3"}, 3},
		{"no command", []string{"-d", "x.test"}, 1},
		{"bad flag value", []string{"--memory-limit", "lots", "--", "true"}, 1},
		{"tty", []string{"--tty", "--", "test -t 0 && test -t 1 && test -t 2"}, 0},
		{"no tty by default", []string{"--", "test -t 1"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := awf(t, nil, tc.args...)
			if r.code != tc.want {
				t.Fatalf("exit %d, want %d\n%s", r.code, tc.want, r.stderr)
			}
			if !strings.Contains(r.stderr, "Process exiting with code: "+strconv.Itoa(tc.want)) {
				t.Errorf("stderr lacks the exit line:\n%s", r.stderr)
			}
		})
	}
	t.Run("stdin and stdout pass through", func(t *testing.T) {
		cmd, out, errb := awfCmd(t, nil, "--", "tr a-z A-Z")
		cmd.Stdin = strings.NewReader("hello sandbox\n")
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v\n%s", err, errb)
		}
		if out.String() != "HELLO SANDBOX\n" {
			t.Fatalf("stdout %q", out)
		}
	})
}

// startedRun starts awf with a long command and waits until the command
// runs; it returns the awf process and the sandbox's state dir.
func startedRun(t *testing.T, script string) (*os.Process, string, chan int) {
	t.Helper()
	return startedRunIn(t, workspace(t), script)
}

func startedRunIn(t *testing.T, ws, script string) (*os.Process, string, chan int) {
	t.Helper()
	before := map[string]bool{}
	ents, _ := os.ReadDir("/run/awf")
	for _, e := range ents {
		before[e.Name()] = true
	}
	ready := filepath.Join(ws, "ready")
	// A script that must be set up before it is signalled (a trap) says
	// where it is ready with {{ready}}; otherwise it is ready at once.
	line := "touch " + ready + "; " + script
	if strings.Contains(script, "{{ready}}") {
		line = strings.ReplaceAll(script, "{{ready}}", "touch "+ready)
	}
	cmd, _, errb := awfCmd(t, nil, "--", line)
	cmd.Dir = ws
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() {
		cmd.Wait()
		code := cmd.ProcessState.ExitCode()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		done <- code
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("command never started\n%s", errb)
		}
		time.Sleep(5 * time.Millisecond)
	}
	ents, _ = os.ReadDir("/run/awf")
	state := ""
	for _, e := range ents {
		if !before[e.Name()] && strings.HasSuffix(e.Name(), "-"+strconv.Itoa(cmd.Process.Pid)) {
			state = filepath.Join("/run/awf", e.Name())
		}
	}
	if state == "" {
		t.Fatalf("no state dir for pid %d", cmd.Process.Pid)
	}
	return cmd.Process, state, done
}

func TestSignals(t *testing.T) {
	testnet.Require(t)
	for _, tc := range []struct {
		sig  syscall.Signal
		want int
	}{{syscall.SIGTERM, 143}, {syscall.SIGINT, 130}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			// The command traps TERM to prove it was forwarded.
			ws := workspace(t)
			p, state, done := startedRunIn(t, ws, "trap 'echo got-term > "+ws+"/term; exit 0' TERM; {{ready}}; sleep 30 & wait")
			t0 := time.Now()
			p.Signal(tc.sig)
			select {
			case code := <-done:
				if code != tc.want {
					t.Errorf("exit %d, want %d", code, tc.want)
				}
			case <-time.After(15 * time.Second):
				p.Kill()
				t.Fatal("awf did not exit after the signal")
			}
			t.Logf("exited %v after %v", tc.sig, time.Since(t0))
			if _, err := os.Stat(filepath.Join(ws, "term")); err != nil {
				t.Errorf("the command did not get SIGTERM: %v", err)
			}
			if _, err := os.Stat(state); err == nil {
				t.Errorf("state dir %s left behind", state)
			}
		})
	}
}

func TestKill9LeavesNothingAfterNextRun(t *testing.T) {
	testnet.Require(t)
	p, state, done := startedRun(t, "sleep 30")
	id := filepath.Base(state)
	p.Signal(syscall.SIGKILL)
	<-done
	// The command dies with awf: PID 1 of its namespace gets SIGKILL as
	// the parent-death signal, which takes the whole PID namespace down.
	deadline := time.Now().Add(5 * time.Second)
	for {
		m, _ := filepath.Glob("/sys/fs/cgroup/pids/awf-" + id + "/cgroup.procs")
		busy := false
		for _, f := range m {
			if b, _ := os.ReadFile(f); len(strings.TrimSpace(string(b))) > 0 {
				busy = true
			}
		}
		if !busy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sandboxed processes survived kill -9 of awf")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("expected the killed run's state to remain until the next start: %v", err)
	}
	r := awf(t, nil, "--", "true")
	if r.code != 0 {
		t.Fatalf("next run: %d\n%s", r.code, r.stderr)
	}
	for _, l := range leftovers(t) {
		if strings.Contains(l, id) {
			t.Errorf("left behind after the next run: %s", l)
		}
	}
}

func TestNothingLeftBehind(t *testing.T) {
	testnet.Require(t)
	ws := workspace(t)
	cmd, out, errb := awfCmd(t, nil, "--", "readlink /proc/self/ns/net")
	cmd.Dir = ws
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, errb)
	}
	ns := strings.TrimSpace(out.String())
	if !strings.HasPrefix(ns, "net:[") {
		t.Fatalf("netns %q", ns)
	}
	self, _ := os.Readlink("/proc/self/ns/net")
	if ns == self {
		t.Fatal("command ran in the test's own network namespace")
	}
	if netnsHeld(ns) {
		t.Errorf("network namespace %s still held", ns)
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	for _, l := range leftovers(t) {
		if strings.HasSuffix(l, "-"+pid) || strings.Contains(l, "-"+pid+"/") {
			t.Errorf("left behind: %s", l)
		}
	}
}

func TestConcurrentRuns(t *testing.T) {
	testnet.Require(t)
	var wg sync.WaitGroup
	res := make([]result, 3)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = awf(t, nil, "--", "readlink /proc/self/ns/net; sleep 0.3; exit "+strconv.Itoa(10+i))
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, r := range res {
		if r.code != 10+i {
			t.Errorf("run %d: exit %d\n%s", i, r.code, r.stderr)
		}
		seen[strings.TrimSpace(r.stdout)] = true
	}
	if len(seen) != len(res) {
		t.Errorf("runs shared a network namespace: %v", seen)
	}
}

var startedMs = regexp.MustCompile(`command started ([0-9.]+) ms after awf started`)

// TestStartupTime measures awf's start to the command's first instruction.
func TestStartupTime(t *testing.T) {
	testnet.Require(t)
	var ms []float64
	var walls []time.Duration
	for i := 0; i < 10; i++ {
		r := awf(t, nil, "--log-level", "debug", "--", "true")
		m := startedMs.FindStringSubmatch(r.stderr)
		if r.code != 0 || m == nil {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		ms = append(ms, v)
		walls = append(walls, r.elapsed)
	}
	sort.Float64s(ms)
	sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
	t.Logf("start to first instruction: min %.1f ms, median %.1f ms, max %.1f ms; whole run (awf -- true) median %v",
		ms[0], ms[len(ms)/2], ms[len(ms)-1], walls[len(walls)/2])
	if ms[len(ms)/2] > 150 {
		t.Errorf("median start-up %.1f ms, target 150 ms", ms[len(ms)/2])
	}
}
