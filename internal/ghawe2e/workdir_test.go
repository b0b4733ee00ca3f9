package ghawe2e

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/awf-dev/awf/internal/testnet"
)

// TestOriginalWorkDirContract drives the binary as the original's
// tests/integration/log-commands.test.ts does (keepContainers, debug log
// level) and finds the work dir and the access log the way its runner
// does: stderr "Using work directory: /tmp/awf-<digits>" and
// <workDir>/squid-logs/access.log, parsed by its parser. The agent must
// not see the work dir's contents.
func TestOriginalWorkDirContract(t *testing.T) {
	needE2E(t)
	site := testnet.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("zen")) }))
	ws, ca := workspace(t)
	denied := testnet.HostName(171)
	script := strings.Join([]string{
		"curl -fsS -m 10 --cacert " + ca + " https://" + site.Name + "/zen || exit 1",
		"curl -fsS -m 5 --cacert " + ca + " -o /dev/null https://" + denied + "/ 2>/dev/null || true",
		// What the agent sees of any awf work dir (its own is hidden).
		"echo LISTING; ls -A /tmp/awf-[0-9]*/ /tmp/awf-[0-9]*/squid-logs/ 2>/dev/null; echo END",
	}, "\n")
	// TMPDIR=/tmp: the work dir lands where the original's runner looks.
	r := run(t, ws, []string{"TMPDIR=/tmp"}, "--keep-containers", "--log-level", "debug",
		"-d", site.Name, "--block-domains", denied, "--", script)
	m := regexp.MustCompile(`Using work directory: (/tmp/awf-\d+)`).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no work dir line (exit %d):\n%s", r.code, r.stderr)
	}
	work := m[1]
	t.Cleanup(func() { os.RemoveAll(work) })
	if r.code != 0 || !strings.Contains(r.stdout, "zen") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"Allowed domains: " + site.Name + "\n", "Blocked domains: " + denied + "\n",
		"Using selective mounting for security (credential files hidden)", "Hidden "} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	// ls prints "<dir>:" then its entries; our work dir (hidden, or an
	// empty tmpfs) must list none.
	listing := r.stdout[strings.Index(r.stdout, "LISTING"):]
	section := ""
	for _, l := range strings.Split(listing, "\n") {
		if l == "END" {
			break
		}
		if strings.HasSuffix(l, ":") {
			section = strings.TrimSuffix(strings.TrimSuffix(l, ":"), "/")
			continue
		}
		if strings.HasPrefix(section, work) && strings.TrimSpace(l) != "" {
			t.Errorf("the agent saw %q in the work dir:\n%s", l, listing)
		}
	}
	// Kept, it is root's and shared with the run's group read-only (as
	// preserved logs are), nothing for others.
	fi, err := os.Lstat(work)
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o027 != 0 {
		t.Fatalf("work dir %v %v", fi, err)
	}
	b, err := os.ReadFile(filepath.Join(work, "squid-logs", "access.log"))
	if err != nil || len(b) == 0 {
		t.Fatalf("<workDir>/squid-logs/access.log: %v (%d bytes)", err, len(b))
	}
	var allowed, blocked bool
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := originalLogPattern.FindStringSubmatch(l)
		if f == nil {
			t.Errorf("the original's parser drops %q", l)
			continue
		}
		allowed = allowed || strings.HasPrefix(f[4], site.Name) && f[9] == "200"
		blocked = blocked || strings.HasPrefix(f[4], denied) && f[9] == "403"
	}
	if !allowed || !blocked {
		t.Errorf("allowed %v blocked %v in:\n%s", allowed, blocked, b)
	}
}
