package runner

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/testnet"
)

// TestRunsInTwoPIDNamespaces: a run started from another PID namespace
// with its own /proc (a container sharing /run, a CI job under
// `unshare --pid --mount-proc`) records itself as pid 1. A run started
// meanwhile from the host's namespace must not take it for dead and delete
// its cgroup (which killed it: "init died: signal: killed"): liveness is
// the run's lock, never a pid.
func TestRunsInTwoPIDNamespaces(t *testing.T) {
	testnet.Require(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare(1)")
	}
	ws := workspace(t)
	ready := filepath.Join(ws, "ready")
	a, aOut, aErr := awfCmd(t, nil, "--", "touch "+ready+"; sleep 2; echo A-ok")
	inPIDNS(a)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	aDone := make(chan error, 1)
	go func() { aDone <- a.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			a.Process.Kill()
			t.Fatalf("run A never started\n%s", aErr)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// B starts (and cleans up "dead" runs) while A's command runs.
	// B runs in the test's own PID namespace, where the pid in A's state
	// dir names another process (the host's init), and where A's
	// processes are visible, so a wrong verdict kills them.
	b, bOut, bErr := awfCmd(t, nil, "--", "echo B-ok")
	if code := testnet.Run(t, b, 30*time.Second); code != 0 || !strings.Contains(bOut.String(), "B-ok") {
		t.Errorf("run B: exit %d, stdout %q\n%s", code, bOut, bErr)
	}
	select {
	case <-aDone:
	case <-time.After(30 * time.Second):
		a.Process.Kill()
		t.Fatal("run A did not finish")
	}
	if code := a.ProcessState.ExitCode(); code != 0 || !strings.Contains(aOut.String(), "A-ok") {
		t.Errorf("run A: exit %d, stdout %q\n%s", code, aOut, aErr)
	}
}

// inPIDNS makes cmd start in a new PID namespace with its own /proc.
func inPIDNS(cmd *exec.Cmd) {
	cmd.Args = append([]string{"unshare", "--pid", "--fork", "--mount-proc", cmd.Path}, cmd.Args[1:]...)
	cmd.Path, _ = exec.LookPath("unshare")
}
