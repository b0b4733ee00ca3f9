package apiproxy

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/testnet"
)

func TestMain(m *testing.M) { testnet.Main(m) }

// Keys the tests inject; each is distinctive so a grep finds any leak.
var testKeys = map[string]string{
	"openai":    "sk-REAL-openai-7f3a9c1e5b2d4f6a8c0e",
	"anthropic": "sk-ant-REAL-anthropic-2b4d6f8a0c1e3a5c",
	"copilot":   "ghu_REALcopilotTOKEN9a8b7c6d5e4f3a2b1c",
	"gemini":    "AIzaREAL-gemini-key-0123456789abcdefgh",
}

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rig is one api-proxy under test: real listeners on loopback, a real
// CONNECT forward proxy, and a real TLS upstream on a test address.
type rig struct {
	t      testing.TB
	srv    *Server
	cfg    *Config
	up     *testnet.Upstream
	fwd    *testnet.ForwardProxy
	urls   map[string]string // provider -> http://127.0.0.1:port
	logs   *syncBuffer
	tokens string // token-usage.jsonl path
	stop   func() error
}

type rigOpt func(*Config)

func withoutKey(provider string) rigOpt { return func(c *Config) { delete(c.Keys, provider) } }

func newRig(t testing.TB, h http.Handler, opts ...rigOpt) *rig {
	t.Helper()
	testnet.Require(t)
	r := &rig{t: t, logs: &syncBuffer{}, urls: map[string]string{}}
	if h != nil {
		r.up = testnet.NewUpstream(t, h)
	}
	r.fwd = testnet.NewForwardProxy(t)
	dir := t.TempDir()
	env := map[string]string{
		"OPENAI_API_KEY": testKeys["openai"], "ANTHROPIC_API_KEY": testKeys["anthropic"],
		"COPILOT_GITHUB_TOKEN": testKeys["copilot"], "GEMINI_API_KEY": testKeys["gemini"],
		"HTTPS_PROXY": r.fwd.URL, "AWF_TOKEN_LOG_DIR": dir,
	}
	r.cfg = FromEnv(func(k string) string { return env[k] })
	if r.up != nil {
		for _, p := range Providers {
			r.cfg.Targets[p.Name] = r.up.Name
		}
	}
	for _, o := range opts {
		o(r.cfg)
	}
	r.cfg.ShutdownTimeout = 5 * time.Second
	r.tokens = filepath.Join(dir, "token-usage.jsonl")
	r.start()
	return r
}

func (r *rig) start() {
	t := r.t
	log := NewLogger(r.logs, levelDebug, nil) // no redaction: a leak must show up in the grep
	srv, err := New(r.cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	r.srv = srv
	lns := map[string]net.Listener{}
	for _, p := range srv.ListeningProviders() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[p.Name] = ln
		r.urls[p.Name] = "http://" + ln.Addr().String()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lns) }()
	var once sync.Once
	var serr error
	r.stop = func() error {
		once.Do(func() { cancel(); serr = <-done })
		return serr
	}
	t.Cleanup(func() {
		r.stop()
		r.assertNoKeyInLogs()
	})
}

// assertNoKeyInLogs is the standing security check of every test.
func (r *rig) assertNoKeyInLogs() {
	r.t.Helper()
	logs := r.logs.String()
	tokens, _ := os.ReadFile(r.tokens)
	for p, k := range testKeys {
		for _, frag := range []string{k, k[:12], k[len(k)-10:]} {
			if strings.Contains(logs, frag) || bytes.Contains(tokens, []byte(frag)) {
				r.t.Errorf("%s key (fragment %q) found in logs or token log", p, frag)
			}
		}
	}
}

var client = &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 100, DisableCompression: true}}

// do sends a request to provider p and returns status, headers and body.
func (r *rig) do(p, method, path string, body io.Reader, hdr map[string]string) (*http.Response, string) {
	r.t.Helper()
	req, err := http.NewRequest(method, r.urls[p]+path, body)
	if err != nil {
		r.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r.assertNoKeyIn(string(b))
	for k, vs := range resp.Header {
		r.assertNoKeyIn(k + ": " + strings.Join(vs, ","))
	}
	return resp, string(b)
}

// waitEvents waits until the log holds n lines of event: a client can have
// read the whole body a moment before the proxy records the request.
func (r *rig) waitEvents(event string, n int) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(r.logs.String(), `"event":"`+event+`"`) < n {
		if time.Now().After(deadline) {
			r.t.Fatalf("waited for %d %s events; log:\n%s", n, event, r.logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *rig) assertNoKeyIn(s string) {
	r.t.Helper()
	for p, k := range testKeys {
		if strings.Contains(s, k) {
			r.t.Errorf("%s key leaked to the client: %q", p, s)
		}
	}
}

// recorder is an upstream handler that records what reached it.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
	then http.HandlerFunc
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, r)
	rc.body = append(rc.body, b)
	rc.mu.Unlock()
	if rc.then != nil {
		rc.then(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"ok":true}`)
}

func (rc *recorder) last(t *testing.T) *http.Request {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.reqs) == 0 {
		t.Fatal("upstream received nothing")
	}
	return rc.reqs[len(rc.reqs)-1]
}

func (rc *recorder) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// inBackground runs one request and delivers its body (or error text).
func inBackground(send func() (*http.Response, error)) <-chan string {
	got := make(chan string, 1)
	go func() {
		resp, err := send()
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	return got
}
