package inspect

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config is what an Inspector needs, as plain data.
type Config struct {
	CA    *CA
	Hooks []Hook
	// Dial connects to host:port the way every other upstream connection
	// of the egress proxy is made (the SSRF guard); required.
	Dial func(ctx context.Context, host string, port uint16) (net.Conn, error)
	// RootCAs verifies upstream certificates; nil is the system pool, as
	// for the agent's own TLS when nothing is inspected. Tests add their CA.
	RootCAs *x509.CertPool
	// Record receives one Record per inspected request, when it ends.
	Record func(*Record)
	// Timeouts: TLS handshake with the agent, and idle / request headers.
	HandshakeTimeout, IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers (1 MiB if zero).
	MaxHeaderBytes int
}

// Record is one inspected request, for the access log and audit.
type Record struct {
	Start     time.Time
	Host      string // the SNI name judged by the allowlist
	Port      uint16
	Proto     string // "1.1" or "2.0", the agent's side
	Method    string
	URL       string // https://host[:port]/path?query
	UserAgent string
	Status    int
	Dest      netip.AddrPort // upstream address, zero if none was used
	BytesIn   int64          // request body, agent -> upstream
	BytesOut  int64          // response body, upstream -> agent
	Rule      string         // the hook's rule on a block
	Reason    string
	Blocked   bool  // a hook refused it: nothing was sent upstream
	Err       error // upstream failure (502)
	Upgrade   bool  // a WebSocket (or other Upgrade) relay
}

// Inspector terminates the agent's TLS for hosts its hooks inspect, runs
// the hooks on every request and re-originates TLS to the real host.
type Inspector struct {
	cfg   Config
	tr    *http.Transport
	proxy *httputil.ReverseProxy
}

// New builds an Inspector; nil when there is nothing to inspect with.
func New(cfg Config) (*Inspector, error) {
	if cfg.CA == nil || cfg.Dial == nil {
		return nil, errors.New("inspect: a CA and a dialer are required")
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 30 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 2 * time.Minute
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = 1 << 20
	}
	in := &Inspector{cfg: cfg}
	in.tr = &http.Transport{
		Proxy: nil, // never the host's HTTP(S)_PROXY
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			h, ps, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			p, err := strconv.ParseUint(ps, 10, 16)
			if err != nil {
				return nil, err
			}
			return cfg.Dial(ctx, h, uint16(p))
		},
		// Verification as the agent's own client would do it: the real
		// host's name against the system roots (or the test's).
		TLSClientConfig:        &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12, ClientSessionCache: tls.NewLRUClientSessionCache(256)},
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    64,
		IdleConnTimeout:        cfg.IdleTimeout,
		TLSHandshakeTimeout:    cfg.HandshakeTimeout,
		ResponseHeaderTimeout:  0, // long polls and slow generations are legitimate
		DisableCompression:     true,
		MaxResponseHeaderBytes: 1 << 20,
	}
	in.proxy = &httputil.ReverseProxy{
		Rewrite:       func(*httputil.ProxyRequest) {}, // the handler sets the target
		Transport:     in.tr,
		FlushInterval: -1, // every write reaches the agent at once (SSE, streams)
		ErrorHandler:  in.upstreamError,
		// The status, from the upstream's response: a 101 never passes
		// through the ResponseWriter (the connection is hijacked).
		ModifyResponse: func(resp *http.Response) error {
			if rec, ok := resp.Request.Context().Value(recKey{}).(*Record); ok {
				rec.Status = resp.StatusCode
				rec.Upgrade = resp.StatusCode == http.StatusSwitchingProtocols
			}
			return nil
		},
		BufferPool: bufPool{},
	}
	return in, nil
}

// Hooks are the inspector's hooks, in order.
func (in *Inspector) Hooks() []Hook { return in.cfg.Hooks }

// Inspects reports whether any hook needs to see inside host's traffic.
func (in *Inspector) Inspects(host string) bool {
	if in == nil {
		return false
	}
	for _, h := range in.cfg.Hooks {
		if h.Inspects(host) {
			return true
		}
	}
	return false
}

// Close drops idle upstream connections.
func (in *Inspector) Close() { in.tr.CloseIdleConnections() }

// ServeOptions describe one agent connection.
type ServeOptions struct {
	// Idle is told when the connection waits for a request (true) and when
	// one arrives, so a shutting-down proxy can close idle connections.
	Idle func(bool)
	// Record, when set, receives this connection's records instead of
	// Config.Record.
	Record func(*Record)
}

// Serve terminates TLS on client (whose reads start with the agent's
// ClientHello, already judged: its SNI is host) and serves its requests
// until the agent or upstream ends. It returns when every request handler,
// WebSocket relays included, is done.
func (in *Inspector) Serve(client net.Conn, host string, port uint16, o ServeOptions) error {
	cert, err := in.cfg.CA.Leaf(host)
	if err != nil {
		return err
	}
	tc := tls.Server(client, &tls.Config{
		Certificates: []tls.Certificate{*cert},
		NextProtos:   []string{"h2", "http/1.1"},
		MinVersion:   tls.VersionTLS12,
	})
	client.SetDeadline(time.Now().Add(in.cfg.HandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("inspect: TLS handshake with the agent: %w", err)
	}
	client.SetDeadline(time.Time{})

	var handlers sync.WaitGroup
	done := make(chan struct{})
	var once sync.Once
	authority := host
	if port != 443 {
		authority = net.JoinHostPort(host, strconv.Itoa(int(port)))
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			handlers.Add(1)
			defer handlers.Done()
			in.handle(w, r, host, port, authority, o.Record)
		}),
		ReadHeaderTimeout: in.cfg.IdleTimeout,
		IdleTimeout:       in.cfg.IdleTimeout,
		MaxHeaderBytes:    in.cfg.MaxHeaderBytes,
		ErrorLog:          discardLog,
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateIdle:
				if o.Idle != nil {
					o.Idle(true)
				}
			case http.StateActive:
				if o.Idle != nil {
					o.Idle(false)
				}
			case http.StateClosed, http.StateHijacked:
				once.Do(func() { close(done) })
			}
		},
	}
	srv.Serve(&oneConnListener{conn: tc, done: done})
	<-done
	handlers.Wait()
	return nil
}

// handle runs the hooks on one request and proxies it upstream.
func (in *Inspector) handle(w http.ResponseWriter, r *http.Request, host string, port uint16, authority string, record func(*Record)) {
	if record == nil {
		record = in.cfg.Record
	}
	rec := &Record{Start: time.Now(), Host: host, Port: port, Method: r.Method,
		Proto: fmt.Sprintf("%d.%d", r.ProtoMajor, r.ProtoMinor), UserAgent: r.UserAgent()}
	r.URL.Scheme, r.URL.Host = "https", authority
	rec.URL = r.URL.String()
	defer func() {
		if record != nil {
			record(rec)
		}
	}()
	// The name inside TLS must be the one the allowlist judged: a Host
	// (or :authority) naming another site would reach it through a shared
	// front (domain fronting).
	if h := hostOnly(r.Host); h != "" && !strings.EqualFold(h, host) {
		in.block(w, rec, &Block{Status: http.StatusMisdirectedRequest, Rule: "deny-host-mismatch",
			Reason: "Host " + h + " does not match the TLS server name"})
		return
	}
	for _, h := range in.cfg.Hooks {
		if b := h.Request(r, host); b != nil {
			in.block(w, rec, b)
			return
		}
	}
	rec.URL = r.URL.String() // a hook may not rewrite it, but log what goes
	var mu sync.Mutex
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if ap, err := netip.ParseAddrPort(i.Conn.RemoteAddr().String()); err == nil {
			mu.Lock()
			rec.Dest = ap
			mu.Unlock()
		}
	}}
	ctx := context.WithValue(httptrace.WithClientTrace(r.Context(), trace), recKey{}, rec)
	out := r.WithContext(ctx)
	out.URL.Scheme, out.URL.Host = "https", authority
	out.Host = r.Host
	if out.Host == "" { // h2 without :authority
		out.Host = authority
	}
	out.RequestURI = ""
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = []string{""} // not Go's own
	}
	var body *countingBody
	if r.Body != nil && r.Body != http.NoBody {
		body = &countingBody{ReadCloser: r.Body}
		out.Body = body
	}
	cw := &countingWriter{ResponseWriter: w}
	in.proxy.ServeHTTP(cw, out)
	mu.Lock()
	defer mu.Unlock()
	if body != nil {
		rec.BytesIn = body.n
	}
	rec.BytesOut = cw.n
	if rec.Status == 0 {
		rec.Status = cw.status
	}
}

type recKey struct{}

func (in *Inspector) block(w http.ResponseWriter, rec *Record, b *Block) {
	status := b.Status
	if status == 0 {
		status = http.StatusForbidden
	}
	rec.Status, rec.Rule, rec.Reason, rec.Blocked = status, b.Rule, b.Reason, true
	if b.LogURL != "" {
		rec.URL = b.LogURL
	}
	body := fmt.Sprintf("awf firewall: %s %s denied by %s: %s\n", rec.Method, rec.URL, b.Rule, b.Reason)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Awf-Deny-Reason", b.Reason)
	w.Header().Set("X-Awf-Deny-Rule", b.Rule)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	n, _ := io.WriteString(w, body)
	rec.BytesOut = int64(n)
}

// upstreamError answers a failed upstream exchange with 502 and a reason
// that says whether the real host's certificate was the problem.
func (in *Inspector) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	var blk *Block
	if errors.As(err, &blk) { // a body hook refused the request mid-stream
		if rec, ok := r.Context().Value(recKey{}).(*Record); ok {
			in.block(w, rec, blk)
		}
		return
	}
	reason := "could not reach host: " + err.Error()
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	var ie x509.CertificateInvalidError
	var ve *tls.CertificateVerificationError
	if errors.As(err, &ve) || errors.As(err, &ue) || errors.As(err, &he) || errors.As(err, &ie) {
		reason = "upstream certificate verification failed: " + err.Error()
	}
	if rec, ok := r.Context().Value(recKey{}).(*Record); ok {
		rec.Status, rec.Err, rec.Reason = http.StatusBadGateway, err, reason
	}
	if errors.Is(err, context.Canceled) {
		return // the agent went away
	}
	body := "awf firewall: " + reason + "\n"
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusBadGateway)
	io.WriteString(w, body)
}

func hostOnly(hp string) string {
	if h, _, err := net.SplitHostPort(hp); err == nil {
		hp = h
	}
	return strings.TrimSuffix(strings.Trim(hp, "[]"), ".")
}
