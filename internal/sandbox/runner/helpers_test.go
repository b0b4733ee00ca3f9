package runner

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/testnet"
)

type result struct {
	code           int
	stdout, stderr string
	elapsed        time.Duration
}

// workspace makes a directory the sandbox user (uid 1000) can use.
func workspace(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	os.Chmod(d, 0o777)
	os.Chmod(filepath.Dir(d), 0o755)
	return d
}

// awfCmd prepares the real binary with env added to a clean root env.
func awfCmd(t *testing.T, env []string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "awf"), args...)
	cmd.Dir = workspace(t)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"), "TMPDIR=" + t.TempDir(), "AWF_TESTNET=1",
		"SSL_CERT_FILE=" + os.Getenv("SSL_CERT_FILE"),
	}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	return cmd, &out, &errb
}

func awf(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd, out, errb := awfCmd(t, env, args...)
	t0 := time.Now()
	code := testnet.Run(t, cmd, 60*time.Second)
	return result{code: code, stdout: out.String(), stderr: errb.String(), elapsed: time.Since(t0)}
}

// probe is the shell word that runs the probe inside the sandbox.
func probe(args ...string) string {
	return filepath.Join(binDir, "probe") + " " + strings.Join(args, " ")
}

// leftovers lists the kernel objects and state awf could leave behind.
func leftovers(t *testing.T) []string {
	t.Helper()
	var out []string
	ents, _ := os.ReadDir("/run/awf")
	for _, e := range ents {
		out = append(out, "/run/awf/"+e.Name())
	}
	for _, pat := range []string{"/sys/fs/cgroup/awf-*", "/sys/fs/cgroup/*/awf-*"} {
		m, _ := filepath.Glob(pat)
		out = append(out, m...)
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "/run/awf/") {
				out = append(out, "mount: "+l)
			}
		}
	}
	return out
}

// netnsHeld reports whether any process still holds network namespace ns
// ("net:[inode]"), as printed inside the sandbox.
func netnsHeld(ns string) bool {
	procs, _ := filepath.Glob("/proc/[0-9]*/ns/net")
	for _, p := range procs {
		if l, err := os.Readlink(p); err == nil && l == ns {
			return true
		}
	}
	return false
}
