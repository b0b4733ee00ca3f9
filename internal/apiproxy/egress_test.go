package apiproxy

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/domains"
	"github.com/awf-dev/awf/internal/egress"
)

// TestThroughRealEgressProxy chains the two real parts as the sandbox
// does: the api-proxy's upstream calls go through the allowlist proxy, an
// admitted provider works, a target outside the allowlist is refused with
// the reason, and the egress access log shows both.
func TestThroughRealEgressProxy(t *testing.T) {
	rec := &recorder{}
	r := newRig(t, rec)
	r.stop()

	logDir := t.TempDir()
	pol, err := domains.Compile([]string{r.up.Name}, nil)
	if err != nil {
		t.Fatal(err)
	}
	eg, err := egress.New(egress.Config{Policy: pol, LogDir: logDir})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go eg.ServeProxy(ln)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		eg.Shutdown(ctx)
	}()

	r.cfg.Proxy = mustURL("http://" + ln.Addr().String())
	r.cfg.Targets["anthropic"] = "api.anthropic.com" // resolvable, not allowlisted
	r.start()

	if resp, body := r.do("openai", "POST", "/v1/chat/completions", strings.NewReader("{}"), nil); resp.StatusCode != 200 {
		t.Fatalf("admitted provider: %d %s", resp.StatusCode, body)
	}
	want(t, rec.last(t).Header.Get("Authorization"), "Bearer "+testKeys["openai"])
	resp, body := r.do("anthropic", "POST", "/v1/messages", strings.NewReader("{}"), nil)
	if resp.StatusCode != 502 || !strings.Contains(body, "api.anthropic.com") || !strings.Contains(body, "domain not in allowlist") {
		t.Errorf("refused provider: %d %s", resp.StatusCode, body)
	}
	r.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	eg.Shutdown(ctx)
	access, _ := os.ReadFile(filepath.Join(logDir, "access.log"))
	if !strings.Contains(string(access), "CONNECT 200 TCP_TUNNEL:HIER_DIRECT "+r.up.Name+":443") ||
		!strings.Contains(string(access), "CONNECT 403 TCP_DENIED:HIER_NONE api.anthropic.com:443") {
		t.Errorf("access.log:\n%s", access)
	}
	r.assertNoKeyIn(string(access))
}
