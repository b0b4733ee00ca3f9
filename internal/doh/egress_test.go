package doh_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/awf-dev/awf/internal/doh"
	"github.com/awf-dev/awf/internal/domains"
	"github.com/awf-dev/awf/internal/egress"
)

// TestEgressResolvesThroughDoH: with the DoH resolver, the egress proxy's
// allowlist-only DNS server answers an admitted name with what the DoH
// server said, and still refuses an unlisted one without asking it.
func TestEgressResolvesThroughDoH(t *testing.T) {
	var mu sync.Mutex
	asked := map[string]bool{}
	wasAsked := func(n string) bool { mu.Lock(); defer mu.Unlock(); return asked[n] }
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var q dns.Msg
		if q.Unpack(body) != nil {
			http.Error(w, "bad", 400)
			return
		}
		mu.Lock()
		asked[q.Question[0].Name] = true
		mu.Unlock()
		m := new(dns.Msg)
		m.SetReply(&q)
		if q.Question[0].Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP("203.0.113.9")})
		}
		out, _ := m.Pack()
		w.Header().Set("Content-Type", "application/dns-message")
		w.Write(out)
	}))
	defer srv.Close()
	res, err := doh.New(srv.URL+"/dns-query", nil, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	pol, err := domains.Compile([]string{"allowed.test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	eg, err := egress.New(egress.Config{Policy: pol, Resolver: res})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go eg.ServeDNSPacket(pc)
	defer pc.Close()

	c := &dns.Client{Timeout: 5 * time.Second}
	ask := func(name string) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, _, err := c.ExchangeContext(ctx, m, pc.LocalAddr().String())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return r
	}
	r := ask("api.allowed.test.")
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "203.0.113.9" {
		t.Errorf("admitted name: %v", r)
	}
	if !wasAsked("api.allowed.test.") {
		t.Error("the DoH server was not asked")
	}
	r = ask("evil.test.")
	if r.Rcode != dns.RcodeRefused || wasAsked("evil.test.") {
		t.Errorf("unlisted name: rcode %s, asked DoH: %v", dns.RcodeToString[r.Rcode], wasAsked("evil.test."))
	}
}
