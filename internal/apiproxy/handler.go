package apiproxy

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/awf-dev/awf/internal/guards"
	"github.com/awf-dev/awf/internal/usage"
)

// reqState follows one request from the handler through the reverse proxy's
// callbacks to the end of the response body, where it is logged once.
type reqState struct {
	id       string
	p        *Provider
	method   string
	path     string
	start    time.Time
	body     *requestBody
	upstream string
	cred     string // a run-time access token for this request (auth.go); never logged

	ticket  *guards.Ticket // admitted by the guards; settled in finish
	model   string         // the model the request named, for pricing
	held    []byte         // the body as sent upstream, when the guards read it
	inbound int64          // its size as the agent sent it

	once      sync.Once
	end       func(status int, streaming bool, u usage.Usage) // Config.Hook's; nil: none
	status    int
	respBytes int64
	isSSE     bool
}

type stateKey struct{}

func stateOf(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

var validRequestID = regexp.MustCompile(`^[\w\-.]{1,128}$`)

// requestID keeps a well-formed client id so callers can correlate, and
// otherwise makes a random UUIDv4.
func requestID(client string) string {
	if validRequestID.MatchString(client) {
		return client
	}
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// isUpgrade reports an HTTP/1.1 upgrade request, as Node's parser flags it
// (an Upgrade header and "upgrade" among the Connection tokens).
func isUpgrade(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" && httpguts.HeaderValuesContainsToken(r.Header["Connection"], "upgrade")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func errorBody(kind, msg string) map[string]string {
	return map[string]string{"error": kind, "message": msg}
}

func (s *Server) providerHandler(p *Provider) http.Handler {
	rp := s.proxyFor(p)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := requestID(r.Header.Get("X-Request-Id"))
		w.Header().Set("X-Request-Id", id)
		if !s.cfg.Enabled(p) && isUpgrade(r) {
			// The original's upgrade handler: a bare 503 on every port of
			// a provider without credentials, whatever the path.
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.Method == http.MethodGet && s.serveLocal(p, w, r) {
			return
		}
		if !s.cfg.Enabled(p) {
			s.unconfigured(w, p) // auth.go
			return
		}
		if !strings.HasPrefix(r.RequestURI, "/") {
			writeJSON(w, http.StatusBadRequest, errorBody("Bad Request", "URL must be a relative path"))
			return
		}
		if up := r.Header.Get("Upgrade"); up != "" && !strings.EqualFold(up, "websocket") {
			writeJSON(w, http.StatusBadRequest, errorBody("Bad Request", "only WebSocket upgrades are supported"))
			return
		}
		if lim := s.limiters[p.Name]; lim != nil {
			if d := lim.check(time.Now(), max(r.ContentLength, 0)); !d.Allowed {
				s.rateLimited(w, p, id, d)
				return
			}
		}
		if r.ContentLength > MaxBodyBytes {
			s.log.Info("request_rejected", "request_id", id, "provider", p.Name, "reason", "payload_too_large", "content_length", r.ContentLength)
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody("Payload Too Large", "Request body exceeds 10 MB limit"))
			return
		}
		cred, ok := s.credentialFor(w, r, p, id) // auth.go: OIDC token, refreshed when due
		if !ok {
			return
		}
		st := &reqState{id: id, p: p, method: r.Method, path: r.URL.Path, start: time.Now(), upstream: s.cfg.Targets[p.Name], cred: cred}
		if s.cfg.Hook != nil {
			st.end = s.cfg.Hook(p.Name, sanitize(r.Method), sanitize(r.URL.Path), id)
		}
		if r.Body != nil && r.Body != http.NoBody {
			st.body = &requestBody{rc: r.Body, limit: MaxBodyBytes}
			r.Body = st.body
		}
		// Stream the request body upstream while the response streams back;
		// without this Go's server would drain the body first.
		http.NewResponseController(w).EnableFullDuplex()
		s.pmetrics[p.Name].active.Inc()
		s.metrics.activeReqs.Add(1)
		if s.log.Enabled(r.Context(), slog.LevelDebug) {
			s.log.Debug("request_start", "request_id", id, "provider", p.Name, "method", sanitize(r.Method), "path", sanitize(r.URL.Path))
		}
		if !s.admit(w, r, st) {
			return
		}
		rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
	})
}

// serveLocal answers the endpoints the proxy owns: /health on every port,
// /metrics and /reflect on the management port. Everything else goes upstream.
func (s *Server) serveLocal(p *Provider, w http.ResponseWriter, r *http.Request) bool {
	switch {
	case r.RequestURI == "/health" && p.Port == ManagementPort:
		writeJSON(w, http.StatusOK, s.health())
	case (r.URL.Path == "/metrics" && strings.HasPrefix(r.RequestURI, "/metrics")) && p.Port == ManagementPort:
		s.serveMetrics(w, r)
	case r.RequestURI == "/reflect" && p.Port == ManagementPort:
		writeJSON(w, http.StatusOK, s.Reflect())
	case r.RequestURI == "/health":
		if !s.cfg.Enabled(p) && p.HealthError != "" {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not_configured", "service": p.HealthService(), "error": s.healthError(p)})
		} else {
			writeJSON(w, http.StatusOK, map[string]string{"status": "healthy", "service": p.HealthService()})
		}
	default:
		return false
	}
	return true
}

func (s *Server) rateLimited(w http.ResponseWriter, p *Provider, id string, d rateDecision) {
	s.metrics.rateLimit.WithLabelValues(p.Name, d.Kind.key).Inc()
	s.log.Warn("rate_limited", "request_id", id, "provider", p.Name, "limit_type", d.Kind.key, "limit", d.Limit, "retry_after", d.RetryAfterSeconds())
	h := w.Header()
	h.Set("Retry-After", strconv.FormatInt(d.RetryAfterSeconds(), 10))
	h.Set("X-RateLimit-Limit", strconv.FormatInt(d.Limit, 10))
	h.Set("X-RateLimit-Remaining", strconv.FormatInt(d.Remaining, 10))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(d.Reset.Unix()+1, 10))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": map[string]any{
		"type": "rate_limit_error", "message": d.Message(p.Name), "provider": p.Name,
		"limit": d.Limit, "window": d.Kind.window, "retry_after": d.RetryAfterSeconds(),
	}})
}

// rewrite turns the agent's request into the upstream request: target host,
// base path, no client credentials or forwarding headers, the real key.
func (s *Server) rewrite(p *Provider, pr *httputil.ProxyRequest) {
	st := stateOf(pr.In.Context())
	out := pr.Out
	target := s.cfg.Targets[p.Name]
	base := s.cfg.BasePaths[p.Name]
	out.URL.Scheme, out.URL.Host, out.Host = "https", target, target
	out.URL.Path = upstreamPath(base, pr.In.URL.Path)
	if pr.In.URL.RawPath != "" {
		out.URL.RawPath = upstreamPath(base, pr.In.URL.RawPath)
	}
	if p.Name == "gemini" && out.URL.Query().Has("key") {
		// A ?key= query parameter carries the agent's placeholder and would
		// compete with the injected header.
		q := out.URL.Query()
		q.Del("key")
		out.URL.RawQuery = q.Encode()
	}
	stripClientHeaders(out.Header)
	s.applyAuth(p, pr, st.cred) // auth.go
	out.Header.Set("X-Request-Id", st.id)
}

// upstreamPath joins the base path and the agent's path without doubling
// what they share: a path already under base is kept (the original's
// rule), and a base ending in the segment the path starts with
// ("/tenant/v1" + "/v1/chat/completions", an SDK whose base URL ends in
// /v1) gets it once.
func upstreamPath(base, path string) string {
	if base == "" || base == "/" {
		return path
	}
	if path == base || strings.HasPrefix(path, base+"/") {
		return path
	}
	if i := strings.LastIndex(base, "/"); i >= 0 {
		last := base[i:] // "/v1"
		if path == last || strings.HasPrefix(path, last+"/") {
			return base + path[len(last):]
		}
	}
	return base + path
}

func stripClientHeaders(h http.Header) {
	for _, k := range strippedHeaders {
		h.Del(k)
	}
	for k := range h {
		if strings.HasPrefix(k, "X-Forwarded-") {
			delete(h, k)
		}
	}
}

func (s *Server) modifyResponse(resp *http.Response) error {
	st := stateOf(resp.Request.Context())
	st.status = resp.StatusCode
	resp.Header.Set("X-Request-Id", st.id)
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		s.log.Warn("upstream_auth_error", "request_id", st.id, "provider", st.p.Name, "status", resp.StatusCode,
			"upstream_host", st.upstream, "hint", "the upstream rejected the injected credential; check the key given to awf")
	}
	track := resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusSwitchingProtocols
	st.isSSE = strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") ||
		strings.HasPrefix(resp.Header.Get("Content-Type"), usage.MediaEventStream) // Bedrock streaming
	rb := &responseBody{s: s, st: st, rc: resp.Body}
	switch {
	case resp.StatusCode == http.StatusSwitchingProtocols:
		rwc, ok := resp.Body.(io.ReadWriteCloser)
		if !ok {
			return errors.New("upgrade response body is not writable")
		}
		rb.ws = usage.NewWSTracker(st.p.Name)
		rb.wg = s.guardWebSocket(st, rb, rwc)
		resp.Body = &upgradeBody{responseBody: rb, w: rwc}
		return nil
	case track:
		rb.tr = usage.NewTracker(st.p.Name, resp.Header)
	}
	resp.Body = rb
	return nil
}

// proxyError answers when no upstream response could be relayed.
func (s *Server) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	st := stateOf(r.Context())
	switch {
	case st.body != nil && st.body.tooLarge():
		st.status = http.StatusRequestEntityTooLarge
		writeJSON(w, st.status, errorBody("Payload Too Large", "Request body exceeds 10 MB limit"))
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		st.status = 499 // the client went away; there is no one to answer
	default:
		st.status = http.StatusBadGateway
		writeJSON(w, st.status, errorBody("Proxy error", sanitize(redact(err.Error(), s.secrets()))))
		s.log.Error("request_error", "request_id", st.id, "provider", st.p.Name, "upstream_host", st.upstream, "error", sanitize(err.Error()))
	}
	s.finish(st, usage.Usage{})
}

func (s *Server) secrets() []string {
	ks := make([]string, 0, len(s.cfg.Keys))
	for _, k := range s.cfg.Keys {
		ks = append(ks, k)
	}
	return ks
}

// finish records a request exactly once: metrics, the request log line and
// the token-usage record.
func (s *Server) finish(st *reqState, u usage.Usage) {
	st.once.Do(func() {
		d := time.Since(st.start)
		name := st.p.Name
		pm := s.pmetrics[name]
		pm.active.Dec()
		s.metrics.activeReqs.Add(-1)
		s.metrics.totalReqs.Add(1)
		s.metrics.latencySum.Add(d.Microseconds())
		s.metrics.requests.WithLabelValues(name, st.method, statusClass(st.status)).Inc()
		if st.status >= 500 || st.status == 499 {
			pm.errors.Inc()
			s.metrics.totalErrs.Add(1)
		}
		var reqBytes int64
		if st.body != nil {
			reqBytes = st.body.count()
		}
		pm.reqBytes.Add(float64(reqBytes))
		pm.respBytes.Add(float64(st.respBytes))
		pm.duration.Observe(float64(d.Microseconds()) / 1000)
		if st.end != nil {
			st.end(st.status, st.streaming(), u)
		}
		s.log.LogAttrs(context.Background(), slog.LevelInfo, "request_complete",
			slog.String("request_id", st.id), slog.String("provider", name), slog.String("method", sanitize(st.method)),
			slog.String("path", sanitize(st.path)), slog.Int("status", st.status), slog.Int64("duration_ms", d.Milliseconds()),
			slog.Int64("request_bytes", reqBytes), slog.Int64("response_bytes", st.respBytes), slog.String("upstream_host", st.upstream))
		if !u.Found {
			s.settle(st, u, nil)
			return
		}
		pm.inTokens.Add(float64(u.InputTokens))
		pm.outTokens.Add(float64(u.OutputTokens))
		rec := usage.Record{
			Timestamp: usage.Timestamp(time.Now()), RequestID: st.id, Provider: name,
			Model: u.Model, Path: sanitize(st.path), Status: st.status, Streaming: st.streaming(),
			InputTokens: u.InputTokens, OutputTokens: u.OutputTokens,
			CacheReadTokens: u.CacheReadTokens, CacheWriteTokens: u.CacheWriteTokens,
			DurationMs: d.Milliseconds(), ResponseBytes: st.respBytes,
		}
		if rec.Model == "" {
			rec.Model = "unknown" // as the original, also in the log line below
		}
		if st.status == http.StatusSwitchingProtocols {
			rec.Transport = "websocket"
		}
		s.settle(st, u, &rec)
		s.log.Info("token_usage", "request_id", st.id, "provider", name, "model", rec.Model,
			"input_tokens", rec.InputTokens, "output_tokens", rec.OutputTokens,
			"cache_read_tokens", rec.CacheReadTokens, "cache_write_tokens", rec.CacheWriteTokens)
		if s.tokens != nil {
			s.tokens.Append(rec)
		}
	})
}

func (st *reqState) streaming() bool { return st.status == http.StatusSwitchingProtocols || st.isSSE }

// requestBody counts the bytes the agent sends and stops a body that grows
// past the limit: the read error aborts the upstream request.
type requestBody struct {
	rc      io.ReadCloser
	limit   int64
	n       int64
	tripped bool
	mu      sync.Mutex
}

var errBodyTooLarge = errors.New("request body exceeds 10 MB limit")

func (b *requestBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.mu.Lock()
	b.n += int64(n)
	over := b.n > b.limit
	if over {
		b.tripped = true
	}
	b.mu.Unlock()
	if over {
		return 0, errBodyTooLarge
	}
	return n, err
}

func (b *requestBody) Close() error { return b.rc.Close() }

func (b *requestBody) count() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

func (b *requestBody) tooLarge() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tripped
}
