package runner

import (
	"fmt"
	"os"
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
	for _, b := range [][2]string{{"awf", "github.com/awf-dev/awf/cmd/awf"}, {"probe", "./testdata/probe"}} {
		if _, err := testnet.BuildBinary(dir, b[0], b[1]); err != nil {
			return err
		}
	}
	return nil
}
