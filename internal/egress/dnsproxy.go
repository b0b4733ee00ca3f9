package egress

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/awf-dev/awf/internal/domains"
)

// The DNS listener answers only what the proxy would itself connect to:
//   - A and AAAA for names the policy admits (for HTTP or HTTPS), resolved
//     through the configured servers or the host's resolver, with the
//     addresses the SSRF guard would refuse left out;
//   - an empty NOERROR for other types of an admitted name, without asking
//     anyone (no TXT, MX, SRV...: nothing that could carry data);
//   - REFUSED for every name the policy does not admit, raw IPs and
//     reverse lookups included, so a query for an unlisted name never
//     leaves the host: DNS cannot be used as a side channel.
//
// Answers carry a fixed TTL: the agent's connections are re-resolved by
// the proxy anyway.
const dnsTTL = 60

type dnsServer struct {
	srv  *dns.Server
	sock io.Closer
}

// ServeDNSPacket serves DNS over UDP on pc.
func (s *Server) ServeDNSPacket(pc net.PacketConn) error {
	return s.serveDNS(&dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.handleDNS)}, pc)
}

// ServeDNSStream serves DNS over TCP on ln.
func (s *Server) ServeDNSStream(ln net.Listener) error {
	return s.serveDNS(&dns.Server{Listener: ln, Handler: dns.HandlerFunc(s.handleDNS),
		ReadTimeout: 10 * time.Second, IdleTimeout: func() time.Duration { return 10 * time.Second }}, ln)
}

func (s *Server) serveDNS(d *dns.Server, sock io.Closer) error {
	s.mu.Lock()
	if s.shutting.Load() {
		s.mu.Unlock()
		sock.Close()
		return ErrServerClosed
	}
	// Shutdown closes the socket too: a server that has not started yet
	// ignores ShutdownContext and would otherwise serve on.
	s.dns = append(s.dns, dnsServer{d, sock})
	s.mu.Unlock()
	err := d.ActivateAndServe()
	if s.shutting.Load() {
		return ErrServerClosed
	}
	return err
}

func (s *Server) handleDNS(w dns.ResponseWriter, q *dns.Msg) {
	start := time.Now()
	m := new(dns.Msg)
	m.SetReply(q)
	m.RecursionAvailable = true
	de := &DNSEntry{Start: start}
	de.Client, _ = netip.ParseAddrPort(w.RemoteAddr().String())
	defer func() {
		de.Rcode = dns.RcodeToString[m.Rcode]
		de.Answers = len(m.Answer)
		if s.scanHost(de.Name) != nil { // scan.go: never log a credential
			de.Name = redacted
		}
		for _, h := range s.cfg.Sensitive {
			de.Name = maskHost(de.Name, h)
		}
		s.logs.add(de)
		w.WriteMsg(m)
	}()
	if q.Opcode != dns.OpcodeQuery || len(q.Question) != 1 {
		m.Rcode = dns.RcodeRefused
		de.Reason = "one standard query per message"
		return
	}
	qq := q.Question[0]
	de.Name, de.Type = qq.Name, dns.TypeToString[qq.Qtype]
	name := canonicalHost(qq.Name)
	if qq.Qclass != dns.ClassINET || name == "" || isRawIP(name) {
		m.Rcode = dns.RcodeRefused
		de.Reason = "not a domain name"
		return
	}
	if s.answerHost(m, de, qq, name) { // host.docker.internal: hostaccess.go
		return
	}
	d := s.cfg.Policy.Decide(name, domains.HTTPS)
	if !d.Allowed {
		if h := s.cfg.Policy.Decide(name, domains.HTTP); h.Allowed {
			d = h
		}
	}
	if d.Allowed {
		if b := s.scanHost(d.Host); b != nil { // scan.go
			d.Allowed, d.Rule, d.Reason = false, b.Rule, b.Reason
		}
	}
	de.Rule, de.Reason = d.Rule, d.Reason
	if !d.Allowed {
		m.Rcode = dns.RcodeRefused
		if de.Reason == "" {
			de.Reason = "domain not in allowlist"
		}
		return
	}
	if qq.Qtype != dns.TypeA && qq.Qtype != dns.TypeAAAA {
		return // NODATA: admitted name, type not served
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := s.dialer.res.LookupNetIP(ctx, "ip", fqdn(d.Host))
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			m.Rcode = dns.RcodeNameError
		} else {
			m.Rcode = dns.RcodeServerFailure
		}
		return
	}
	hdr := dns.RR_Header{Name: qq.Name, Class: dns.ClassINET, Ttl: dnsTTL, Rrtype: qq.Qtype}
	for _, a := range addrs {
		a = a.Unmap()
		if !destAllowed(a, s.cfg.AllowPrivate) {
			continue
		}
		switch {
		case qq.Qtype == dns.TypeA && a.Is4():
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: a.AsSlice()})
		case qq.Qtype == dns.TypeAAAA && a.Is6():
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
		}
	}
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		size := dns.MinMsgSize
		if opt := q.IsEdns0(); opt != nil {
			size = max(int(opt.UDPSize()), dns.MinMsgSize)
		}
		m.Truncate(size)
	}
}
