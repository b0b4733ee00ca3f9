package selftest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/awf-dev/awf/internal/testnet"
)

func TestMain(m *testing.M) { testnet.Main(m) }

func TestPrint(t *testing.T) {
	var b bytes.Buffer
	ok := Print(&b, []Check{{Name: "a"}, {Name: "b", Err: os.ErrNotExist, Fix: "do x"}})
	if ok || b.String() != "  ✓ a\n  ✗ b: file does not exist\n      fix: do x\n" {
		t.Fatalf("ok=%v\n%s", ok, b.String())
	}
}

// TestSelftestBinary runs `awf selftest` from a freshly built binary.
func TestSelftestBinary(t *testing.T) {
	testnet.Require(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "awf")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/awf-dev/awf/cmd/awf").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	os.Chmod(dir, 0o755)
	cmd := exec.Command(bin, "selftest")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("selftest failed: %v", err)
	}
	if n := strings.Count(string(out), "✓"); n != 11 || strings.Contains(string(out), "✗") {
		t.Fatalf("want 11 passed checks, got %d", n)
	}
}
