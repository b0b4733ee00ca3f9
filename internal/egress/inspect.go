package egress

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/awf-dev/awf/internal/inspect"
)

// Inspect configures TLS inspection (--ssl-bump). The allowlist decides
// first, exactly as without it; then a connection to a host that one of
// Hooks inspects is terminated with a leaf of CA and its requests go
// through the hooks (URL rules, DLP, credential injection), each logged
// with method, URL and status. Every other host is tunnelled untouched.
type Inspect struct {
	CA    *inspect.CA
	Hooks []inspect.Hook
	// RootCAs verifies the real hosts' certificates; nil: the system pool.
	RootCAs *x509.CertPool
}

// kindInspect is the listener of audit records for inspected requests.
const kindInspect = "inspect"

func (s *Server) newInspector() error {
	ic := s.cfg.Inspect
	if ic.CA == nil || len(ic.Hooks) == 0 {
		return nil
	}
	in, err := inspect.New(inspect.Config{
		CA: ic.CA, Hooks: ic.Hooks, RootCAs: ic.RootCAs,
		Dial: func(ctx context.Context, host string, port uint16) (net.Conn, error) {
			c, _, err := s.dialer.dial(ctx, host, port)
			return c, err
		},
		HandshakeTimeout: s.cfg.HelloTimeout,
		IdleTimeout:      s.cfg.RequestTimeout,
		MaxHeaderBytes:   s.cfg.MaxHeaderBytes,
	})
	s.inspector = in
	return err
}

// Inspected reports whether TLS to host would be inspected (manifest, tests).
func (s *Server) Inspected(host string) bool { return s.inspector.Inspects(canonicalHost(host)) }

// inspects decides whether c's TLS to host is terminated.
func (s *Server) inspects(c *clientConn, host string) bool {
	return s.inspector != nil && !c.own && s.inspector.Inspects(host)
}

// preflight makes the SSRF guard's decision for an inspected host before
// the agent is told the tunnel is open (the upstream is dialled per
// request, through the same guard).
func (s *Server) preflight(host string) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ConnectTimeout)
	defer cancel()
	_, err := s.dialer.resolve(ctx, host)
	return err
}

// serveInspected terminates the agent's TLS (prefix: the ClientHello
// already read) and serves its requests through the inspector. e is the
// connection's own record (CONNECT or transparent TLS), logged at the end
// with the raw byte counts.
func (s *Server) serveInspected(c *clientConn, prefix []byte, e *Entry, host string, port uint16) {
	pc := &prefixConn{Conn: c.Conn, prefix: prefix}
	e.Status, e.Code, e.Hier = http.StatusOK, codeTunnel, hierDirect
	e.Reason = strings.TrimPrefix(e.Reason+"; inspected", "; ")
	authority := host
	if port != 443 {
		authority = net.JoinHostPort(host, strconv.Itoa(int(port)))
	}
	allowRule := e.Rule
	var dest atomic.Pointer[netip.AddrPort] // the first upstream, for the connection's line
	err := s.inspector.Serve(pc, host, port, inspect.ServeOptions{
		Idle: func(idle bool) { c.idle.Store(idle) },
		Record: func(r *inspect.Record) {
			if r.Dest.IsValid() {
				dest.CompareAndSwap(nil, &r.Dest)
			}
			s.record(inspectedEntry(r, c, authority, allowRule))
		},
	})
	c.idle.Store(false)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		e.Reason += ": " + err.Error()
	}
	e.BytesIn, e.BytesOut = pc.in, pc.out
	if d := dest.Load(); d != nil {
		e.Dest = *d
	}
	s.record(e)
}

// inspectedEntry is one request inside an inspected connection, logged as
// Squid logs a bumped request: method and the full https:// URL.
func inspectedEntry(r *inspect.Record, c *clientConn, authority, allowRule string) *Entry {
	e := &Entry{Start: r.Start, Listener: kindInspect, Client: c.client, HostHeader: authority,
		Dest: r.Dest, Version: r.Proto, Method: r.Method, Status: r.Status, URL: r.URL,
		UserAgent: r.UserAgent, BytesIn: r.BytesIn, BytesOut: r.BytesOut, Rule: allowRule, Reason: r.Reason}
	switch {
	case r.Blocked:
		e.Code, e.Hier, e.Rule = codeDenied, hierNone, r.Rule
	case r.Err != nil:
		e.Code, e.Hier = codeError, hierNone
	default:
		e.Code, e.Hier = codeMiss, hierDirect
	}
	return e
}

// prefixConn replays the bytes already read (the ClientHello) before the
// connection's own, and counts both directions.
type prefixConn struct {
	net.Conn
	prefix  []byte
	in, out int64
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		p.in += int64(n)
		return n, nil
	}
	n, err := p.Conn.Read(b)
	p.in += int64(n)
	return n, err
}

func (p *prefixConn) Write(b []byte) (int, error) {
	n, err := p.Conn.Write(b)
	p.out += int64(n)
	return n, err
}

// connectInspected is connect() for a host that is inspected: the SSRF
// guard decides before the 200, the ClientHello is checked as in any
// tunnel (SNI must name the CONNECT host, no ECH), then TLS is terminated.
// Plain HTTP on port 80 is served request by request as in tunnel().
func (s *Server) connectInspected(c *clientConn, br *bufio.Reader, e *Entry, host string, port uint16) {
	if err := s.preflight(host); err != nil {
		s.upstreamError(c, e, host, err)
		return
	}
	if _, err := io.WriteString(c.Conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	prefix, plainHTTP, rule, reason := s.checkTunnel(c, br, host, port)
	if rule != "" {
		e.Status, e.Code, e.Hier, e.Rule, e.Reason = http.StatusForbidden, codeDenied, hierNone, rule, reason
		s.record(e)
		return
	}
	if plainHTTP {
		e.Status, e.Code, e.Hier = http.StatusOK, codeTunnel, hierDirect
		s.record(e)
		r := io.MultiReader(bytes.NewReader(prefix), c.Conn)
		s.serveRequests(c, bufio.NewReaderSize(r, s.cfg.MaxHeaderBytes), kindTunnelHTTP, port)
		return
	}
	s.serveInspected(c, prefix, e, host, port)
}
