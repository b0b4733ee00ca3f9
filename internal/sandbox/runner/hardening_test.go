package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/testnet"
)

// TestKernelSurfaceClosed: what the security review found open stays shut.
// AF_VSOCK is not network-namespaced (it reaches the hypervisor), user
// namespaces open kernel attack surface, TIOCSTI types into the user's
// shell, and the init's pipes must not reach the command.
func TestKernelSurfaceClosed(t *testing.T) {
	testnet.Require(t)
	script := strings.Join([]string{
		"echo vsock: $(" + probe("socket", "40") + ")",        // AF_VSOCK
		"echo packet: $(" + probe("socket", "17") + ")",       // AF_PACKET
		"echo inet6: $(" + probe("socket", "10") + ")",        // allowed
		"echo userns: $(" + probe("clone", "10000000") + ")",  // CLONE_NEWUSER
		"echo netns: $(" + probe("clone", "40000000") + ")",   // CLONE_NEWNET
		"echo plainfork: $(" + probe("clone", "0") + ")",      // allowed
		"echo tiocsti: $(" + probe("tiocsti") + " </dev/tty)", // no controlling tty, and filtered
		// A simple command, not a pipeline: while bash forks a pipeline's
		// later members it holds their pipes, which ls could catch.
		`f=$(mktemp); ls /proc/$$/fd >$f`,
		`echo "fds: $(tr '\n' ' ' <$f)"; rm -f $f`,
	}, "\n")
	// awf itself starts with a stray descriptor, as under a CI runner.
	stray, strayW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stray.Close()
	defer strayW.Close()
	cmd, out, errb := awfCmd(t, nil, "--", script)
	cmd.ExtraFiles = []*os.File{strayW}
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, errb)
	}
	r := result{stdout: out.String(), stderr: errb.String()}
	for _, want := range []string{
		"vsock: fail operation not permitted", "packet: fail operation not permitted", "inet6: ok created",
		"userns: fail operation not permitted", "netns: fail operation not permitted", "plainfork: ok cloned",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s\n%s", want, r.stdout, r.stderr)
		}
	}
	if strings.Contains(r.stdout, "tiocsti: ok") {
		t.Errorf("TIOCSTI worked inside the sandbox:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "fds: 0 1 2 \n") {
		t.Errorf("the command inherited descriptors beyond stdio:\n%s", r.stdout)
	}
}

// TestWorkDirCannotBePrepared: a directory (or symlink) planted at a
// predictable path in the shared /tmp must not steer awf's writes as root.
func TestWorkDirCannotBePrepared(t *testing.T) {
	testnet.Require(t)
	tmp := t.TempDir()
	victim := filepath.Join(tmp, "victim")
	os.WriteFile(victim, []byte("secret"), 0o600)
	planted := filepath.Join(tmp, "planted")
	os.MkdirAll(filepath.Join(planted, "squid-logs"), 0o777)
	os.Chmod(planted, 0o777)
	os.Symlink(victim, filepath.Join(planted, "squid-logs", "x"))

	r := awf(t, nil, "--work-dir", planted, "--", "true")
	if r.code != 1 || !strings.Contains(r.stderr, "not a directory that only awf's user can write") {
		t.Errorf("a world-writable --work-dir was accepted: code %d\n%s", r.code, r.stderr)
	}
	os.Symlink(tmp, filepath.Join(tmp, "link"))
	if r := awf(t, nil, "--work-dir", filepath.Join(tmp, "link"), "--", "true"); r.code != 1 {
		t.Errorf("a symlinked --work-dir was accepted: code %d", r.code)
	}
	if fi, _ := os.Stat(victim); fi.Mode().Perm() != 0o600 {
		t.Errorf("victim mode changed to %v", fi.Mode())
	}
	// The generated work dir has an unguessable name: a run with the
	// default creates a fresh one even when awf-<now> exists.
	start := time.Now()
	r = awf(t, []string{"TMPDIR=" + tmp}, "--", "true")
	if r.code != 0 {
		t.Fatalf("default run: %d\n%s", r.code, r.stderr)
	}
	_ = start
}
