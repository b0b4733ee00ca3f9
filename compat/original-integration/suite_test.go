// Package originalintegration runs the original's tests/integration suite
// against awf (run.sh). It takes about 3 minutes and needs the original's
// mirror, root, node and npm, so it runs only with AWF_ORIGINAL_SUITE=1:
// `make test` skips it with a message.
package originalintegration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

const mirror = "/work/.mirror/github+gh-aw-firewall/repo"

type summary struct {
	Total   int            `json:"total"`
	Passed  int            `json:"passed"`
	Failed  int            `json:"failed"`
	Skipped int            `json:"skipped"`
	ByClass map[string]int `json:"byClass"`
	Stale   int            `json:"stale"`
}

// TestOriginalIntegrationSuite fails when a test of the original's suite
// fails without a reason on file (reasons.json): every failure must be
// classified as Docker-only (a), real internet (b) or a listed awf gap (c).
func TestOriginalIntegrationSuite(t *testing.T) {
	if os.Getenv("AWF_ORIGINAL_SUITE") != "1" {
		t.Skip("the original's integration suite takes about 3 min and the original's checkout: set AWF_ORIGINAL_SUITE=1 to run it (see compat/original-integration/README.md)")
	}
	src := os.Getenv("AWF_ORIGINAL_CHECKOUT")
	if src == "" {
		if _, err := os.Stat(mirror); err != nil {
			t.Skipf("no original to run: neither AWF_ORIGINAL_CHECKOUT nor the mirror %s exists", mirror)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, awf)")
	}
	for _, tool := range []string{"node", "npm", "ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	stage := t.TempDir()
	os.Chmod(stage, 0o755)
	sumFile := filepath.Join(stage, "summary.json")
	args := []string{}
	if src != "" {
		args = append(args, src)
	}
	cmd := exec.Command("./run.sh", args...)
	cmd.Env = append(os.Environ(),
		"STAGE="+filepath.Join("/var/tmp", "awf-orig-"+filepath.Base(stage)),
		"RESULTS_MD="+filepath.Join(stage, "RESULTS.md"),
		"REPORT_SUMMARY="+sumFile)
	t.Cleanup(func() { os.RemoveAll(filepath.Join("/var/tmp", "awf-orig-"+filepath.Base(stage))) })
	out, _ := os.Create(filepath.Join(stage, "run.log"))
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done: // jest's own exit status is non-zero whenever any test fails
	case <-time.After(60 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatal("run.sh did not finish within 60 minutes")
	}
	b, err := os.ReadFile(sumFile)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(stage, "run.log"))
		t.Fatalf("no summary (%v); run.log:\n%s", err, tail(log, 4000))
	}
	var s summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d tests in %v: %d passed, %d failed (a %d, b %d, c %d, unclassified %d), %d skipped, %d stale reasons",
		s.Total, time.Since(start).Round(time.Second), s.Passed, s.Failed,
		s.ByClass["a"], s.ByClass["b"], s.ByClass["c"], s.ByClass["?"], s.Skipped, s.Stale)
	if s.Total < 300 {
		t.Errorf("only %d tests ran; the suite has ~400", s.Total)
	}
	if s.ByClass["?"] > 0 {
		md, _ := os.ReadFile(filepath.Join(stage, "RESULTS.md"))
		t.Errorf("%d failures have no reason in reasons.json; report:\n%s", s.ByClass["?"], md)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
