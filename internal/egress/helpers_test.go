package egress

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/domains"
	"github.com/awf-dev/awf/internal/testnet"
)

func TestMain(m *testing.M) {
	// Fuzzing workers talk to their coordinator over inherited pipes that
	// the re-exec into the private network would not pass on; the fuzz
	// targets need no network.
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.fuzz") {
			os.Exit(m.Run())
		}
	}
	testnet.Main(m)
}

// fakeResolver answers some names itself and passes the rest to the host
// resolver (the private /etc/hosts of the test network): it stands for
// DNS answers that point at loopback, link-local or private addresses.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if a, ok := f[strings.TrimSuffix(strings.ToLower(host), ".")]; ok {
		return a, nil
	}
	return net.DefaultResolver.LookupNetIP(ctx, network, host)
}

func mustPolicy(t testing.TB, allow, block string) *domains.Policy {
	t.Helper()
	p, err := domains.Compile(domains.SplitList(allow), domains.SplitList(block))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// proxy is a running Server with its explicit listener on loopback.
type proxy struct {
	*Server
	addr   string
	logDir string
}

func startProxy(t *testing.T, cfg Config) *proxy {
	t.Helper()
	testnet.Require(t)
	if cfg.LogDir == "" {
		cfg.LogDir = t.TempDir()
	}
	if inspectAll != nil && cfg.Inspect.CA == nil { // inspect_test.go
		cfg.Inspect = *inspectAll
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.ServeProxy(ln)
	p := &proxy{Server: s, addr: ln.Addr().String(), logDir: cfg.LogDir}
	t.Cleanup(func() { p.stop(t) })
	return p
}

func (p *proxy) stop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p.Shutdown(ctx)
}

// audit stops the proxy (flushing the logs) and returns the audit records
// and the access.log lines.
func (p *proxy) audit(t *testing.T) ([]map[string]any, []string) {
	t.Helper()
	p.stop(t)
	var recs []map[string]any
	f, err := os.Open(filepath.Join(p.logDir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		recs = append(recs, m)
	}
	b, err := os.ReadFile(filepath.Join(p.logDir, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) == 1 && lines[0] == "" {
		lines = nil
	}
	if len(lines) != len(recs) {
		t.Errorf("access.log has %d lines, audit.jsonl %d", len(lines), len(recs))
	}
	return recs, lines
}

// findRec returns the audit record whose url contains s.
func findRec(t *testing.T, recs []map[string]any, url string) map[string]any {
	t.Helper()
	for _, r := range recs {
		if r["url"] == url {
			return r
		}
	}
	t.Errorf("no audit record for %q in %v", url, recs)
	return map[string]any{}
}
