package runner

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"testing"

	"github.com/awf-dev/awf/internal/testnet"
)

// binDir holds the awf binary and the probe. It is a fixed cache path
// (like go's build cache): testnet.Main exits the process, so a temporary
// dir could never be removed.
var binDir = filepath.Join(os.TempDir(), "awf-e2e-bin")

func TestMain(m *testing.M) {
	if os.Geteuid() == 0 && !testnet.Inside() {
		if err := build(binDir); err != nil {
			fmt.Fprintln(os.Stderr, "build:", err)
			os.Exit(2)
		}
	}
	testnet.Main(m)
}

func build(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	os.Chmod(dir, 0o755)
	for _, b := range [][2]string{{"awf", "github.com/awf-dev/awf/cmd/awf"}, {"probe", "./testdata/probe"}} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, b[0]+".new"), b[1])
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", b[1], err, out)
		}
		if err := os.Rename(filepath.Join(dir, b[0]+".new"), filepath.Join(dir, b[0])); err != nil {
			return err
		}
	}
	return nil
}
