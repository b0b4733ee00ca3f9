package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/awf-dev/awf/internal/testnet"
	"github.com/miekg/dns"
)

// The fake internet's addresses. The web server is on documentation
// addresses (RFC 5737/3849); the resolvers are also reachable at the
// public resolvers' addresses the original's tests name, so that a test
// expecting awf to block (or to forward to) 8.8.8.8 meets a real server.
var (
	WebV4      = "192.0.2.80"
	WebV6      = "2001:db8::80"
	ResolverV4 = []string{"192.0.2.53", "8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1"}
	ResolverV6 = []string{"2001:4860:4860::8888", "2001:4860:4860::8844"}
)

// LoopbackAddrs lists the addresses (with prefix) put on lo.
func LoopbackAddrs() []string {
	out := []string{WebV4 + "/32", WebV6 + "/128"}
	for _, a := range ResolverV4 {
		out = append(out, a+"/32")
	}
	for _, a := range ResolverV6 {
		out = append(out, a+"/128")
	}
	return out
}

// ResolvConf is the private /etc/resolv.conf: the fake resolver first.
func ResolvConf() string {
	return "nameserver " + ResolverV4[0] + "\noptions timeout:2 attempts:2\n"
}

// HostsFile is the private /etc/hosts: localhost and this host's name only,
// every other name goes to the fake resolver.
func HostsFile(hostname string) string {
	s := "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"
	if hostname != "" && hostname != "localhost" {
		s += "127.0.1.1 " + hostname + "\n"
	}
	return s
}

// Answer is the fake resolver's plan for one question: the records'
// addresses, or nxdomain. Every name resolves to the web server, except
// the names RFC 6761 reserves as never resolving (.invalid, .test is left
// resolvable: tests use it as "some host").
func Answer(name string, qtype uint16) (addrs []string, nxdomain bool) {
	n := strings.ToLower(strings.TrimSuffix(name, "."))
	if n == "invalid" || strings.HasSuffix(n, ".invalid") {
		return nil, true
	}
	switch qtype {
	case dns.TypeA:
		return []string{WebV4}, false
	case dns.TypeAAAA:
		return []string{WebV6}, false
	}
	return nil, false
}

func dnsHandler(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	for _, q := range r.Question {
		addrs, nx := Answer(q.Name, q.Qtype)
		if nx {
			m.Rcode = dns.RcodeNameError
			continue
		}
		for _, a := range addrs {
			hdr := dns.RR_Header{Name: q.Name, Rrtype: q.Qtype, Class: dns.ClassINET, Ttl: 60}
			if q.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: net.ParseIP(a)})
			} else {
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: net.ParseIP(a)})
			}
		}
	}
	w.WriteMsg(m)
}

// startDNS serves the fake resolver on every resolver address, UDP and TCP.
func startDNS() error {
	h := dns.HandlerFunc(dnsHandler)
	for _, a := range append(append([]string{}, ResolverV4...), ResolverV6...) {
		addr := net.JoinHostPort(a, "53")
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return fmt.Errorf("dns udp %s: %w", addr, err)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("dns tcp %s: %w", addr, err)
		}
		go (&dns.Server{PacketConn: pc, Handler: h}).ActivateAndServe()
		go (&dns.Server{Listener: ln, Handler: h}).ActivateAndServe()
	}
	return nil
}

// Reply is the fake web server's plan for one request. A request carrying
// credentials (Authorization, x-api-key, x-goog-api-key) is refused with
// 401 and a provider-style authentication_error body, as the real
// providers refuse the tests' placeholder keys; anything else gets 200
// and a short text naming what was asked.
func Reply(host, method, path string, h http.Header) (status int, contentType, body string) {
	if h.Get("Authorization") != "" || h.Get("X-Api-Key") != "" || h.Get("X-Goog-Api-Key") != "" {
		b, _ := json.Marshal(map[string]any{
			"type":  "error",
			"error": map[string]string{"type": "authentication_error", "message": "invalid x-api-key (fake internet knows no keys)"},
		})
		return http.StatusUnauthorized, "application/json", string(b)
	}
	return http.StatusOK, "text/plain; charset=utf-8", fmt.Sprintf("fake internet: %s %s %s\n", method, host, path)
}

func webHandler(w http.ResponseWriter, r *http.Request) {
	status, ct, body := Reply(r.Host, r.Method, r.URL.RequestURI(), r.Header)
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		fmt.Fprint(w, body)
	}
}

// leafCache mints one certificate per server name, signed by the fake CA.
type leafCache struct {
	ca *testnet.CA
	mu sync.Mutex
	m  map[string]*tls.Certificate
}

func (c *leafCache) get(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(hello.ServerName)
	if name == "" {
		// No SNI: a client dialled an address; name the certificate after it.
		if h, _, err := net.SplitHostPort(hello.Conn.LocalAddr().String()); err == nil {
			name = h
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cert, ok := c.m[name]; ok {
		return cert, nil
	}
	cert := c.ca.Leaf(name)
	c.m[name] = &cert
	return &cert, nil
}

// startWeb serves HTTP on :80 and HTTPS on :443 of the web addresses.
func startWeb(ca *testnet.CA) error {
	lc := &leafCache{ca: ca, m: map[string]*tls.Certificate{}}
	for _, a := range []string{WebV4, WebV6} {
		for _, port := range []string{"80", "443"} {
			ln, err := net.Listen("tcp", net.JoinHostPort(a, port))
			if err != nil {
				return fmt.Errorf("web %s:%s: %w", a, port, err)
			}
			srv := &http.Server{Handler: http.HandlerFunc(webHandler), ReadHeaderTimeout: 10 * time.Second,
				// Clients that give up on the certificate are expected here.
				ErrorLog: log.New(io.Discard, "", 0)}
			if port == "443" {
				srv.TLSConfig = &tls.Config{GetCertificate: lc.get}
				go srv.ServeTLS(ln, "", "")
				continue
			}
			go srv.Serve(ln)
		}
	}
	return nil
}

func newCA() (*testnet.CA, error) { return testnet.NewCA() }
