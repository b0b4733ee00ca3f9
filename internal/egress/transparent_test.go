package egress

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/awf-dev/awf/internal/testnet"
)

// childNS is a network namespace shaped like the sandbox's: only lo, a
// default route through it, and nftables redirecting TCP 80/443 (and 8443,
// to test the port rule) to the transparent listeners, which are created
// inside it while the proxy dials from the test's own namespace.
type childNS struct {
	name string
}

var nsSeq atomic.Int32

func newChildNS(t *testing.T) *childNS {
	t.Helper()
	n := &childNS{name: fmt.Sprintf("awf-eg-%d-%d", os.Getpid(), nsSeq.Add(1))}
	mustRun(t, "ip", "netns", "add", n.name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.name).Run() })
	mustRun(t, "ip", "-n", n.name, "link", "set", "lo", "up")
	// A global address gives connections a usable source; 127.0.0.1 is
	// scope host and would leave them with 0.0.0.0.
	mustRun(t, "ip", "-n", n.name, "addr", "add", "172.30.0.20/32", "dev", "lo")
	mustRun(t, "ip", "-n", n.name, "route", "add", "default", "dev", "lo")
	return n
}

func (n *childNS) redirect(t *testing.T, httpPort, tlsPort int) {
	t.Helper()
	rules := fmt.Sprintf(`table ip awf {
	chain out {
		type nat hook output priority -100; policy accept;
		ip daddr 127.0.0.0/8 return
		tcp dport 80 redirect to :%d
		tcp dport { 443, 8443 } redirect to :%d
	}
	chain filter {
		type filter hook output priority 0; policy accept;
		ip daddr { 127.0.0.0/8, 172.30.0.20 } accept
		meta l4proto tcp reject with tcp reset
		reject
	}
}
`, httpPort, tlsPort)
	cmd := exec.Command("ip", "netns", "exec", n.name, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
}

// do runs f on an OS thread that has joined the namespace: sockets made
// there belong to it.
func (n *childNS) do(t testing.TB, f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer unix.Close(self)
		target, err := unix.Open("/run/netns/"+n.name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			t.Error(err)
			return
		}
		f()
		if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
			return // the thread stays locked and dies with the goroutine
		}
		runtime.UnlockOSThread()
	}()
	<-done
}

func (n *childNS) listen(t *testing.T) net.Listener {
	var ln net.Listener
	var err error
	n.do(t, func() { ln, err = net.Listen("tcp", "127.0.0.1:0") })
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func (n *childNS) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	var err error
	n.do(nil, func() { c, err = (&net.Dialer{}).DialContext(ctx, network, addr) })
	return c, err
}

// curl runs curl inside the namespace, with no proxy.
func (n *childNS) curl(args ...string) (code, body string) {
	full := append([]string{"netns", "exec", n.name, "curl", "-sS", "--noproxy", "*", "--max-time", "10",
		"-o", "-", "-w", "\n%{http_code}"}, args...)
	out, _ := exec.Command("ip", full...).Output()
	s := string(out)
	i := strings.LastIndexByte(s, '\n')
	return strings.TrimSpace(s[i+1:]), s[:max(i, 0)]
}

func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
}

func TestTransparent(t *testing.T) {
	testnet.Require(t)
	st := newSite(t)
	p := startProxy(t, st.config(t))
	ns := newChildNS(t)
	httpLn, tlsLn := ns.listen(t), ns.listen(t)
	go p.ServeTransparentHTTP(httpLn)
	go p.ServeTransparentTLS(tlsLn)
	ns.redirect(t, httpLn.Addr().(*net.TCPAddr).Port, tlsLn.Addr().(*net.TCPAddr).Port)

	// The namespace itself reaches nothing: only the proxy gets out.
	if c, err := ns.dial(t.Context(), "tcp", st.tls.Addr+":444"); err == nil {
		c.Close()
		t.Fatal("the child namespace reached an upstream directly")
	}

	curlCases := []struct {
		name      string
		args      []string
		code      string
		body      string
		url, rule string
		listener  string
	}{
		{"tls admitted", []string{"https://" + st.tls.Name + "/t"}, "200", "hello " + st.tls.Name,
			st.tls.Name + ":443", "allow-both-plain", "tls"},
		{"tls not listed", []string{"https://" + st.other.Name + "/"}, "000", "",
			st.other.Name + ":443", "deny-default", "tls"},
		{"tls blocked", []string{"https://" + st.blocked.Name + "/"}, "000", "",
			st.blocked.Name + ":443", "deny-blocked-plain", "tls"},
		{"tls port", []string{"https://" + st.tls.Name + ":8443/"}, "000", "",
			st.tls.Name + ":8443", "deny-connect-unsafe-ports", "tls"},
		{"tls http-only entry", []string{"https://" + st.httpOnly.Name + "/"}, "000", "",
			st.httpOnly.Name + ":443", "deny-default", "tls"},
		{"tls ssrf", []string{"--resolve", "loop.test:443:198.51.100.250", "https://loop.test/"}, "000", "",
			"loop.test:443", "deny-private-destination", "tls"},
		{"http admitted", []string{"http://" + st.plain.Name + "/h"}, "200", "hello " + st.plain.Name,
			"http://" + st.plain.Name + "/h", "allow-both-plain", "http"},
		{"http not listed", []string{"http://" + st.other.Name + "/"}, "403", "access to " + st.other.Name + " denied: domain not in allowlist",
			"http://" + st.other.Name + "/", "deny-default", "http"},
		{"http https-only entry", []string{"http://" + st.httpsOnly.Name + "/"}, "403", "domain not in allowlist",
			"http://" + st.httpsOnly.Name + "/", "deny-default", "http"},
		{"http raw ip", []string{"http://" + st.plain.Addr + "/"}, "403", "raw IP not allowed",
			"http://" + st.plain.Addr + "/", "deny-raw-ipv4", "http"},
		// The Host header decides and the proxy resolves it itself: the
		// address the client aimed at is not trusted.
		{"http host decides", []string{"-H", "Host: " + st.plain.Name, "http://198.51.100.199/via-host"}, "200", "hello " + st.plain.Name,
			"http://" + st.plain.Name + "/via-host", "allow-both-plain", "http"},
		{"http ssrf", []string{"-H", "Host: meta.test", "http://198.51.100.199/"}, "403", "private address",
			"http://meta.test/", "deny-private-destination", "http"},
	}
	for _, c := range curlCases {
		code, body := ns.curl(c.args...)
		if code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("%s: curl %v: %s %q, want %s %q", c.name, c.args, code, body, c.code, c.body)
		}
	}

	// Go's client, keep-alive on the transparent HTTP listener.
	client := &http.Client{Transport: &http.Transport{DialContext: ns.dial, Proxy: nil}, Timeout: 10 * time.Second}
	for i := range 3 {
		reused := false
		ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) { reused = ci.Reused }})
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+st.plain.Name+"/go", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || i > 0 && !reused {
			t.Errorf("go client request %d: %d reused=%v", i, resp.StatusCode, reused)
		}
	}
	resp, err := client.Get("https://" + st.tls.Name + "/go")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("go client https: %v", err)
	}
	resp.Body.Close()
	client.CloseIdleConnections()

	// No SNI, and not TLS at all, on the TLS listener.
	c, err := ns.dial(t.Context(), "tcp", st.tls.Addr+":443")
	if err != nil {
		t.Fatal(err)
	}
	err = tls.Client(c, &tls.Config{InsecureSkipVerify: true}).Handshake()
	if err == nil || !strings.Contains(err.Error(), "access denied") {
		t.Errorf("no SNI: handshake err = %v", err)
	}
	c.Close()
	c, err = ns.dial(t.Context(), "tcp", st.tls.Addr+":443")
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+st.tls.Name+"\r\n\r\n")
	if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
		t.Error("plain HTTP on the TLS listener got an answer")
	}
	c.Close()

	recs, _ := p.audit(t)
	for _, cc := range curlCases {
		r := findRec(t, recs, cc.url)
		if r["rule"] != cc.rule || r["listener"] != cc.listener {
			t.Errorf("%s: audit %v, want rule %s listener %s", cc.name, r, cc.rule, cc.listener)
		}
	}
	if r := findRec(t, recs, "http://"+st.plain.Name+"/via-host"); r["dest"] != st.plain.Addr+":80" {
		t.Errorf("Host-decided request went to %v", r["dest"])
	}
	var noSNI, notTLS bool
	for _, r := range recs {
		noSNI = noSNI || r["rule"] == "deny-no-sni"
		notTLS = notTLS || r["rule"] == "deny-not-tls" && r["listener"] == "tls"
	}
	if !noSNI || !notTLS {
		t.Errorf("missing audit records: no-sni %v, not-tls %v", noSNI, notTLS)
	}
}
