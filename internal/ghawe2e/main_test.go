package ghawe2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/testnet"
)

func TestMain(m *testing.M) { testnet.Main(m) }

// originalLogPattern is the original's access.log parser
// (src/logs/log-parser.ts, LOG_PATTERN), as data. A line it does not match
// is dropped by `awf logs` there and by gh-aw's scripts built on it.
var originalLogPattern = regexp.MustCompile(`^(\d+\.\d+)\s+([^:]+):(\d+)\s+(\S+)\s+([^:]+):(\S+)\s+(\S+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s+"([^"]*)"`)

type result struct {
	code           int
	stdout, stderr string
}

// run starts the real binary as root with a clean environment plus env.
func run(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(testnet.AWFBinary(t), args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "AWF_TESTNET=1",
		"SSL_CERT_FILE=" + os.Getenv("SSL_CERT_FILE"), "AWF_RUN_DIR=" + filepath.Join(t.TempDir(), "runs")}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := testnet.Run(t, cmd, 90*time.Second)
	return result{code, out.String(), errb.String()}
}

// workspace is a directory the sandbox user (uid 1000) can use, holding
// the test CA.
func workspace(t *testing.T) (dir, ca string) {
	dir = t.TempDir()
	os.Chmod(dir, 0o777)
	os.Chmod(filepath.Dir(dir), 0o755)
	ca = filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, testnet.TestCA().PEM(), 0o644)
	return dir, ca
}

func needE2E(t *testing.T) {
	testnet.Require(t)
	if testing.Short() {
		t.Skip("builds and runs the awf binary; skipped with -short")
	}
}
