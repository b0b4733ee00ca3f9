package egress

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/awf-dev/awf/internal/domains"
)

var (
	errHeaderTooLarge = errors.New("request header too large")
	readerPools       sync.Map // size -> *sync.Pool of *bufio.Reader
)

func getReader(r io.Reader, size int) *bufio.Reader {
	p, _ := readerPools.LoadOrStore(size, &sync.Pool{})
	if br, ok := p.(*sync.Pool).Get().(*bufio.Reader); ok {
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, size)
}

func putReader(br *bufio.Reader) {
	br.Reset(nil)
	if p, ok := readerPools.Load(br.Size()); ok {
		p.(*sync.Pool).Put(br)
	}
}

// peekHeader waits until a whole request header is buffered in br, without
// consuming it, and returns the values of its Host lines: http.ReadRequest
// drops the Host header of an absolute-form request, which the explicit
// proxy must compare with the URL. The header must fit in br.
func peekHeader(br *bufio.Reader) ([]string, error) {
	for {
		// What is buffered may already hold a whole header (a pipelined
		// request): look before waiting for more bytes.
		b, _ := br.Peek(br.Buffered())
		body := bytes.TrimLeft(b, "\r\n")
		end := bytes.Index(body, []byte("\r\n\r\n"))
		if end < 0 {
			end = bytes.Index(body, []byte("\n\n"))
		}
		if end >= 0 {
			return hostLines(body[:end]), nil
		}
		if len(b) >= br.Size() {
			return nil, errHeaderTooLarge
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil && br.Buffered() < br.Size() {
			return nil, err
		}
	}
}

func hostLines(h []byte) []string {
	var hosts []string
	lines := bytes.Split(h, []byte("\n"))
	for _, l := range lines[1:] {
		k, v, ok := bytes.Cut(l, []byte(":"))
		if ok && strings.EqualFold(string(k), "host") {
			hosts = append(hosts, string(bytes.TrimSpace(v)))
		}
	}
	return hosts
}

// serveHTTP reads requests off one client connection: the explicit proxy
// (kindExplicit; CONNECT hands the connection to a tunnel) or the
// transparent HTTP listener (origPort is where the client was headed).
func (s *Server) serveHTTP(c *clientConn, kind string, origPort uint16) {
	br := getReader(c.Conn, s.cfg.MaxHeaderBytes)
	if !s.serveRequests(c, br, kind, origPort) {
		putReader(br)
	}
}

// serveRequests is serveHTTP's loop over one reader; it reports whether a
// CONNECT tunnel took the reader over (it must not go back to the pool).
func (s *Server) serveRequests(c *clientConn, br *bufio.Reader, kind string, origPort uint16) (handedOff bool) {
	for !s.shutting.Load() {
		c.SetReadDeadline(time.Now().Add(s.cfg.RequestTimeout))
		c.idle.Store(true)
		hosts, err := peekHeader(br)
		c.idle.Store(false)
		if err != nil {
			if errors.Is(err, errHeaderTooLarge) {
				s.reject(c, kind, http.StatusRequestHeaderFieldsTooLarge, "request header too large")
			}
			return
		}
		req, err := http.ReadRequest(br)
		if err != nil {
			s.reject(c, kind, http.StatusBadRequest, "malformed request")
			return
		}
		c.SetReadDeadline(time.Time{})
		if len(hosts) > 1 {
			s.reject(c, kind, http.StatusBadRequest, "more than one Host header")
			return
		}
		hostHdr := ""
		if len(hosts) == 1 {
			hostHdr = hosts[0]
		}
		if req.Method == http.MethodConnect {
			if kind != kindExplicit {
				s.reject(c, kind, http.StatusMethodNotAllowed, "CONNECT on a transparent listener")
				return
			}
			// The tunnel owns the reader until it has forwarded what is
			// buffered; it is not returned to the pool.
			s.connect(c, br, req, hostHdr)
			return true
		}
		if !s.forward(c, br, req, kind, hostHdr, origPort) {
			return false
		}
	}
	return false
}

// reject answers a request that could not even be parsed.
func (s *Server) reject(c *clientConn, kind string, status int, reason string) {
	e := &Entry{Start: time.Now(), Listener: kind, Client: c.client, Method: "-", Status: status,
		Code: codeDenied, Hier: hierNone, URL: "error:invalid-request", Rule: "deny-invalid", Reason: reason}
	writeText(c.Conn, status, reason+"\n", nil)
	s.record(e)
}

// writeText writes a complete, closing, text/plain response.
func writeText(w io.Writer, status int, body string, hdr map[string]string) (int64, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n",
		status, http.StatusText(status), len(body))
	for k, v := range hdr {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// denyBody is what the agent sees: the name and the reason, so the user
// knows what to add to the allowlist.
func denyBody(host, reason string) string {
	return fmt.Sprintf("awf firewall: access to %s denied: %s\n", host, reason)
}

// deny answers a refused request with 403 and logs it.
func (s *Server) deny(c *clientConn, e *Entry, host, rule, reason string) {
	e.Status, e.Code, e.Hier, e.Rule, e.Reason = http.StatusForbidden, codeDenied, hierNone, rule, reason
	e.BytesOut, _ = writeText(c.Conn, http.StatusForbidden, denyBody(host, reason), map[string]string{"X-Awf-Deny-Reason": reason})
	s.record(e)
}

// upstreamError answers a failed upstream contact: private destinations
// are a denial, the rest a 503 as Squid gives.
func (s *Server) upstreamError(c *clientConn, e *Entry, host string, err error) {
	if errors.Is(err, errPrivateDest) {
		s.deny(c, e, host, "deny-private-destination", errPrivateDest.Error())
		return
	}
	reason := errConnect.Error()
	if errors.Is(err, errResolve) {
		reason = errResolve.Error()
	}
	e.Status, e.Code, e.Hier, e.Reason = http.StatusServiceUnavailable, codeError, hierNone, reason
	e.BytesOut, _ = writeText(c.Conn, http.StatusServiceUnavailable, fmt.Sprintf("awf firewall: %s: %s\n", host, reason), nil)
	s.record(e)
}

// hopHeaders are connection-scoped and never forwarded.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func removeHop(h http.Header) {
	for _, f := range h.Values("Connection") {
		for _, k := range strings.Split(f, ",") {
			if k = strings.TrimSpace(k); k != "" {
				h.Del(k)
			}
		}
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
}

type countingReader struct {
	r io.ReadCloser
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
func (c *countingReader) Close() error { return c.r.Close() }

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// splitHostPort reads "host[:port]" with def as the default port.
func splitHostPort(hp string, def uint16) (string, uint16, bool) {
	host, ps, err := net.SplitHostPort(hp)
	if err != nil {
		return strings.Trim(hp, "[]"), def, hp != ""
	}
	p, err := strconv.ParseUint(ps, 10, 16)
	if err != nil || p == 0 {
		return host, 0, false
	}
	return host, uint16(p), host != ""
}

// forward proxies one plain HTTP request and reports whether the client
// connection may carry another.
func (s *Server) forward(c *clientConn, br *bufio.Reader, req *http.Request, kind, hostHdr string, origPort uint16) bool {
	e := &Entry{Start: time.Now(), Listener: kind, Client: c.client, HostHeader: hostHdr,
		Version: fmt.Sprintf("%d.%d", req.ProtoMajor, req.ProtoMinor), Method: req.Method,
		UserAgent: req.UserAgent()}
	var host string
	var port uint16
	var ok bool
	if kind == kindExplicit {
		e.URL = req.URL.String()
		if req.URL.Scheme != "http" || req.URL.Host == "" {
			s.deny(c, e, orDash(req.URL.Host), "deny-invalid", "only absolute http:// URLs are proxied; use CONNECT for https")
			return false
		}
		host, port, ok = splitHostPort(req.URL.Host, 80)
		if ok && hostHdr != "" {
			hh, hp, hok := splitHostPort(hostHdr, 80)
			if !hok || canonicalHost(hh) != canonicalHost(host) || hp != port {
				s.deny(c, e, host, "deny-host-mismatch", "Host header does not match the URL")
				return false
			}
		}
	} else {
		host, _, ok = splitHostPort(req.Host, origPort)
		port = origPort
		e.URL = "http://" + req.Host + req.URL.RequestURI()
		if req.Host == "" {
			s.deny(c, e, "-", "deny-no-host", "no Host header")
			return false
		}
	}
	if !ok {
		s.deny(c, e, orDash(host), "deny-invalid", "invalid host")
		return false
	}
	if s.isHost(host) { // host.docker.internal: hostaccess.go
		return s.forwardHost(c, br, req, e, port)
	}
	v := s.decide(host, port, domains.HTTP)
	if !v.allowed {
		s.deny(c, e, v.host, v.rule, v.reason)
		return false
	}
	e.Rule, e.Reason = v.rule, v.reason

	var dest netip.AddrPort
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		dest, _ = netip.ParseAddrPort(i.Conn.RemoteAddr().String())
	}}
	out := req.WithContext(httptrace.WithClientTrace(context.Background(), trace))
	out.RequestURI = ""
	out.URL.Scheme = "http"
	out.URL.Host = net.JoinHostPort(v.host, strconv.Itoa(int(port)))
	out.Host = req.Host
	if kind == kindExplicit {
		out.Host = req.URL.Host
	}
	out.Header = req.Header.Clone()
	removeHop(out.Header)
	out.Header.Del("X-Forwarded-For") // as Squid's forwarded_for delete
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = []string{""} // the transport would add Go's own
	}
	if strings.EqualFold(out.Header.Get("Expect"), "100-continue") {
		// Answer for the upstream: the transport sends the body at once,
		// and a client waiting for the interim reply would stall a second.
		out.Header.Del("Expect")
		if req.ContentLength != 0 {
			io.WriteString(c.Conn, "HTTP/1.1 100 Continue\r\n\r\n")
		}
	}
	body := &countingReader{r: req.Body}
	if req.ContentLength != 0 {
		out.Body = body
	} else {
		out.Body = nil
	}
	if b := s.scanPlain(out, v.host); b != nil { // scan.go: DLP
		s.denyBlock(c, e, v.host, b)
		return false
	}

	resp, err := s.transport.RoundTrip(out)
	if err != nil {
		e.BytesIn = body.n
		if b := blockOf(err); b != nil {
			s.denyBlock(c, e, v.host, b)
			return false
		}
		s.upstreamError(c, e, v.host, err)
		return false
	}
	defer resp.Body.Close()
	e.Dest, e.Status, e.Code, e.Hier = dest, resp.StatusCode, codeMiss, hierDirect
	removeHop(resp.Header)
	cw := &countingWriter{w: c.Conn}
	keep, werr := writeResponse(cw, resp, req, !req.Close && !resp.Close && !s.shutting.Load())
	// The request body must be consumed before the next request is read.
	if keep && werr == nil {
		if n, _ := io.CopyN(io.Discard, body, 256<<10); n == 256<<10 {
			keep = false
		}
	}
	e.BytesIn, e.BytesOut = body.n, cw.n
	s.record(e)
	return keep && werr == nil
}

// dialHTTP is the transport's dialer: every upstream connection goes
// through the SSRF guard.
func (s *Server) dialHTTP(ctx context.Context, _, addr string) (net.Conn, error) {
	host, port, ok := splitHostPort(addr, 80)
	if !ok {
		return nil, fmt.Errorf("egress: bad address %q", addr)
	}
	c, _, err := s.dialer.dial(ctx, host, port)
	return c, err
}
