package runner

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/testnet"
)

func hello(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "hello from %s%s", r.Host, r.URL.Path)
}

// fastFail is the longest a refused attempt may take: every probe would
// wait 5 s and curl 10 s if the refusal were a silent drop.
const fastFail = 1500 * time.Millisecond

var probeMs = regexp.MustCompile(`(ok|fail) .* (\d+)ms`)

func TestEgress(t *testing.T) { egressCorpus(t, false) }

// egressCorpus is TestEgress; with bump, every admitted HTTPS host is
// inspected (--ssl-bump, --allow-urls naming them all; inspect_test.go)
// and the agent trusts the run's CA instead of the upstreams' own.
func egressCorpus(t *testing.T, bump bool) {
	testnet.Require(t)
	tlsUp := testnet.NewUpstream(t, http.HandlerFunc(hello))
	plainUp := testnet.NewPlainUpstream(t, http.HandlerFunc(hello))
	blockedUp := testnet.NewUpstream(t, http.HandlerFunc(hello))
	otherUp := testnet.NewUpstream(t, http.HandlerFunc(hello))
	other8080 := testnet.NewUpstreamOn(t, otherUp.Name, otherUp.Addr, 8080, http.HandlerFunc(hello), false)
	_ = other8080
	ca := readableCA(t)
	if bump {
		ca = AgentCAFile // the run's CA: every admitted HTTPS host is inspected
	}
	allowed := strings.Join([]string{tlsUp.Name, plainUp.Name, blockedUp.Name, otherUp.Name}, ",")
	awf := func(t *testing.T, env []string, args ...string) result {
		if bump {
			args = append([]string{"--ssl-bump", "--allow-urls", "https://" + tlsUp.Name + "/*,https://" + otherUp.Name + "/*,https://" + blockedUp.Name + "/*"}, args...)
		}
		return awf(t, env, args...)
	}
	ok := []struct{ name, cmd, want string }{
		{"https explicit", "curl -fsS -m 10 --cacert " + ca + " https://" + tlsUp.Name + "/a", "/a"},
		{"http explicit", "curl -fsS -m 10 --cacert " + ca + " http://" + plainUp.Name + "/b", "/b"},
		{"https transparent", "curl -fsS -m 10 --cacert " + ca + " --noproxy '*' https://" + tlsUp.Name + "/c", "/c"},
		{"http transparent", "curl -fsS -m 10 --cacert " + ca + " --noproxy '*' http://" + plainUp.Name + "/d", "/d"},
	}
	t.Run("dns", func(t *testing.T) {
		r := awf(t, nil, "-d", allowed, "--", probe("dns", "172.30.0.10:53", tlsUp.Name)+"; "+probe("dns", "172.30.0.10:53", testnet.HostName(160)))
		want := "ok " + tlsUp.Addr + " "
		if strings.Count(r.stdout, want) != 1 || !strings.Contains(r.stdout, "fail rcode") {
			t.Fatalf("allowlist DNS: %q\n%s", r.stdout, r.stderr)
		}
	})
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			r := awf(t, nil, "-d", allowed, "--block-domains", blockedUp.Name, "--", tc.cmd)
			// The proxy may spell the Host header with the port.
			if r.code != 0 || !strings.HasPrefix(r.stdout, "hello from up") || !strings.HasSuffix(r.stdout, tc.want) {
				t.Fatalf("code %d stdout %q\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
		})
	}

	// Everything below must fail, and at once. One awf run tries them all
	// (each line prints its own timing) to keep the suite fast.
	denied := []struct{ name, cmd string }{
		{"non-listed https explicit", "curl -fsS -m 10 --cacert " + ca + " https://" + testnet.HostName(150) + "/"},
		{"blocked https", "curl -fsS -m 10 --cacert " + ca + " https://" + blockedUp.Name + "/"},
		{"blocked transparent", "curl -fsS -m 10 --cacert " + ca + " --noproxy '*' https://" + blockedUp.Name + "/"},
		{"raw ip", "curl -fsS -m 10 --cacert " + ca + " --noproxy '*' https://" + tlsUp.Addr + "/"},
		{"raw ip explicit", "curl -fsS -m 10 --cacert " + ca + " http://" + plainUp.Addr + "/"},
		{"other port", probe("dial", "tcp", otherUp.Addr+":8080")},
		{"other port via proxy", "curl -fsS -m 10 --cacert " + ca + " http://" + otherUp.Name + ":8080/"},
		{"udp", probe("udp", otherUp.Addr+":9999")},
		{"icmp", probe("dial", "ip4:icmp", otherUp.Addr)},
		{"ipv6", probe("dial", "tcp6", "[2001:db8::1]:443")},
		{"dns non-listed", probe("dns", "172.30.0.10:53", "not-listed.example")},
		{"dns via other resolver", probe("dns", "8.8.8.8:53", "not-listed.example")},
		{"allowed name via other resolver", probe("dns", "9.9.9.9:53", tlsUp.Name)},
		{"dns over tcp via other resolver", probe("dial", "tcp", "1.1.1.1:53")},
	}
	var script strings.Builder
	for i, d := range denied {
		fmt.Fprintf(&script, "s=$(date +%%s%%N); %s >/dev/null 2>&1; rc=$?; e=$(date +%%s%%N); echo \"case %d rc=$rc ms=$(( (e-s)/1000000 ))\"\n", d.cmd, i)
	}
	r := awf(t, nil, "-d", allowed, "--block-domains", blockedUp.Name, "--", script.String())
	if r.code != 0 {
		t.Fatalf("code %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	line := regexp.MustCompile(`case (\d+) rc=(\d+) ms=(\d+)`)
	seen := 0
	for _, m := range line.FindAllStringSubmatch(r.stdout, -1) {
		i, _ := strconv.Atoi(m[1])
		rc, _ := strconv.Atoi(m[2])
		ms, _ := strconv.Atoi(m[3])
		seen++
		t.Logf("%-28s rc=%d %dms", denied[i].name, rc, ms)
		if rc == 0 {
			t.Errorf("%s: succeeded", denied[i].name)
		}
		if time.Duration(ms)*time.Millisecond > fastFail {
			t.Errorf("%s: took %d ms, want a fast failure", denied[i].name, ms)
		}
	}
	if seen != len(denied) {
		t.Fatalf("saw %d cases\n%s\n%s", seen, r.stdout, r.stderr)
	}
	r = awf(t, nil, "-d", allowed, "--", "curl -s -m 10 -o /dev/null -w '%{http_code} %{http_connect}\\n' http://"+testnet.HostName(150)+"/ https://"+testnet.HostName(150)+"/")
	if r.stdout != "403 000\n000 403\n" {
		t.Errorf("non-listed domain through the proxy: %q, want 403 for GET and CONNECT", r.stdout)
	}
	_ = io.Discard
}

// readableCA copies the test CA where the sandbox user can read it.
func readableCA(t *testing.T) string {
	p := filepath.Join(workspace(t), "ca.pem")
	if err := os.WriteFile(p, testnet.TestCA().PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
