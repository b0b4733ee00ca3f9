package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/awf-dev/awf/internal/testnet"
)

// TestIgnoredEntriesInRealRun (issue 12): an allowlist with entries the
// original accepts but awf does not honour starts a real sandboxed run;
// each such entry is warned about once on stderr at the default log level,
// recorded in the preserved policy-manifest.json, and shown by
// `awf logs summary`; the honoured entries work and block patterns with a
// wildcard at the end load.
func TestIgnoredEntriesInRealRun(t *testing.T) {
	testnet.Require(t)
	if testing.Short() {
		t.Skip("builds and runs the awf binary; skipped with -short")
	}
	site := testnet.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	work := t.TempDir()
	os.Chmod(work, 0o777)
	os.Chmod(filepath.Dir(work), 0o755)
	tmp := t.TempDir()
	ca := filepath.Join(work, "ca.pem")
	os.WriteFile(ca, testnet.TestCA().PEM(), 0o644)
	script := "curl -fsS -m 10 --cacert " + ca + " https://" + site.Name + "/ && echo; echo agent done"
	env := []string{"TMPDIR=" + tmp}
	r := awf(t, work, env, "-d", site.Name+",*wild4.test,static.tail*,203.0.113.*,my_host.test",
		"--block-domains", "tracker.we*,c.multi.*", "--", script)
	if r.code != 0 || r.stdout != "ok\nagent done\n" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	warnings := map[string]string{
		"*wild4.test":  "Ignoring allowed domain '*wild4.test': the '*' is joined to a label, so it also matches names of other owners under the public suffix 'test' (such as evilwild4.test); use wild4.test,*.wild4.test instead",
		"static.tail*": "Ignoring allowed domain 'static.tail*': a wildcard in the last label matches names under any top-level domain",
		"203.0.113.*":  "Ignoring allowed domain '203.0.113.*': an IP-shaped pattern: raw IP addresses are always denied",
	}
	for e, w := range warnings {
		if n := strings.Count(r.stderr, w); n != 1 {
			t.Errorf("stderr has the warning for %q %d times, want once:\n%s", e, n, r.stderr)
		}
	}
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.HasPrefix(l, "[WARN]") && strings.Contains(l, "my_host.test") {
			t.Errorf("an underscore name is warned about: %s", l)
		}
	}

	// The preserved manifest records them.
	manifests, _ := filepath.Glob(filepath.Join(tmp, "awf-audit-*", "policy-manifest.json"))
	if len(manifests) != 1 {
		t.Fatalf("manifests: %v", manifests)
	}
	b, err := os.ReadFile(manifests[0])
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		IgnoredEntries []struct{ Entry, Kind, Instead string }
		Rules          []struct {
			ID      string
			Domains []string
		}
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range m.IgnoredEntries {
		got[e.Entry] = e.Kind + " " + e.Instead
	}
	if len(got) != 3 || got["*wild4.test"] != "glued-wildcard wild4.test,*.wild4.test" || got["static.tail*"] != "trailing-wildcard static.tail" ||
		got["203.0.113.*"] != "raw-ip " {
		t.Errorf("manifest ignoredEntries = %v\n%s", got, b)
	}
	for _, rule := range m.Rules {
		for _, d := range rule.Domains {
			if strings.Contains(d, "wild4") || strings.Contains(d, "tail") || strings.Contains(d, "203") {
				t.Errorf("ignored entry in rule %s: %q", rule.ID, d)
			}
		}
		if rule.ID == "deny-blocked-regex" && len(rule.Domains) != 2 {
			t.Errorf("block patterns: %v", rule.Domains)
		}
	}

	sum := awf(t, work, env, "logs", "summary")
	if sum.code != 0 || !strings.Contains(sum.stdout, "> ⚠️ Ignored allowed domain '*wild4.test'") ||
		!strings.Contains(sum.stdout, "use wild4.test,*.wild4.test instead") || !strings.Contains(sum.stdout, "Ignored allowed domain '203.0.113.*'") {
		t.Errorf("summary (%d):\n%s\nstderr:\n%s", sum.code, sum.stdout, sum.stderr)
	}
}
