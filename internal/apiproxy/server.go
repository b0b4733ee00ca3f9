// Package apiproxy is the credential-injecting reverse proxy: the agent talks
// plain HTTP to it with placeholder credentials, it strips whatever auth the
// agent sent, injects the real key and forwards over verified TLS through
// the egress proxy. Bodies stream both ways; nothing is buffered whole.
package apiproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/awf-dev/awf/internal/guards"
	"github.com/awf-dev/awf/internal/usage"
)

// Server is the API proxy: one listener per provider, one handler for all.
type Server struct {
	cfg       *Config
	log       *slog.Logger
	transport *http.Transport
	metrics   *metrics
	limiters  map[string]*limiter
	pmetrics  map[string]*providerMetrics
	tokens    *usage.Log
	handlers  map[string]http.Handler
	guards    *guards.Guards // budgets, turn limits, model policy (guard.go)
	catalogs  catalogs

	mu      sync.Mutex
	servers []*http.Server
}

// New builds a Server. It opens the token log but listens on nothing yet.
func New(cfg *Config, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = discardLogger()
	}
	s := &Server{cfg: cfg, log: log, metrics: newMetrics(), limiters: map[string]*limiter{}, handlers: map[string]http.Handler{}, pmetrics: map[string]*providerMetrics{}}
	s.transport = newTransport(cfg)
	s.guards = guards.New(cfg.Guards)
	s.guards.OnFirstBlock(s.writeGuardState)
	s.logGuards()
	if err := s.buildDynamic(); err != nil { // signer.go: OIDC credentials
		return nil, err
	}
	if cfg.TokenLogDir != "" {
		tl, err := usage.OpenLog(cfg.TokenLogDir)
		if err != nil {
			return nil, fmt.Errorf("token log: %w", err)
		}
		s.tokens = tl
	}
	for _, p := range Providers {
		if cfg.RateLimit.Enabled {
			s.limiters[p.Name] = newLimiter(cfg.RateLimit)
		}
		s.pmetrics[p.Name] = s.metrics.forProvider(p.Name)
		s.handlers[p.Name] = s.providerHandler(p)
	}
	return s, nil
}

func newTransport(cfg *Config) *http.Transport {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		DialContext:         d.DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: cfg.RootCAs, ClientSessionCache: tls.NewLRUClientSessionCache(64)},
		TLSHandshakeTimeout: 15 * time.Second,
		// Reusing tunnels is what makes the proxy cheap: one CONNECT and one
		// TLS handshake serve many requests.
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		// The client's bytes must arrive unchanged: never ask for gzip on
		// its behalf and then decode it.
		DisableCompression: true,
		WriteBufferSize:    16 << 10,
		ReadBufferSize:     16 << 10,
	}
	if cfg.Proxy != nil {
		t.Proxy = http.ProxyURL(cfg.Proxy)
		t.OnProxyConnectResponse = explainRefusal
		if cfg.DialProxy != nil {
			t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				return cfg.DialProxy(network, addr)
			}
		}
	}
	return t
}

// explainRefusal turns an egress denial of the CONNECT into an error that
// names the reason, so the agent's 502 says what to add to the allowlist
// instead of a bare "Forbidden".
func explainRefusal(_ context.Context, _ *url.URL, req *http.Request, resp *http.Response) error {
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	if reason := resp.Header.Get("X-Awf-Deny-Reason"); reason != "" {
		return fmt.Errorf("egress proxy refused %s: %s", req.Host, reason)
	}
	return fmt.Errorf("egress proxy answered %s for %s", resp.Status, req.Host)
}

// Handler returns the handler of provider p (for tests and embedding).
func (s *Server) Handler(p *Provider) http.Handler { return s.handlers[p.Name] }

// Listen binds the listeners of every provider on cfg.ListenHost. Every
// port binds, configured or not, as the original's (alwaysBind): an
// unconfigured one answers a clear error instead of refusing connections.
func (s *Server) Listen() (map[string]net.Listener, error) {
	lns := map[string]net.Listener{}
	for _, p := range s.ListeningProviders() {
		ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.ListenHost, strconv.Itoa(p.Port)))
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, err
		}
		lns[p.Name] = ln
	}
	return lns, nil
}

// ListeningProviders are the providers that get a listener: all of them.
func (s *Server) ListeningProviders() []*Provider { return Providers }

// ConfiguredProviders are those with a credential; only their upstream
// targets need to be reachable.
func (s *Server) ConfiguredProviders() []*Provider {
	var ps []*Provider
	for _, p := range Providers {
		if s.cfg.Enabled(p) {
			ps = append(ps, p)
		}
	}
	return ps
}

// Serve serves the given listeners (keyed by provider name) until ctx is
// done, then stops accepting, waits up to cfg.ShutdownTimeout for requests
// in flight, and flushes the token log.
func (s *Server) Serve(ctx context.Context, lns map[string]net.Listener) error {
	errc := make(chan error, len(lns))
	for name, ln := range lns {
		h, ok := s.handlers[name]
		if !ok {
			return fmt.Errorf("no provider %q", name)
		}
		srv := &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 30 * time.Second,
			IdleTimeout:       5 * time.Minute,
			MaxHeaderBytes:    1 << 20,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		}
		s.mu.Lock()
		s.servers = append(s.servers, srv)
		s.mu.Unlock()
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	s.log.Info("server_start", "listeners", len(lns))
	go s.validateRequestedModel() // apiProxy.requestedModel, logged only (guard.go)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.shutdown()
	return err
}

func (s *Server) shutdown() {
	s.log.Info("shutdown", "timeout_ms", s.cfg.ShutdownTimeout.Milliseconds())
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	s.mu.Lock()
	for _, srv := range s.servers {
		wg.Add(1)
		go func() { defer wg.Done(); srv.Shutdown(ctx) }()
	}
	s.mu.Unlock()
	wg.Wait()
	s.transport.CloseIdleConnections()
	if s.tokens != nil {
		s.tokens.Close()
	}
	s.writeGuardState()
	s.logBudget()
}

// proxyFor builds the reverse proxy of one provider.
func (s *Server) proxyFor(p *Provider) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:        func(pr *httputil.ProxyRequest) { s.rewrite(p, pr) },
		Transport:      s.transportFor(p), // signer.go: SigV4 for a signing credential
		ModifyResponse: s.modifyResponse,
		ErrorHandler:   s.proxyError,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BufferPool:     bufferPool{},
	}
}

// bufferPool recycles the 32 KiB copy buffers across responses.
type bufferPool struct{}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *(copyBufs.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { copyBufs.Put(&b) }
