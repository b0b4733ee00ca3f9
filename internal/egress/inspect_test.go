package egress

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/awf-dev/awf/internal/inspect"
	"github.com/awf-dev/awf/internal/testnet"
)

// inspectAll, when set, is the inspection every startProxy gets: the
// whole suite then runs with TLS terminated for every admitted host.
var inspectAll *Inspect

// observeAll inspects every host and refuses nothing; it counts requests
// so a test knows inspection really happened.
type observeAll struct{ seen atomic.Int64 }

func (*observeAll) Name() string         { return "observe" }
func (*observeAll) Inspects(string) bool { return true }
func (o *observeAll) Request(r *http.Request, host string) *inspect.Block {
	o.seen.Add(1)
	return nil
}

func testInspect(t *testing.T, hooks ...inspect.Hook) Inspect {
	t.Helper()
	ca, err := inspect.NewCAFrom(testnet.TestCA().Certificate(), testnet.TestCA().Signer())
	if err != nil {
		t.Fatal(err)
	}
	return Inspect{CA: ca, Hooks: hooks}
}

// TestBypassCorpusWithInspection runs the egress suite's bypass and
// behaviour tests again with every admitted host inspected (leaves from
// the test CA, which the suite's clients trust): each decision is made
// before inspection, so every refusal must still hold, and everything
// admitted must still work through the terminating proxy.
func TestBypassCorpusWithInspection(t *testing.T) {
	testnet.Require(t)
	obs := &observeAll{}
	in := testInspect(t, obs)
	inspectAll = &in
	defer func() { inspectAll = nil }()
	for name, f := range map[string]func(*testing.T){
		"ExplicitWithCurl":      TestExplicitWithCurl,
		"ExplicitWithGoClient":  TestExplicitWithGoClient,
		"ExplicitRequestChecks": TestExplicitRequestChecks,
		"Transparent":           TestTransparent,
		"NamesEndToEnd":         TestNamesEndToEnd,
		"RefusesECH":            TestTunnelRefusesEncryptedClientHello,
		"Streaming":             TestStreamingAndBodylessResponses,
		"APIProxyTargets":       TestAPIProxyTargets,
		"HostAccess":            TestHostAccessExplicit,
	} {
		t.Run(name, f)
	}
	if obs.seen.Load() == 0 {
		t.Error("no request was inspected: the corpus ran without inspection")
	}
	t.Logf("%d requests inspected", obs.seen.Load())
}

// TestInspectedConnections: what inspection adds at the egress proxy.
func TestInspectedConnections(t *testing.T) {
	testnet.Require(t)
	st := newSite(t)
	cfg := st.config(t)
	cfg.Inspect = testInspect(t, &observeAll{})
	p := startProxy(t, cfg)

	// Domain fronting inside TLS: SNI and CONNECT name an admitted host,
	// the Host header another one behind the same front.
	code, _, body := curl(t, p.addr, "-H", "Host: "+st.other.Name, "https://"+st.tls.Name+"/front")
	if code != "421" || !strings.Contains(body, "does not match the TLS server name") {
		t.Errorf("fronted request: %s %q", code, body)
	}
	// The guard still decides before the tunnel opens.
	if code, connect, _ := curl(t, p.addr, "https://private.test/"); code != "000" || connect != "403" {
		t.Errorf("private destination: %s %s", code, connect)
	}
	// Admitted and inspected: logged with method, path and query.
	if code, _, body := curl(t, p.addr, "https://"+st.tls.Name+"/a/b?c=d"); code != "200" || !strings.Contains(body, "hello") {
		t.Errorf("inspected GET: %s %q", code, body)
	}
	recs, lines := p.audit(t)
	r := findRec(t, recs, "https://"+st.tls.Name+"/a/b?c=d")
	if r["listener"] != "inspect" || r["method"] != "GET" || r["decision"] != "TCP_MISS" || r["dest"] == "-:-" {
		t.Errorf("inspected record %v", r)
	}
	f := findRec(t, recs, "https://"+st.tls.Name+"/front")
	if f["decision"] != "TCP_DENIED" || f["rule"] != "deny-host-mismatch" {
		t.Errorf("fronted record %v", f)
	}
	joined := strings.Join(lines, "\n")
	if !strings.Contains(joined, " GET 200 TCP_MISS:HIER_DIRECT https://"+st.tls.Name+"/a/b?c=d ") {
		t.Errorf("access.log:\n%s", joined)
	}
}
