package main

import (
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/awf-dev/awf/internal/testnet"
	"github.com/miekg/dns"
)

func TestAnswer(t *testing.T) {
	for _, c := range []struct {
		name  string
		qtype uint16
		want  []string
		nx    bool
	}{
		{"example.com.", dns.TypeA, []string{WebV4}, false},
		{"API.GitHub.com.", dns.TypeAAAA, []string{WebV6}, false},
		{"up1.test.", dns.TypeA, []string{WebV4}, false},
		{"no.such.invalid.", dns.TypeA, nil, true},
		{"invalid.", dns.TypeAAAA, nil, true},
		{"example.com.", dns.TypeMX, nil, false},
	} {
		got, nx := Answer(c.name, c.qtype)
		if strings.Join(got, ",") != strings.Join(c.want, ",") || nx != c.nx {
			t.Errorf("Answer(%s, %d) = %v, %v; want %v, %v", c.name, c.qtype, got, nx, c.want, c.nx)
		}
	}
}

func TestReply(t *testing.T) {
	for _, c := range []struct {
		name   string
		header http.Header
		status int
		body   string
	}{
		{"plain", http.Header{}, 200, "fake internet: GET example.com /x"},
		{"bearer", http.Header{"Authorization": {"Bearer sk-x"}}, 401, "authentication_error"},
		{"anthropic key", http.Header{"X-Api-Key": {"sk-ant-x"}}, 401, "authentication_error"},
		{"gemini key", http.Header{"X-Goog-Api-Key": {"g"}}, 401, "authentication_error"},
	} {
		st, _, body := Reply("example.com", "GET", "/x", c.header)
		if st != c.status || !strings.Contains(body, c.body) {
			t.Errorf("%s: Reply = %d %q; want %d containing %q", c.name, st, body, c.status, c.body)
		}
	}
}

// Every address fakenet serves is reserved for documentation or is a
// public resolver's, so that a host route to it exists only on the
// namespace's lo: no listed address is private LAN space a real host uses.
func TestLoopbackAddrs(t *testing.T) {
	for _, a := range LoopbackAddrs() {
		p, err := netip.ParsePrefix(a)
		if err != nil || p.Bits() != p.Addr().BitLen() {
			t.Errorf("%s: want a host prefix (%v)", a, err)
		}
		if p.Addr().IsPrivate() || p.Addr().IsLoopback() {
			t.Errorf("%s: private/loopback address would shadow a real one", a)
		}
	}
	if !strings.HasPrefix(ResolvConf(), "nameserver "+ResolverV4[0]+"\n") {
		t.Errorf("resolv.conf %q", ResolvConf())
	}
}

// TestFakenet runs a command in the fake internet: a random name resolves,
// HTTPS to it verifies against the system bundle (the test CA is bound over
// it inside only), HTTP answers, and the namespace is gone afterwards.
func TestFakenet(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network and mount namespaces)")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("needs curl")
	}
	bin, err := testnet.BuildBinary(t.TempDir(), "fakenet", ".")
	if err != nil {
		t.Fatal(err)
	}
	script := `set -e
getent ahostsv4 some-name-$$.example | head -1
curl -sS --cacert /etc/ssl/certs/ca-certificates.crt https://random-$$.example.org/p
curl -sS http://other.test/q
curl -sS -o /dev/null -w '%{http_code}\n' -H 'x-api-key: k' https://api.anthropic.com/v1/messages
ls -A /tmp | wc -l`
	// The state dir must be outside /tmp, which -private-tmp hides.
	dir, err := os.MkdirTemp("/var/tmp", "fakenet-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cmd := exec.Command(bin, "-dir", dir, "-private-tmp", "--", "sh", "-c", script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("fakenet: %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{WebV4, "fake internet: GET random-", "fake internet: GET other.test /q", "\n401\n", "\n0\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	// Outside, the fake web address is not local.
	if b, _ := exec.Command("ip", "-o", "addr").Output(); strings.Contains(string(b), WebV4) {
		t.Errorf("%s is on a host interface after the run", WebV4)
	}
}
