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
	"net/netip"
	neturl "net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/awf-dev/awf/internal/domains"
	"github.com/awf-dev/awf/internal/hostaccess"
)

// HostAccess is how the proxy serves host.docker.internal (see package
// hostaccess): requests and connections to the host name or addresses are
// judged by the plan's port table, not the allowlist, and served by Dial.
type HostAccess struct {
	Plan hostaccess.Plan
	// Dial connects to the service behind route:port. Nil: RouteHost
	// dials 127.0.0.1:port from this process's network namespace (the
	// host's) and RouteAPIProxy is refused.
	Dial func(ctx context.Context, route hostaccess.Route, port uint16) (net.Conn, error)
}

// kindHost is the transparent host-access listener (audit "listener").
const kindHost = "host"

func (s *Server) isHost(host string) bool { return s.cfg.Host.Plan.IsHost(host) }

// hostDial connects to the service behind port, or says why not.
func (s *Server) hostDial(ctx context.Context, port uint16) (net.Conn, hostaccess.PortRange, error) {
	r, ok := s.cfg.Host.Plan.Lookup(port)
	if !ok {
		return nil, r, errHostPort
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
	defer cancel()
	if s.cfg.Host.Dial != nil {
		c, err := s.cfg.Host.Dial(ctx, r.Route, port)
		return c, r, err
	}
	if r.Route != hostaccess.RouteHost {
		return nil, r, errHostPort
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port).String())
	return c, r, err
}

var errHostPort = fmt.Errorf("host port not allowed")

func hostDest(c net.Conn) netip.AddrPort {
	if c == nil {
		return netip.AddrPort{}
	}
	d, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	return d
}

// denyHost refuses a host port with the plan's reason.
func (s *Server) denyHost(c *clientConn, e *Entry, port uint16) {
	rule := domains.RuleDenyUnsafePorts
	if e.Method == http.MethodConnect {
		rule = domains.RuleDenyConnectUnsafePorts
	}
	s.deny(c, e, hostaccess.Name, rule, hostaccess.DenyReason(port))
}

// connectHost serves CONNECT host.docker.internal:port: a plain TCP relay
// to the one service behind that port (no SNI check: the destination is
// fixed, nothing can be fronted).
func (s *Server) connectHost(c *clientConn, br *bufio.Reader, e *Entry, port uint16) {
	up, r, err := s.hostDial(context.Background(), port)
	if err == errHostPort {
		s.denyHost(c, e, port)
		return
	}
	e.Rule, e.Reason = r.Rule, ""
	if err != nil {
		s.upstreamError(c, e, hostaccess.Name, fmt.Errorf("%w: %v", errConnect, err))
		return
	}
	c.setPeer(up)
	e.Dest = hostDest(up)
	if _, err := io.WriteString(c.Conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	e.Status, e.Code, e.Hier = http.StatusOK, codeTunnel, hierDirect
	s.relayBuffered(c, br, up, e)
}

// relayBuffered splices c and up, first passing on what br already read.
func (s *Server) relayBuffered(c *clientConn, br *bufio.Reader, up net.Conn, e *Entry) {
	var pre int64
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		w, err := up.Write(b)
		pre = int64(w)
		if err != nil {
			e.BytesIn = pre
			s.record(e)
			return
		}
	}
	in, out := splice(c.Conn, up)
	e.BytesIn, e.BytesOut = pre+in, out
	s.record(e)
}

// forwardHost serves one plain-HTTP request for the host. An Upgrade
// (WebSocket) request takes the connection over as a relay after its head;
// any other request goes through the host transport, request by request,
// so a keep-alive connection cannot carry a later request elsewhere
// unjudged.
func (s *Server) forwardHost(c *clientConn, br *bufio.Reader, req *http.Request, e *Entry, port uint16) bool {
	if _, ok := s.cfg.Host.Plan.Lookup(port); !ok {
		s.denyHost(c, e, port)
		return false
	}
	if req.Header.Get("Upgrade") != "" {
		up, r, err := s.hostDial(context.Background(), port)
		e.Rule = r.Rule
		if err != nil {
			s.upstreamError(c, e, hostaccess.Name, fmt.Errorf("%w: %v", errConnect, err))
			return false
		}
		c.setPeer(up)
		e.Dest = hostDest(up)
		out := req.Clone(context.Background())
		out.URL = &neturl.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
		out.RequestURI = ""
		if _, ok := out.Header["User-Agent"]; !ok {
			out.Header["User-Agent"] = []string{""} // Write would add Go's own
		}
		out.Header.Del("Proxy-Connection")
		out.Header.Del("Proxy-Authorization")
		cw := &countingWriter{w: up}
		if err := out.Write(cw); err != nil {
			s.upstreamError(c, e, hostaccess.Name, fmt.Errorf("%w: %v", errConnect, err))
			return false
		}
		e.Status, e.Code, e.Hier = http.StatusSwitchingProtocols, codeMiss, hierDirect
		s.relayBuffered(c, br, up, e)
		e.BytesIn += cw.n
		return false
	}
	r, _ := s.cfg.Host.Plan.Lookup(port)
	e.Rule = r.Rule
	var dest netip.AddrPort
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { dest = hostDest(i.Conn) }}
	out := req.Clone(httptrace.WithClientTrace(context.Background(), trace))
	out.RequestURI = ""
	out.URL.Scheme = "http"
	out.URL.Host = net.JoinHostPort(hostaccess.Name, strconv.Itoa(int(port)))
	out.Host = req.Host
	if out.Host == "" {
		out.Host = out.URL.Host
	}
	removeHop(out.Header)
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = []string{""}
	}
	body := &countingReader{r: req.Body}
	out.Body = nil
	if req.ContentLength != 0 {
		out.Body = body
	}
	resp, err := s.hostTransport().RoundTrip(out)
	if err != nil {
		e.BytesIn = body.n
		s.upstreamError(c, e, hostaccess.Name, fmt.Errorf("%w: %v", errConnect, err))
		return false
	}
	defer resp.Body.Close()
	e.Dest, e.Status, e.Code, e.Hier = dest, resp.StatusCode, codeMiss, hierDirect
	removeHop(resp.Header)
	cw := &countingWriter{w: c.Conn}
	keep, werr := writeResponse(cw, resp, req, !req.Close && !resp.Close && !s.shutting.Load())
	if keep && werr == nil {
		if n, _ := io.CopyN(io.Discard, body, 256<<10); n == 256<<10 {
			keep = false
		}
	}
	e.BytesIn, e.BytesOut = body.n, cw.n
	s.record(e)
	return keep && werr == nil
}

// hostTransport is the HTTP client side for host services: its dials go
// through hostDial, never the resolver or the SSRF guard (the host's
// 127.0.0.1 is exactly what it must reach).
func (s *Server) hostTransport() *http.Transport {
	s.hostOnce.Do(func() {
		s.hostTr = &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				_, p, ok := splitHostPort(addr, 80)
				if !ok {
					return nil, fmt.Errorf("egress: bad host address %q", addr)
				}
				c, _, err := s.hostDial(ctx, p)
				return c, err
			},
			MaxIdleConnsPerHost:    16,
			IdleConnTimeout:        time.Minute,
			DisableCompression:     true,
			MaxResponseHeaderBytes: int64(s.cfg.MaxHeaderBytes) * 4,
			TLSNextProto:           map[string]func(string, *tls.Conn) http.RoundTripper{},
		}
	})
	return s.hostTr
}

// ServeHostAccess serves the transparent host-access listener: nftables
// sends every connection to an open host port here, SO_ORIGINAL_DST tells
// which one, and the connection is relayed as plain TCP (HTTP, streaming,
// WebSocket, databases alike) to the service behind it, and logged.
func (s *Server) ServeHostAccess(ln net.Listener) error {
	return s.serve(ln, func(c *clientConn) {
		c.idle.Store(false)
		e := &Entry{Start: time.Now(), Listener: kindHost, Client: c.client, Version: "1.1", Method: http.MethodConnect}
		d, err := originalDst(c.Conn)
		if err != nil || !slices.Contains(s.cfg.Host.Plan.Addrs, d.Addr().Unmap()) {
			e.URL, e.HostHeader = "-", "-"
			e.Status, e.Code, e.Hier, e.Rule, e.Reason = http.StatusForbidden, codeDenied, hierNone, "deny-invalid", "not a host-access connection"
			s.record(e)
			return
		}
		e.URL = hostaccess.Name + ":" + strconv.Itoa(int(d.Port()))
		e.HostHeader = e.URL
		up, r, err := s.hostDial(context.Background(), d.Port())
		e.Rule = r.Rule
		if err != nil {
			e.Status, e.Code, e.Hier = http.StatusServiceUnavailable, codeError, hierNone
			e.Reason = errConnect.Error()
			if err == errHostPort {
				e.Status, e.Code, e.Rule, e.Reason = http.StatusForbidden, codeDenied, domains.RuleDenyConnectUnsafePorts, hostaccess.DenyReason(d.Port())
			}
			s.record(e)
			return
		}
		c.setPeer(up)
		e.Dest, e.Status, e.Code, e.Hier = hostDest(up), http.StatusOK, codeTunnel, hierDirect
		in, out := splice(c.Conn, up)
		e.BytesIn, e.BytesOut = in, out
		s.record(e)
	})
}

// answerHost answers DNS for the host name with its sandbox address.
func (s *Server) answerHost(m *dns.Msg, de *DNSEntry, q dns.Question, name string) bool {
	p := s.cfg.Host.Plan
	if !p.Active() || strings.TrimSuffix(name, ".") != p.Name {
		return false
	}
	de.Rule = hostaccess.RuleAllowHost
	if q.Qtype == dns.TypeA {
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: dnsTTL, Rrtype: dns.TypeA}, A: p.Addrs[0].AsSlice()})
	}
	return true
}

// ServeAPIProxy serves the explicit proxy for awf's own api proxy: besides
// the allowlist, it admits HTTPS (CONNECT to port 443) to exactly the api
// proxy's upstream targets, so the providers stay reachable when the
// allowlist does not name them (gh-aw v0.28.31 no longer does) while the
// agent gains nothing: its own listeners judge by the allowlist alone.
func (s *Server) ServeAPIProxy(ln net.Listener, targets []string) error {
	var canon []string
	for _, t := range targets {
		if h := canonicalHost(t); h != "" && !isRawIP(h) {
			canon = append(canon, h)
		}
	}
	return s.serve(ln, func(c *clientConn) {
		c.apiTargets = canon
		c.own = true // awf's own client: never inspected (inspect.go)
		s.serveHTTP(c, kindExplicit, 0)
	})
}

// RuleAllowAPIProxyTarget is the audit rule of a tunnel admitted only as
// an api-proxy upstream target.
const RuleAllowAPIProxyTarget = "allow-api-proxy-target"

// admitAPITarget turns a refusal of an api-proxy target into an admission.
func (s *Server) admitAPITarget(c *clientConn, v verdict, host string, port uint16) verdict {
	if v.allowed || port != 443 || len(c.apiTargets) == 0 || v.rule == domains.RuleDenyRawIPv4 || v.rule == domains.RuleDenyRawIPv6 {
		return v
	}
	h := canonicalHost(host)
	if !slices.Contains(c.apiTargets, h) {
		return v
	}
	if d := s.cfg.Policy.Decide(h, domains.HTTPS); d.Rule == domains.RuleDenyBlockedPlain || d.Rule == domains.RuleDenyBlockedRegex {
		return v // the blocklist still wins
	}
	return verdict{allowed: true, host: h, rule: RuleAllowAPIProxyTarget, reason: "api proxy upstream target"}
}
