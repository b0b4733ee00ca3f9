package sandbox

import (
	"strings"
	"testing"
)

func TestArtifactName(t *testing.T) {
	for name, want := range map[string]bool{
		"awf-1796287249003-123456": true, "awf-1700000000000": true, "awf-audit-1796": true,
		"squid-logs-1796": true, "squid-logs-1796-8812": true, "api-proxy-logs-1796": true,
		"awf-e2e-bin": false, "awf-testnet-12": false, "awf-": false, "gh-aw": false, "squid-logs-": false,
		"my-squid-logs-1": false, "awf-audit-": false,
	} {
		if got := ArtifactName(name); got != want {
			t.Errorf("ArtifactName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestHideMounts: gh-aw passes --proxy-logs-dir inside /tmp/gh-aw and
// mounts /tmp/gh-aw read-write: the logs dir is hidden at its own path and
// wherever a -v mount shows it, after that mount, while /tmp/gh-aw stays.
func TestHideMounts(t *testing.T) {
	in := baseInput()
	in.Extra = []string{"/tmp/gh-aw:/tmp/gh-aw:rw", "/tmp/gh-aw/sandbox:/mnt/sb:ro", "/srv:/srv"}
	in.Hide = []string{"/tmp/gh-aw/sandbox/firewall/logs", "/tmp/squid-logs-17", "relative/ignored", "/"}
	p, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	ms := p.Mounts
	for _, h := range []string{"/tmp/gh-aw/sandbox/firewall/logs", "/mnt/sb/firewall/logs", "/tmp/squid-logs-17", "/tmp/awf-1"} {
		if findMount(ms, KindHide, h) < 0 {
			t.Errorf("no hide at %s", h)
		}
	}
	n := 0
	for _, m := range ms {
		if m.Kind == KindHide && !strings.HasPrefix(m.Target, "/home/u/") {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d hides, want 4 (no duplicates, nothing relative, never /)", n)
	}
	for _, o := range [][2]int{
		{findMount(ms, KindBind, "/tmp/gh-aw"), findMount(ms, KindHide, "/tmp/gh-aw/sandbox/firewall/logs")},
		{findMount(ms, KindBind, "/mnt/sb"), findMount(ms, KindHide, "/mnt/sb/firewall/logs")},
		{findMount(ms, KindBind, "/tmp"), findMount(ms, KindHide, "/tmp/squid-logs-17")},
	} {
		if o[0] < 0 || o[1] < 0 || o[0] > o[1] {
			t.Errorf("mount order wrong: %d then %d", o[0], o[1])
		}
	}
}
