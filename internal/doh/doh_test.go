package doh

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeDoH is a real RFC 8484 server over TLS on loopback.
func fakeDoH(t *testing.T, zone map[string][]string) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/dns-message" {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var q dns.Msg
		if err := q.Unpack(body); err != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		m := new(dns.Msg)
		m.SetReply(&q)
		ips, ok := zone[q.Question[0].Name]
		if !ok {
			m.Rcode = dns.RcodeNameError
		}
		for _, s := range ips {
			ip := netip.MustParseAddr(s)
			hdr := dns.RR_Header{Name: q.Question[0].Name, Class: dns.ClassINET, Ttl: 60}
			if ip.Is4() && q.Question[0].Qtype == dns.TypeA {
				hdr.Rrtype = dns.TypeA
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: ip.AsSlice()})
			}
			if ip.Is6() && q.Question[0].Qtype == dns.TypeAAAA {
				hdr.Rrtype = dns.TypeAAAA
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: ip.AsSlice()})
			}
		}
		out, _ := m.Pack()
		w.Header().Set("Content-Type", "application/dns-message")
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestLookup(t *testing.T) {
	srv, hits := fakeDoH(t, map[string][]string{"allowed.test.": {"203.0.113.7", "2001:db8::7"}})
	r, err := New(srv.URL+"/dns-query", nil, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", "allowed.test.")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range addrs {
		got = append(got, a.String())
	}
	sort.Strings(got)
	if len(got) != 2 || got[0] != "2001:db8::7" || got[1] != "203.0.113.7" {
		t.Errorf("addrs %v", got)
	}
	if hits.Load() != 2 {
		t.Errorf("want one query per type, got %d", hits.Load())
	}
	_, err = r.LookupNetIP(ctx, "ip", "missing.test.")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Errorf("NXDOMAIN: %v", err)
	}
	if _, err := New("http://dns.example/dns-query", nil, nil); err == nil {
		t.Error("plain http must be refused")
	}
	// A resolver that does not speak DoH is an error, not an empty answer.
	plain := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hi")) }))
	defer plain.Close()
	r2, _ := New(plain.URL, nil, plain.Client())
	if _, err := r2.LookupNetIP(ctx, "ip4", "allowed.test."); err == nil || (errors.As(err, &de) && de.IsNotFound) {
		t.Errorf("non-DoH answer: %v", err)
	}
}
