package egress

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/awf-dev/awf/internal/testnet"
)

// fakeUpstreamDNS is an authoritative-looking server on a test address
// that records every question it is asked.
type fakeUpstreamDNS struct {
	mu    sync.Mutex
	asked []string
	zone  map[string][]dns.RR
}

func (f *fakeUpstreamDNS) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(q)
	qq := q.Question[0]
	f.mu.Lock()
	f.asked = append(f.asked, dns.TypeToString[qq.Qtype]+" "+qq.Name)
	f.mu.Unlock()
	rrs, ok := f.zone[strings.ToLower(qq.Name)]
	if !ok {
		m.Rcode = dns.RcodeNameError
	}
	for _, rr := range rrs {
		if rr.Header().Rrtype == qq.Qtype {
			m.Answer = append(m.Answer, rr)
		}
	}
	w.WriteMsg(m)
}

func (f *fakeUpstreamDNS) questions() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.asked, "; ")
}

func startFakeDNS(t *testing.T, addr string, zone string) *fakeUpstreamDNS {
	t.Helper()
	f := &fakeUpstreamDNS{zone: map[string][]dns.RR{}}
	for _, l := range strings.Split(strings.TrimSpace(zone), "\n") {
		rr, err := dns.NewRR(strings.TrimSpace(l))
		if err != nil {
			t.Fatal(err)
		}
		n := strings.ToLower(rr.Header().Name)
		f.zone[n] = append(f.zone[n], rr)
	}
	for _, network := range []string{"udp", "tcp"} {
		s := &dns.Server{Addr: addr, Net: network, Handler: f}
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go s.ListenAndServe()
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatal("fake DNS did not start")
		}
		t.Cleanup(func() { s.Shutdown() })
	}
	return f
}

func TestDNS(t *testing.T) {
	testnet.Require(t)
	up := startFakeDNS(t, "203.0.113.53:53", `
dnsonly.test. 300 IN A 198.51.100.177
dnsonly.test. 300 IN AAAA 2001:db8::177
dnsonly.test. 300 IN TXT "should never be asked"
v4only.test. 300 IN A 198.51.100.178
mixed.test. 300 IN A 10.0.0.5
mixed.test. 300 IN A 198.51.100.179
loopy.test. 300 IN A 127.0.0.1
leak.secret-data.evil.test. 300 IN A 198.51.100.180`)
	web := testnet.NewUpstreamOn(t, "dnsonly.test", "198.51.100.177", 80, http.HandlerFunc(sayHello), false)
	logDir := t.TempDir()
	p := startProxy(t, Config{
		Policy:     mustPolicy(t, "dnsonly.test,v4only.test,mixed.test,loopy.test", "bad.dnsonly.test"),
		DNSServers: []string{"203.0.113.53"},
		LogDir:     logDir,
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	go p.ServeDNSPacket(pc)
	go p.ServeDNSStream(ln)
	time.Sleep(50 * time.Millisecond) // miekg/dns starts serving asynchronously

	cases := []struct {
		name, qname string
		qtype       uint16
		net         string
		rcode       int
		answers     []string
	}{
		{"A", "dnsonly.test.", dns.TypeA, "udp", dns.RcodeSuccess, []string{"198.51.100.177"}},
		{"A over tcp", "dnsonly.test.", dns.TypeA, "tcp", dns.RcodeSuccess, []string{"198.51.100.177"}},
		{"AAAA", "dnsonly.test.", dns.TypeAAAA, "udp", dns.RcodeSuccess, []string{"2001:db8::177"}},
		{"case and subdomain", "WWW.DnsOnly.Test.", dns.TypeA, "udp", dns.RcodeNameError, nil},
		{"AAAA of a v4-only name", "v4only.test.", dns.TypeAAAA, "udp", dns.RcodeSuccess, nil},
		{"TXT of an admitted name", "dnsonly.test.", dns.TypeTXT, "udp", dns.RcodeSuccess, nil},
		{"MX of an admitted name", "dnsonly.test.", dns.TypeMX, "tcp", dns.RcodeSuccess, nil},
		{"unlisted", "leak.secret-data.evil.test.", dns.TypeA, "udp", dns.RcodeRefused, nil},
		{"unlisted TXT", "leak.secret-data.evil.test.", dns.TypeTXT, "tcp", dns.RcodeRefused, nil},
		{"blocked", "bad.dnsonly.test.", dns.TypeA, "udp", dns.RcodeRefused, nil},
		{"private answers dropped", "mixed.test.", dns.TypeA, "udp", dns.RcodeSuccess, []string{"198.51.100.179"}},
		{"loopback answers dropped", "loopy.test.", dns.TypeA, "udp", dns.RcodeSuccess, nil},
		{"reverse lookup", "177.100.51.198.in-addr.arpa.", dns.TypePTR, "udp", dns.RcodeRefused, nil},
		{"raw ip", "198.51.100.177.", dns.TypeA, "udp", dns.RcodeRefused, nil},
	}
	for _, c := range cases {
		m := new(dns.Msg)
		m.SetQuestion(c.qname, c.qtype)
		cl := &dns.Client{Net: c.net, Timeout: 5 * time.Second}
		r, _, err := cl.Exchange(m, pc.LocalAddr().String())
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		var got []string
		for _, rr := range r.Answer {
			switch a := rr.(type) {
			case *dns.A:
				got = append(got, a.A.String())
			case *dns.AAAA:
				got = append(got, a.AAAA.String())
			default:
				got = append(got, rr.String())
			}
			if rr.Header().Name != c.qname {
				t.Errorf("%s: answer names %q", c.name, rr.Header().Name)
			}
		}
		if r.Rcode != c.rcode || strings.Join(got, ",") != strings.Join(c.answers, ",") {
			t.Errorf("%s: %s %v, want %s %v", c.name, dns.RcodeToString[r.Rcode], got, dns.RcodeToString[c.rcode], c.answers)
		}
	}
	asked := up.questions()
	if strings.Contains(asked, "secret-data") || strings.Contains(asked, "TXT") || strings.Contains(asked, "MX") ||
		strings.Contains(asked, "bad.") || strings.Contains(asked, "in-addr") {
		t.Errorf("upstream was asked what it must not be: %s", asked)
	}
	if !strings.Contains(asked, "dnsonly.test.") {
		t.Errorf("upstream was not used: %q", asked)
	}

	// The proxy's own dials resolve through the same servers.
	code, _, body := curl(t, p.addr, "http://dnsonly.test/")
	if code != "200" || !strings.Contains(body, "hello dnsonly.test") {
		t.Errorf("proxy via configured DNS: %s %q", code, body)
	}
	_ = web
	p.stop(t)
	b, err := os.ReadFile(filepath.Join(logDir, "dns.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != len(cases) {
		t.Errorf("dns.jsonl has %d lines for %d queries", len(lines), len(cases))
	}
	if !strings.Contains(string(b), `"name":"leak.secret-data.evil.test.","type":"A","rcode":"REFUSED"`) {
		t.Errorf("dns.jsonl lacks the refusal:\n%s", b)
	}
}

// TestDNSInSandboxShape resolves through the DNS listener from inside a
// child namespace, as the agent does, and fetches through the transparent
// HTTP listener: the name exists only in the upstream resolver, so every
// step (DNS listener, redirect, proxy's own lookup) is exercised.
func TestDNSInSandboxShape(t *testing.T) {
	testnet.Require(t)
	up := startFakeDNS(t, "203.0.113.54:53", `
only-in-dns.test. 300 IN A 198.51.100.190
leak.secret.evil.test. 300 IN A 198.51.100.191`)
	testnet.NewUpstreamOn(t, "only-in-dns.test", "198.51.100.190", 80, http.HandlerFunc(sayHello), false)
	p := startProxy(t, Config{Policy: mustPolicy(t, "only-in-dns.test", ""), DNSServers: []string{"203.0.113.54"}})
	ns := newChildNS(t)
	var pc net.PacketConn
	var err error
	ns.do(t, func() { pc, err = net.ListenPacket("udp", "127.0.0.1:53") })
	if err != nil {
		t.Fatal(err)
	}
	httpLn, tlsLn := ns.listen(t), ns.listen(t)
	go p.ServeDNSPacket(pc)
	go p.ServeTransparentHTTP(httpLn)
	go p.ServeTransparentTLS(tlsLn)
	ns.redirect(t, httpLn.Addr().(*net.TCPAddr).Port, tlsLn.Addr().(*net.TCPAddr).Port)
	time.Sleep(50 * time.Millisecond)

	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return ns.dial(ctx, "udp", "127.0.0.1:53")
	}}
	// Name lookup and socket both happen in the child namespace.
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		var err error
		ns.do(t, func() { c, err = (&net.Dialer{Resolver: res}).DialContext(ctx, network, addr) })
		return c, err
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dial, Proxy: nil}}
	resp, err := client.Get("http://only-in-dns.test/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(b), "hello only-in-dns.test") {
		t.Errorf("got %d %q", resp.StatusCode, b)
	}
	if _, err := res.LookupHost(t.Context(), "leak.secret.evil.test"); err == nil {
		t.Error("an unlisted name resolved through the DNS listener")
	}
	if strings.Contains(up.questions(), "secret") {
		t.Errorf("the unlisted name reached the upstream resolver: %s", up.questions())
	}
}
