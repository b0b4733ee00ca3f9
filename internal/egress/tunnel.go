package egress

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/awf-dev/awf/internal/domains"
)

// connect handles a CONNECT request on the explicit proxy. The tunnel is
// judged twice: first by the CONNECT target (port, raw IP, policy as
// HTTPS, SSRF guard), then by the first bytes the client sends inside it
// (see checkTunnel).
func (s *Server) connect(c *clientConn, br *bufio.Reader, req *http.Request, hostHdr string) {
	e := &Entry{Start: time.Now(), Listener: kindExplicit, Client: c.client, HostHeader: hostHdr,
		Version: "1.1", Method: http.MethodConnect, URL: req.RequestURI, UserAgent: req.UserAgent()}
	if hostHdr == "" {
		e.HostHeader = req.RequestURI
	}
	host, port, ok := splitHostPort(req.RequestURI, 0)
	if !ok || port == 0 {
		s.deny(c, e, orDash(req.RequestURI), "deny-invalid", "CONNECT target must be host:port")
		return
	}
	if s.isHost(host) { // host.docker.internal: hostaccess.go
		s.connectHost(c, br, e, port)
		return
	}
	v := s.admitAPITarget(c, s.decide(host, port, domains.HTTPS), host, port)
	if !v.allowed {
		s.deny(c, e, v.host, v.rule, v.reason)
		return
	}
	e.Rule, e.Reason = v.rule, v.reason
	if s.inspects(c, v.host) { // inspect.go
		s.connectInspected(c, br, e, v.host, port)
		return
	}
	up, dest, err := s.dialer.dial(context.Background(), v.host, port)
	if err != nil {
		s.upstreamError(c, e, v.host, err)
		return
	}
	c.setPeer(up)
	e.Dest = dest
	if _, err := io.WriteString(c.Conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	e.Status, e.Code, e.Hier = http.StatusOK, codeTunnel, hierDirect
	s.tunnel(c, br, up, e, v.host, port)
}

// serveTLS handles one connection on the transparent TLS listener.
func (s *Server) serveTLS(c *clientConn) {
	c.idle.Store(false)
	e := &Entry{Start: time.Now(), Listener: kindTLS, Client: c.client, Version: "1.1", Method: http.MethodConnect}
	var port uint16
	if d, err := originalDst(c.Conn); err == nil {
		port = d.Port()
	}
	c.SetReadDeadline(time.Now().Add(s.cfg.HelloTimeout))
	h := sniffHello(c.Conn, c.Conn)
	c.SetReadDeadline(time.Time{})
	e.URL = h.sni + ":" + strconv.Itoa(int(port))
	e.HostHeader = e.URL
	e.BytesIn = int64(len(h.data))
	switch {
	case !h.tls:
		s.denyTLS(c, e, "deny-not-tls", "not a TLS ClientHello")
		return
	case h.sni == "":
		e.URL, e.HostHeader = "-", "-"
		s.denyTLS(c, e, "deny-no-sni", "no SNI")
		return
	case h.ech:
		s.denyTLS(c, e, "deny-ech", "encrypted client hello hides the server name")
		return
	}
	v := s.decide(h.sni, port, domains.HTTPS)
	if !v.allowed {
		s.denyTLS(c, e, v.rule, v.reason)
		return
	}
	e.Rule, e.Reason = v.rule, v.reason
	if s.inspects(c, v.host) { // inspect.go
		if err := s.preflight(v.host); err != nil {
			s.denyTLSDial(c, e, err)
			return
		}
		s.serveInspected(c, h.data, e, v.host, port)
		return
	}
	up, dest, err := s.dialer.dial(context.Background(), v.host, port)
	if err != nil {
		s.denyTLSDial(c, e, err)
		return
	}
	c.setPeer(up)
	e.Dest, e.Status, e.Code, e.Hier = dest, http.StatusOK, codeTunnel, hierDirect
	if _, err := up.Write(h.data); err != nil {
		s.record(e)
		return
	}
	e.BytesIn = 0 // counted again by splice
	in, out := splice(c.Conn, up)
	e.BytesIn, e.BytesOut = in+int64(len(h.data)), out
	s.record(e)
}

// denyTLSDial answers a failed upstream contact on the transparent TLS
// listener: private destinations are a denial, the rest a failure.
func (s *Server) denyTLSDial(c *clientConn, e *Entry, err error) {
	rule, reason := "", err.Error()
	if errors.Is(err, errPrivateDest) {
		rule, reason = "deny-private-destination", errPrivateDest.Error()
	}
	s.denyTLS(c, e, rule, reason)
}

// tlsAlertAccessDenied is a plaintext TLS alert record (fatal,
// access_denied): the client reports a refusal instead of a reset.
var tlsAlertAccessDenied = []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x31}

func (s *Server) denyTLS(c *clientConn, e *Entry, rule, reason string) {
	c.Conn.Write(tlsAlertAccessDenied)
	e.Status, e.Code, e.Hier, e.Rule, e.Reason = http.StatusForbidden, codeDenied, hierNone, rule, reason
	if rule == "" { // upstream failure, not a policy decision
		e.Status, e.Code = http.StatusServiceUnavailable, codeError
	}
	s.record(e)
}

// checkTunnel decides on the first bytes inside a CONNECT tunnel:
//   - a TLS ClientHello must carry an SNI naming the CONNECT host (no
//     domain fronting through an admitted name, no SNI-less handshakes)
//     and no Encrypted Client Hello (which would hide the real name);
//   - on port 443 nothing but TLS is admitted;
//   - on other admitted ports (80) anything else is taken for plain HTTP
//     (Node's undici tunnels http:// URLs through CONNECT), which the
//     caller then serves request by request.
//
// It returns the bytes consumed, which go first.
func (s *Server) checkTunnel(c *clientConn, br *bufio.Reader, host string, port uint16) (prefix []byte, plainHTTP bool, rule, reason string) {
	c.SetReadDeadline(time.Now().Add(s.cfg.HelloTimeout))
	defer c.SetReadDeadline(time.Time{})
	h := sniffHello(c.Conn, br)
	switch {
	case h.tls && h.sni == "":
		return nil, false, "deny-no-sni", "no SNI"
	case h.tls && h.sni != host:
		return nil, false, "deny-sni-mismatch", "SNI " + h.sni + " does not match CONNECT host"
	case h.tls && h.ech:
		return nil, false, "deny-ech", "encrypted client hello hides the server name"
	case !h.tls && port == 443:
		return nil, false, "deny-not-tls", "not TLS on port 443"
	}
	prefix = h.data
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		prefix = append(bytes.Clone(prefix), b...)
	}
	return prefix, !h.tls, "", ""
}

// tunnel checks the start of a CONNECT tunnel and then splices it. Plain
// HTTP in a tunnel is not spliced: one admitted request must not open the
// way for the next ones (a CDN routes each by its Host), and an https://
// entry must not admit plain HTTP. Its requests are served like the
// transparent HTTP listener's, each judged on its own Host as HTTP.
func (s *Server) tunnel(c *clientConn, br *bufio.Reader, up net.Conn, e *Entry, host string, port uint16) {
	prefix, plainHTTP, rule, reason := s.checkTunnel(c, br, host, port)
	if rule != "" {
		up.Close()
		e.Status, e.Code, e.Hier, e.Rule, e.Reason = http.StatusForbidden, codeDenied, hierNone, rule, reason
		s.record(e)
		return
	}
	if plainHTTP {
		up.Close()
		c.setPeer(nil)
		s.record(e)
		r := io.MultiReader(bytes.NewReader(prefix), c.Conn)
		s.serveRequests(c, bufio.NewReaderSize(r, s.cfg.MaxHeaderBytes), kindTunnelHTTP, port)
		return
	}
	n, err := up.Write(prefix)
	if err != nil {
		e.BytesIn = int64(n)
		s.record(e)
		return
	}
	in, out := splice(c.Conn, up)
	e.BytesIn, e.BytesOut = int64(n)+in, out
	s.record(e)
}

// splice copies both ways until both directions end. Between two
// *net.TCPConn, io.Copy uses splice(2): the bytes never enter user space.
// A clean end of one direction is passed on as a half-close; an error
// tears down both.
func splice(client, up net.Conn) (in, out int64) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		var err error
		in, err = io.Copy(up, client)
		if err != nil {
			client.Close()
			up.Close()
			return
		}
		closeWrite(up)
	}()
	var err error
	out, err = io.Copy(client, up)
	if err != nil {
		client.Close()
		up.Close()
	} else {
		closeWrite(client)
	}
	<-done
	up.Close()
	return in, out
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}
