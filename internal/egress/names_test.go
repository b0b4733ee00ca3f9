package egress

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/awf-dev/awf/internal/domains"
	"github.com/awf-dev/awf/internal/testnet"
)

// The longest DNS name: 253 bytes, labels of 63.
var name253 = strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 56) + ".test"

// serveNames starts TLS (443) and plain HTTP (80) servers on one test
// address for all of names (one certificate naming them all).
func serveNames(t *testing.T, names []string) netip.Addr {
	t.Helper()
	_, a := testnet.AllocHost(t)
	addr := netip.MustParseAddr(a)
	for _, useTLS := range []bool{true, false} {
		port := "80"
		if useTLS {
			port = "443"
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(a, port))
		if err != nil {
			t.Fatal(err)
		}
		s := httptest.NewUnstartedServer(http.HandlerFunc(sayHello))
		s.Listener.Close()
		s.Listener = ln
		if useTLS {
			s.TLS = &tls.Config{Certificates: []tls.Certificate{testnet.TestCA().Leaf(names...)}}
			s.StartTLS()
		} else {
			s.Start()
		}
		t.Cleanup(s.Close)
	}
	return addr
}

// Issue 12 end to end: allowlists that load in the original load here;
// underscores and 253-byte names are admitted through CONNECT, plain HTTP,
// SNI, the Host header and the DNS server; entries that could admit other
// owners' names are ignored with a warning and admit nothing; block
// patterns with a wildcard at the end block.
func TestNamesEndToEnd(t *testing.T) {
	testnet.Require(t)
	names := []string{"my_host.test", "a.u_w.test", "a_b.allowed.test", name253, "evilwild4.test", "wild4.test",
		"static.tail.test", "tracker.web.test", "x.web.test", "upper_case.allowed.test"}
	addr := serveNames(t, names)
	res := fakeResolver{}
	for _, n := range names {
		res[n] = []netip.Addr{addr}
	}
	allow := "my_host.test,*.u_w.test,allowed.test," + name253 + ",*wild4.test,static.tail*,203.0.113.*,web.test"
	pol, err := domains.Compile(domains.SplitList(allow), domains.SplitList("tracker.we*"))
	if err != nil {
		t.Fatalf("the original loads this allowlist, awf does not: %v", err)
	}
	warnings := map[string]string{
		"*wild4.test":  "Ignoring allowed domain '*wild4.test': the '*' is joined to a label, so it also matches names of other owners under the public suffix 'test' (such as evilwild4.test); use wild4.test,*.wild4.test instead",
		"static.tail*": "Ignoring allowed domain 'static.tail*': a wildcard in the last label matches names under any top-level domain, whoever owns them (such as static.tail.evil.example); list each name in full; use static.tail instead",
		"203.0.113.*":  "Ignoring allowed domain '203.0.113.*': an IP-shaped pattern: raw IP addresses are always denied",
	}
	ns := pol.Notices()
	if len(ns) != len(warnings) {
		t.Errorf("notices = %v, want %d", ns, len(warnings))
	}
	for _, n := range ns {
		if w, ok := warnings[n.Entry]; !ok || !n.Ignored || !strings.HasPrefix(n.String(), w) {
			t.Errorf("warning for %q = %q, want %q", n.Entry, n.String(), w)
		}
	}

	p := startProxy(t, Config{Policy: pol, Resolver: res})
	type want struct {
		url, code, connect, rule string
	}
	denied := func(host string) []want {
		return []want{{"https://" + host + "/", "000", "403", "deny-default"}, {"http://" + host + "/", "403", "000", "deny-default"}}
	}
	cases := []want{
		{"https://my_host.test/", "200", "200", "allow-both-plain"},
		{"http://my_host.test/", "200", "000", "allow-both-plain"},
		{"https://a.u_w.test/", "200", "200", "allow-both-regex"},
		{"https://a_b.allowed.test/", "200", "200", "allow-both-plain"},
		{"http://a_b.allowed.test/", "200", "000", "allow-both-plain"},
		{"https://" + name253 + "/", "200", "200", "allow-both-plain"},
		{"http://" + name253 + "/", "200", "000", "allow-both-plain"},
		{"https://x.web.test/", "200", "200", "allow-both-plain"},
		{"https://tracker.web.test/", "000", "403", "deny-blocked-regex"},
		{"http://tracker.web.test/", "403", "000", "deny-blocked-regex"},
	}
	cases = append(cases, denied("evilwild4.test")...)
	cases = append(cases, denied("wild4.test")...)
	cases = append(cases, denied("static.tail.test")...)
	for _, c := range cases {
		code, connect, body := curl(t, p.addr, c.url)
		if code != c.code || connect != c.connect {
			t.Errorf("explicit %s: %s/%s %q, want %s/%s", c.url, code, connect, body, c.code, c.connect)
		}
		if c.code == "200" && !strings.Contains(body, "hello ") {
			t.Errorf("explicit %s: body %q", c.url, body)
		}
	}

	// Transparent: the SNI and the Host header decide.
	child := newChildNS(t)
	httpLn, tlsLn := child.listen(t), child.listen(t)
	go p.ServeTransparentHTTP(httpLn)
	go p.ServeTransparentTLS(tlsLn)
	child.redirect(t, httpLn.Addr().(*net.TCPAddr).Port, tlsLn.Addr().(*net.TCPAddr).Port)
	tcases := []struct {
		host, scheme, code string
	}{
		{"my_host.test", "https", "200"},
		{"a_b.allowed.test", "https", "200"},
		{name253, "https", "200"},
		{name253, "http", "200"},
		{"a.u_w.test", "http", "200"},
		{"upper_case.allowed.test", "http", "200"},
		{"evilwild4.test", "https", "000"},
		{"evilwild4.test", "http", "403"},
	}
	for _, c := range tcases {
		port := "443"
		if c.scheme == "http" {
			port = "80"
		}
		code, body := child.curl("--resolve", c.host+":"+port+":"+addr.String(), c.scheme+"://"+c.host+"/t")
		if code != c.code || c.code == "200" && !strings.Contains(body, "hello ") {
			t.Errorf("transparent %s://%s: %s %q, want %s", c.scheme, c.host, code, body, c.code)
		}
	}

	// The allowlist-only DNS server.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go p.ServeDNSPacket(pc)
	time.Sleep(50 * time.Millisecond) // miekg/dns starts serving asynchronously
	for q, rcode := range map[string]int{
		"my_host.test.": dns.RcodeSuccess, "A_B.allowed.test.": dns.RcodeSuccess, name253 + ".": dns.RcodeSuccess,
		strings.ToUpper(name253) + ".": dns.RcodeSuccess, "x." + name253[2:] + ".": dns.RcodeRefused,
		"evilwild4.test.": dns.RcodeRefused, "tracker.web.test.": dns.RcodeRefused,
	} {
		m := new(dns.Msg)
		m.SetQuestion(q, dns.TypeA)
		r, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(m, pc.LocalAddr().String())
		if err != nil {
			t.Errorf("DNS %s: %v", q, err)
			continue
		}
		got := ""
		if len(r.Answer) == 1 {
			if a, ok := r.Answer[0].(*dns.A); ok {
				got = a.A.String()
			}
		}
		if r.Rcode != rcode || rcode == dns.RcodeSuccess && got != addr.String() {
			t.Errorf("DNS %s: %s %q, want %s %s", q, dns.RcodeToString[r.Rcode], got, dns.RcodeToString[rcode], addr)
		}
	}

	recs, _ := p.audit(t)
	for _, c := range cases {
		u := c.url
		if strings.HasPrefix(u, "https://") {
			u = strings.TrimSuffix(strings.TrimPrefix(u, "https://"), "/") + ":443"
		}
		if r := findRec(t, recs, u); r["rule"] != c.rule {
			t.Errorf("audit %s: rule %v, want %s", u, r["rule"], c.rule)
		}
	}
}
