package egress

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/awf-dev/awf/internal/domains"
	"github.com/awf-dev/awf/internal/inspect"
)

// ErrServerClosed is returned by the Serve methods after Shutdown or Close.
var ErrServerClosed = errors.New("egress: server closed")

// Server is the egress proxy. Its Serve methods run on listeners the caller
// made (the sandbox makes them inside the agent's network namespace); one
// Server may serve any number of listeners of each kind at once.
type Server struct {
	cfg       Config
	logs      *logWriter
	dialer    *guardDialer
	transport *http.Transport
	sem       chan struct{}

	shutting atomic.Bool
	done     chan struct{}
	wg       sync.WaitGroup

	hostOnce sync.Once // hostaccess.go
	hostTr   *http.Transport

	inspector *inspect.Inspector // inspect.go; nil: nothing is inspected

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*clientConn]struct{}
	dns       []dnsServer
}

// clientConn is an accepted connection and the upstream it is tied to.
type clientConn struct {
	net.Conn
	client netip.AddrPort
	idle   atomic.Bool // waiting for a request: Shutdown may close it
	mu     sync.Mutex
	peer   net.Conn
	// apiTargets: hosts this (api-proxy) client may reach on 443 beyond
	// the allowlist (hostaccess.go, ServeAPIProxy).
	apiTargets []string
	// own: the client is awf's api proxy, whose TLS is never inspected.
	own bool
}

func (c *clientConn) setPeer(p net.Conn) {
	c.mu.Lock()
	c.peer = p
	c.mu.Unlock()
}

func (c *clientConn) closeAll() {
	c.Conn.Close()
	c.mu.Lock()
	if c.peer != nil {
		c.peer.Close()
	}
	c.mu.Unlock()
}

// New checks cfg and opens the logs.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	logs, err := openLogs(cfg.LogDir, cfg.LogQueue)
	if err != nil {
		return nil, fmt.Errorf("egress: open logs: %w", err)
	}
	res := cfg.Resolver
	if res == nil {
		res = newResolver(cfg.DNSServers)
	}
	s := &Server{
		cfg:       cfg,
		logs:      logs,
		dialer:    &guardDialer{res: newCachingResolver(res), allowPrivate: cfg.AllowPrivate, timeout: cfg.ConnectTimeout},
		sem:       make(chan struct{}, cfg.MaxConns),
		done:      make(chan struct{}),
		listeners: map[net.Listener]struct{}{},
		conns:     map[*clientConn]struct{}{},
	}
	s.transport = &http.Transport{
		Proxy:                  nil, // never chain to the host's HTTP_PROXY
		DialContext:            s.dialHTTP,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    64,
		IdleConnTimeout:        2 * time.Minute,
		DisableCompression:     true,
		MaxResponseHeaderBytes: int64(cfg.MaxHeaderBytes) * 4,
		TLSNextProto:           map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	if err := s.newInspector(); err != nil { // inspect.go
		return nil, err
	}
	return s, nil
}

// Serve kinds, also the "listener" field of audit records.
const (
	kindExplicit = "explicit"
	kindHTTP     = "http"
	kindTLS      = "tls"
	// kindTunnelHTTP is plain HTTP inside a CONNECT tunnel, served request
	// by request like the transparent HTTP listener.
	kindTunnelHTTP = "tunnel-http"
)

// ServeProxy serves the explicit proxy (absolute-form HTTP and CONNECT).
func (s *Server) ServeProxy(ln net.Listener) error {
	return s.serve(ln, func(c *clientConn) { s.serveHTTP(c, kindExplicit, 0) })
}

// ServeTransparentHTTP serves plain HTTP that nftables redirected here;
// the Host header names the site, SO_ORIGINAL_DST the port.
func (s *Server) ServeTransparentHTTP(ln net.Listener) error {
	return s.serve(ln, func(c *clientConn) {
		port := uint16(0)
		if d, err := originalDst(c.Conn); err == nil {
			port = d.Port()
		}
		s.serveHTTP(c, kindHTTP, port)
	})
}

// ServeTransparentTLS serves TLS that nftables redirected here; the SNI of
// the ClientHello names the site. TLS is never terminated.
func (s *Server) ServeTransparentTLS(ln net.Listener) error {
	return s.serve(ln, s.serveTLS)
}

func (s *Server) serve(ln net.Listener, handle func(*clientConn)) error {
	s.mu.Lock()
	if s.shutting.Load() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	var backoff time.Duration
	for {
		select {
		case s.sem <- struct{}{}:
		case <-s.done:
			return ErrServerClosed
		}
		c, err := ln.Accept()
		if err != nil {
			<-s.sem
			if s.shutting.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		cc := &clientConn{Conn: c}
		cc.client, _ = netip.ParseAddrPort(c.RemoteAddr().String())
		cc.idle.Store(true)
		if !s.track(cc) {
			c.Close()
			<-s.sem
			return ErrServerClosed
		}
		go func() {
			defer func() {
				cc.closeAll()
				s.untrack(cc)
				<-s.sem
			}()
			handle(cc)
		}()
	}
}

func (s *Server) track(c *clientConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting.Load() {
		return false
	}
	s.wg.Add(1)
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *clientConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// Shutdown stops accepting, closes idle connections, waits for requests
// and tunnels in flight until ctx ends, then cuts what is left and flushes
// the logs.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	first := !s.shutting.Swap(true)
	if first {
		close(s.done)
	}
	for ln := range s.listeners {
		ln.Close()
	}
	dnsServers := slices.Clone(s.dns)
	s.mu.Unlock()
	for _, d := range dnsServers {
		d.srv.ShutdownContext(ctx)
		d.sock.Close()
	}
	finished := make(chan struct{})
	go func() { s.wg.Wait(); close(finished) }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var err error
wait:
	for {
		s.closeIdle()
		select {
		case <-finished:
			break wait
		case <-ctx.Done():
			err = ctx.Err()
			s.mu.Lock()
			for c := range s.conns {
				c.closeAll()
			}
			s.mu.Unlock()
			<-finished
			break wait
		case <-tick.C:
		}
	}
	s.transport.CloseIdleConnections()
	if s.inspector != nil {
		s.inspector.Close()
	}
	s.hostOnce.Do(func() {}) // hostaccess.go: orders the read of hostTr
	if s.hostTr != nil {
		s.hostTr.CloseIdleConnections()
	}
	s.logs.close()
	return err
}

// Close is Shutdown without the grace period.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Shutdown(ctx)
	return nil
}

func (s *Server) closeIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.idle.Load() {
			c.Conn.Close()
		}
	}
}

// DroppedLogEntries counts log entries lost to a full queue.
func (s *Server) DroppedLogEntries() int64 {
	if s.logs == nil {
		return 0
	}
	return s.logs.Dropped.Load()
}

// verdict is the outcome of the checks made before any upstream contact.
type verdict struct {
	allowed bool
	host    string // canonical name to resolve and dial
	rule    string
	reason  string
}

// decide applies, in Squid's order, the port rule, the raw-IP rule and
// the domain policy.
func (s *Server) decide(host string, port uint16, proto domains.Proto) verdict {
	if !slices.Contains(s.cfg.Ports, port) {
		rule := domains.RuleDenyUnsafePorts
		if proto == domains.HTTPS {
			rule = domains.RuleDenyConnectUnsafePorts
		}
		return verdict{host: host, rule: rule, reason: fmt.Sprintf("port %d not allowed", port)}
	}
	if isRawIP(host) {
		rule := domains.RuleDenyRawIPv4
		if strings.Contains(host, ":") {
			rule = domains.RuleDenyRawIPv6
		}
		return verdict{host: host, rule: rule, reason: domains.ReasonRawIP}
	}
	d := s.cfg.Policy.Decide(host, proto)
	v := verdict{allowed: d.Allowed, host: d.Host, rule: d.Rule, reason: d.Reason}
	if v.host == "" {
		v.host = canonicalHost(host)
	}
	if !v.allowed && v.reason == "" {
		v.reason = "domain not in allowlist"
	}
	if v.allowed {
		if b := s.scanHost(v.host); b != nil { // scan.go
			v.allowed, v.host, v.rule, v.reason = false, redacted, b.Rule, b.Reason
		}
	}
	return v
}

// record finishes e, logs it and emits the slog line.
func (s *Server) record(e *Entry) {
	e.Duration = time.Since(e.Start)
	if e.Version == "" {
		e.Version = "1.1"
	}
	s.scrub(e) // scan.go
	s.logs.add(e)
	if e.Code == codeDenied {
		slog.Info("egress denied", "listener", e.Listener, "client", e.Client, "method", e.Method,
			"url", e.URL, "status", e.Status, "rule", e.Rule, "reason", e.Reason)
	} else if slog.Default().Enabled(context.Background(), slog.LevelDebug) {
		slog.Debug("egress", "listener", e.Listener, "client", e.Client, "method", e.Method, "url", e.URL,
			"dest", e.Dest, "status", e.Status, "rule", e.Rule, "in", e.BytesIn, "out", e.BytesOut, "dur", e.Duration)
	}
}
