package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/testnet"
)

// TestAgentCannotUndoHide: another run's preserved logs are covered by an
// empty read-only tmpfs; the agent (no capabilities, seccomp) tries to
// take it off or look under it, and to reach the hide sockets of live
// runs, and fails at each.
func TestAgentCannotUndoHide(t *testing.T) {
	testnet.Require(t)
	tmp := t.TempDir()
	os.Chmod(tmp, 0o755)
	os.Chmod(filepath.Dir(tmp), 0o755)
	logs := filepath.Join(tmp, "squid-logs-1700000000000")
	os.Mkdir(logs, 0o755)
	canary := secret("canary-")
	os.WriteFile(filepath.Join(logs, "access.log"), []byte(canary), 0o644)
	script := strings.Join([]string{
		"set +e",
		"d=" + logs,
		"echo caps: $(grep CapEff /proc/self/status)",
		"echo read: $(cat $d/access.log 2>&1)",
		"echo umount: $(umount $d 2>&1; umount -l $d 2>&1; cat $d/access.log 2>&1)",
		"echo umount2: $(python3 -c 'import ctypes,os,sys; l=ctypes.CDLL(None,use_errno=True); r=l.umount2(sys.argv[1].encode(),2); print(r, os.strerror(ctypes.get_errno()))' $d 2>&1; cat $d/access.log 2>&1)",
		"echo userns: $(unshare -Urm sh -c \"umount $d; cat $d/access.log\" 2>&1)",
		"echo mv: $(mv $d " + tmp + "/x 2>&1; cat " + tmp + "/x/access.log 2>&1)",
		"echo run: $(ls -ld /run/awf 2>&1; ls /run/awf 2>&1 | head -3)",
		"echo sock: $(for s in /run/awf/*/hide.sock; do python3 -c 'import socket,sys; c=socket.socket(socket.AF_UNIX); c.connect(sys.argv[1]); print(\"connected\")' $s 2>&1 | tail -1; done)",
		"echo procroot: $(cat /proc/1/root" + logs + "/access.log 2>&1)",
	}, "\n")
	cmd, out, errb := awfCmd(t, nil, "--", script)
	cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	testnet.Run(t, cmd, 60*time.Second)
	got := lines(out.String())
	if !strings.Contains(got["caps"], "0000000000000000") {
		t.Errorf("the agent has capabilities: %q", got["caps"])
	}
	if strings.Contains(out.String(), canary) {
		t.Errorf("the agent read the hidden logs")
	}
	if strings.Contains(got["sock"], "connected") {
		t.Errorf("the agent reached a hide socket: %q", got["sock"])
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("stdout:\n%s\nstderr:\n%s", out, errb)
	}
}
