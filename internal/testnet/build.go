package testnet

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BuildBinary builds the Go package pkg (a package path or ./dir) as a
// static binary dir/name, atomically: concurrent test processes sharing a
// dir never see a half-written file. dir is left world-readable so the
// sandbox's unprivileged user can run what is in it.
func BuildBinary(dir, name, pkg string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	os.Chmod(dir, 0o755)
	out := filepath.Join(dir, name)
	tmp := out + ".new." + strconv.Itoa(os.Getpid())
	cmd := exec.Command("go", "build", "-o", tmp, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return out, os.Rename(tmp, out)
}

var awfBin struct {
	once sync.Once
	path string
	err  error
}

// AWFBinary builds awf once per test process (into a fixed cache dir:
// the process leaves through os.Exit in Main, so a temp dir would leak)
// and returns its path.
func AWFBinary(t testing.TB) string {
	t.Helper()
	awfBin.once.Do(func() {
		awfBin.path, awfBin.err = BuildBinary(filepath.Join(os.TempDir(), "awf-test-bin"), "awf", "github.com/awf-dev/awf/cmd/awf")
	})
	if awfBin.err != nil {
		t.Fatal(awfBin.err)
	}
	return awfBin.path
}

// Run runs cmd to completion within limit, killing it and failing t past
// that, and returns its exit code (128+n when signal n ended it).
func Run(t testing.TB, cmd *exec.Cmd, limit time.Duration) int {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		stderr := ""
		if s, ok := cmd.Stderr.(fmt.Stringer); ok {
			stderr = s.String()
		}
		t.Fatalf("%v did not finish within %v; stderr:\n%s", cmd.Args, limit, stderr)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return cmd.ProcessState.ExitCode()
}
