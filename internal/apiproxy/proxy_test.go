package apiproxy

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/testnet"
)

const levelDebug = slog.LevelDebug

func TestInjectsRealCredentialAndStripsClientAuth(t *testing.T) {
	rec := &recorder{}
	r := newRig(t, rec)
	r.cfg.BasePaths["openai"] = "/serving-endpoints"
	hostile := map[string]string{
		"Authorization":       "Bearer placeholder",
		"X-Api-Key":           "placeholder",
		"X-Goog-Api-Key":      "placeholder",
		"Proxy-Authorization": "Basic cGxhY2Vob2xkZXI=",
		"Forwarded":           "for=172.30.0.20",
		"Via":                 "1.1 agent",
		"X-Forwarded-For":     "172.30.0.20",
		"X-Forwarded-Host":    "evil.example",
		"X-Custom":            "kept",
	}
	cases := []struct {
		provider, path, wantPath string
		check                    func(t *testing.T, h http.Header)
	}{
		{"openai", "/v1/chat/completions?x=1", "/serving-endpoints/v1/chat/completions", func(t *testing.T, h http.Header) {
			want(t, h.Get("Authorization"), "Bearer "+testKeys["openai"])
		}},
		{"anthropic", "/v1/messages", "/v1/messages", func(t *testing.T, h http.Header) {
			want(t, h.Get("X-Api-Key"), testKeys["anthropic"])
			want(t, h.Get("Anthropic-Version"), "2023-06-01")
			want(t, h.Get("Authorization"), "")
		}},
		{"copilot", "/chat/completions", "/chat/completions", func(t *testing.T, h http.Header) {
			want(t, h.Get("Authorization"), "Bearer "+testKeys["copilot"])
		}},
		{"gemini", "/v1beta/models/gemini-2.5-pro:generateContent?key=placeholder&alt=sse", "/v1beta/models/gemini-2.5-pro:generateContent", func(t *testing.T, h http.Header) {
			want(t, h.Get("X-Goog-Api-Key"), testKeys["gemini"])
			want(t, h.Get("Authorization"), "")
		}},
	}
	for _, c := range cases {
		t.Run(c.provider, func(t *testing.T) {
			resp, body := r.do(c.provider, "POST", c.path, strings.NewReader(`{"model":"m"}`), hostile)
			if resp.StatusCode != 200 || body != `{"ok":true}` {
				t.Fatalf("status %d body %q", resp.StatusCode, body)
			}
			got := rec.last(t)
			c.check(t, got.Header)
			want(t, got.URL.Path, c.wantPath)
			want(t, got.Host, r.up.Name)
			want(t, got.Header.Get("X-Custom"), "kept")
			for _, h := range []string{"Proxy-Authorization", "Forwarded", "Via", "X-Forwarded-For", "X-Forwarded-Host"} {
				if v := got.Header.Get(h); v != "" {
					t.Errorf("%s reached upstream: %q", h, v)
				}
			}
			if c.provider == "gemini" && got.URL.Query().Has("key") {
				t.Errorf("gemini ?key= reached upstream: %s", got.URL.RawQuery)
			}
			if c.provider == "openai" && got.URL.RawQuery != "x=1" {
				t.Errorf("query = %q", got.URL.RawQuery)
			}
			if id := resp.Header.Get("X-Request-Id"); id == "" || got.Header.Get("X-Request-Id") != id {
				t.Errorf("request id: response %q upstream %q", id, got.Header.Get("X-Request-Id"))
			}
		})
	}
	// A client's anthropic-version is kept; a valid X-Request-ID is kept.
	resp, _ := r.do("anthropic", "POST", "/v1/messages", strings.NewReader("{}"), map[string]string{"Anthropic-Version": "2024-01-01", "X-Request-Id": "trace-42.a_b"})
	want(t, rec.last(t).Header.Get("Anthropic-Version"), "2024-01-01")
	want(t, resp.Header.Get("X-Request-Id"), "trace-42.a_b")
	resp, _ = r.do("openai", "GET", "/v1/models", nil, map[string]string{"X-Request-Id": "bad id with spaces"})
	if id := resp.Header.Get("X-Request-Id"); id == "bad id with spaces" || len(id) != 36 {
		t.Errorf("invalid client id not replaced by a UUID: %q", id)
	}
}

func want(t *testing.T, got, w string) {
	t.Helper()
	if got != w {
		t.Errorf("got %q, want %q", got, w)
	}
}

func TestProvidersWithoutKeys(t *testing.T) {
	rec := &recorder{}
	r := newRig(t, rec, withoutKey("openai"), withoutKey("gemini"), withoutKey("anthropic"))
	resp, body := r.do("openai", "POST", "/v1/chat/completions", strings.NewReader("{}"), nil)
	if resp.StatusCode != 404 || !strings.Contains(body, "OpenAI proxy not configured (no OPENAI_API_KEY/COPILOT_PROVIDER_API_KEY or OIDC auth)") {
		t.Errorf("openai without key: %d %s", resp.StatusCode, body)
	}
	resp, body = r.do("openai", "GET", "/health", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"openai":false`) {
		t.Errorf("health without openai key: %d %s", resp.StatusCode, body)
	}
	resp, body = r.do("gemini", "POST", "/v1beta/models/x:generateContent", strings.NewReader("{}"), nil)
	if resp.StatusCode != 503 || !strings.Contains(body, "Set GEMINI_API_KEY in the AWF runner environment") {
		t.Errorf("gemini without key: %d %s", resp.StatusCode, body)
	}
	resp, body = r.do("gemini", "GET", "/health", nil, nil)
	if resp.StatusCode != 503 || !strings.Contains(body, `"status":"not_configured"`) || !strings.Contains(body, `"service":"awf-api-proxy-gemini"`) {
		t.Errorf("gemini health without key: %d %s", resp.StatusCode, body)
	}
	// Every port binds without a key (the original's alwaysBind) and says
	// what to set, in the original's provider_not_configured shape.
	resp, body = r.do("anthropic", "POST", "/v1/messages", strings.NewReader("{}"), nil)
	if resp.StatusCode != 403 || !strings.Contains(body, `"type":"provider_not_configured"`) || !strings.Contains(body, "Set ANTHROPIC_API_KEY to enable this provider") || !strings.Contains(body, `"port":10001`) {
		t.Errorf("anthropic without key: %d %s", resp.StatusCode, body)
	}
	resp, body = r.do("anthropic", "GET", "/health", nil, nil)
	if resp.StatusCode != 503 || !strings.Contains(body, "ANTHROPIC_API_KEY not configured in api-proxy sidecar") {
		t.Errorf("anthropic health without key: %d %s", resp.StatusCode, body)
	}
	if rec.count() != 0 {
		t.Errorf("upstream got %d requests", rec.count())
	}
}

func TestHealthAndMetrics(t *testing.T) {
	r := newRig(t, &recorder{})
	r.do("openai", "POST", "/v1/chat/completions", strings.NewReader("{}"), nil)
	r.do("anthropic", "POST", "/v1/messages", strings.NewReader("{}"), nil)
	r.waitEvents("request_complete", 2)
	resp, body := r.do("openai", "GET", "/health", nil, nil)
	var h struct {
		SquidProxy     string `json:"squid_proxy"`
		Providers      map[string]bool
		MetricsSummary map[string]float64 `json:"metrics_summary"`
		RateLimits     map[string]any     `json:"rate_limits"`
	}
	if err := json.Unmarshal([]byte(body), &h); err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %d %v %s", resp.StatusCode, err, body)
	}
	if !strings.Contains(body, `"status":"healthy"`) || !strings.Contains(body, `"service":"awf-api-proxy"`) ||
		h.SquidProxy != r.fwd.URL || !h.Providers["openai"] || h.MetricsSummary["total_requests"] != 2 {
		t.Errorf("health body: %s", body)
	}
	_, body = r.do("anthropic", "GET", "/health", nil, nil)
	want(t, strings.TrimSpace(body), `{"service":"awf-api-proxy-anthropic","status":"healthy"}`)

	_, body = r.do("openai", "GET", "/metrics", nil, nil)
	var m struct {
		Counters   map[string]float64
		Histograms map[string]map[string]map[string]any
		Gauges     map[string]any
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("metrics json: %v %s", err, body)
	}
	if m.Counters["requests_total:openai:POST:2xx"] != 1 || m.Counters["requests_total:anthropic:POST:2xx"] != 1 {
		t.Errorf("counters: %v", m.Counters)
	}
	hist := m.Histograms["request_duration_ms"]["openai"]
	if hist["count"].(float64) != 1 || hist["p50"] == nil || hist["buckets"].(map[string]any)["+Inf"].(float64) != 1 {
		t.Errorf("histogram: %v", hist)
	}
	if _, ok := m.Gauges["uptime_seconds"]; !ok {
		t.Errorf("gauges: %v", m.Gauges)
	}
	// Prometheus scrapers get the text exposition.
	resp, body = r.do("openai", "GET", "/metrics", nil, map[string]string{"Accept": "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"})
	if !strings.Contains(body, `awf_api_proxy_requests_total{method="POST",provider="openai",status_class="2xx"} 1`) ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("prometheus exposition: %s", body)
	}
	// /metrics on other ports goes upstream, like the original.
	rec := r.up.Config.Handler.(*recorder)
	r.do("anthropic", "GET", "/metrics", nil, nil)
	want(t, rec.last(t).URL.Path, "/metrics")
}

func TestRejectsAbsoluteFormRequestTarget(t *testing.T) {
	rec := &recorder{}
	r := newRig(t, rec)
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.urls["openai"], "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET http://169.254.169.254/latest/meta-data HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(b), "URL must be a relative path") {
		t.Errorf("got %d %s", resp.StatusCode, b)
	}
	if rec.count() != 0 {
		t.Error("request reached upstream")
	}
}

func TestBodyLimit(t *testing.T) {
	rec := &recorder{}
	r := newRig(t, rec)
	// Declared too large: refused before a byte goes upstream.
	req, _ := http.NewRequest("POST", r.urls["openai"]+"/v1/files", io.LimitReader(zeros{}, MaxBodyBytes+1))
	req.ContentLength = MaxBodyBytes + 1
	resp, err := client.Do(req)
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 413 || !strings.Contains(string(b), "Request body exceeds 10 MB limit") {
			t.Errorf("declared oversize: %d %s", resp.StatusCode, b)
		}
	}
	if rec.count() != 0 {
		t.Errorf("oversized declared body reached upstream")
	}
	// Chunked and crossing the limit: the upstream request is aborted.
	slowUp := &recorder{}
	r2 := newRig(t, slowUp)
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, 64<<10)
		for sent := 0; sent <= MaxBodyBytes+len(buf); sent += len(buf) {
			if _, err := pw.Write(buf); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, _ = http.NewRequest("POST", r2.urls["openai"]+"/v1/files", pr)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatalf("chunked oversize: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked oversize: %d %s", resp.StatusCode, b)
	}
	if n := slowUp.count(); n != 0 {
		t.Errorf("upstream handler completed %d oversized requests", n)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestLargeUploadStreamsWithLowMemory(t *testing.T) {
	const size = 9 << 20
	var got [32]byte
	var gotN int64
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		gotN, _ = io.Copy(h, r.Body)
		copy(got[:], h.Sum(nil))
		io.WriteString(w, "{}")
	})
	r := newRig(t, up)
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	wantSum := sha256.Sum256(payload)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	resp, _ := r.do("openai", "POST", "/v1/files", bytes.NewReader(payload), nil)
	runtime.ReadMemStats(&after)
	if resp.StatusCode != 200 || gotN != size || got != wantSum {
		t.Fatalf("upload: status %d, upstream got %d bytes, hash match %v", resp.StatusCode, gotN, got == wantSum)
	}
	// The test's own copy of the payload is allocated before the window;
	// inside it, client, proxy and upstream together stay well under the
	// body size: nothing buffers the whole body.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 6<<20 {
		t.Errorf("allocated %d MiB while relaying a 9 MiB upload", alloc>>20)
	}
}

func TestSSEEventsArriveAsTheyAreSent(t *testing.T) {
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "data: {\"n\":%d}\n\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(300 * time.Millisecond)
		}
	})
	r := newRig(t, up)
	start := time.Now()
	resp, err := client.Post(r.urls["openai"]+"/v1/chat/completions", "application/json", strings.NewReader(`{"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	first := time.Since(start)
	if err != nil || line != "data: {\"n\":0}\n" {
		t.Fatalf("first line %q %v", line, err)
	}
	rest, _ := io.ReadAll(br)
	total := time.Since(start)
	if first > 150*time.Millisecond || total < 800*time.Millisecond {
		t.Errorf("first event after %v, stream ended after %v: events are being buffered", first, total)
	}
	if strings.Count(string(rest), "data:") != 2 {
		t.Errorf("rest: %q", rest)
	}
}

func TestUpstreamFailuresGive502(t *testing.T) {
	t.Run("unreachable", func(t *testing.T) {
		r := newRig(t, nil)
		name, _ := testnet.AllocHost(t) // resolvable, nothing listening
		for _, p := range Providers {
			r.cfg.Targets[p.Name] = name
		}
		resp, body := r.do("openai", "POST", "/v1/chat/completions", strings.NewReader("{}"), nil)
		if resp.StatusCode != 502 || !strings.Contains(body, `"error":"Proxy error"`) {
			t.Errorf("got %d %s", resp.StatusCode, body)
		}
		if !strings.Contains(r.logs.String(), `"event":"request_error"`) {
			t.Error("no request_error log line")
		}
	})
	t.Run("reset", func(t *testing.T) {
		r := newRig(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.(*tls.Conn).NetConn().(*net.TCPConn).SetLinger(0)
			conn.Close()
		}))
		resp, body := r.do("openai", "POST", "/v1/chat/completions", strings.NewReader("{}"), nil)
		if resp.StatusCode != 502 {
			t.Errorf("got %d %s", resp.StatusCode, body)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		r := newRig(t, nil)
		name, addr := testnet.AllocHost(t)
		ln, err := net.Listen("tcp", addr+":443")
		if err != nil {
			t.Fatal(err)
		}
		s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t.Error("request reached a server with an untrusted certificate")
		}))
		s.Listener.Close()
		s.Listener = ln
		s.StartTLS() // httptest's own self-signed certificate
		defer s.Close()
		r.cfg.Targets["openai"] = name
		resp, body := r.do("openai", "GET", "/v1/models", nil, nil)
		if resp.StatusCode != 502 || !strings.Contains(body, "certificate") {
			t.Errorf("got %d %s", resp.StatusCode, body)
		}
	})
}

func TestUpstreamAuthErrorPassedThrough(t *testing.T) {
	r := newRig(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		io.WriteString(w, `{"error":{"message":"Incorrect API key provided"}}`)
	}))
	resp, body := r.do("openai", "GET", "/v1/models", nil, nil)
	if resp.StatusCode != 401 || !strings.Contains(body, "Incorrect API key") {
		t.Errorf("got %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(r.logs.String(), `"event":"upstream_auth_error"`) {
		t.Error("no upstream_auth_error log line")
	}
}

func TestConcurrentRequestsReuseTunnels(t *testing.T) {
	r := newRig(t, &recorder{})
	var wg sync.WaitGroup
	errs := make(chan string, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, err := client.Post(r.urls["openai"]+"/v1/chat/completions", "application/json", strings.NewReader(fmt.Sprintf(`{"i":%d}`, i)))
			if err != nil {
				errs <- err.Error()
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- resp.Status
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	tunnels := r.fwd.Tunnels.Load()
	for i := 0; i < 20; i++ {
		r.do("openai", "GET", "/v1/models", nil, nil)
	}
	if extra := r.fwd.Tunnels.Load() - tunnels; extra != 0 {
		t.Errorf("20 sequential requests opened %d new tunnels; want 0 (keep-alive)", extra)
	}
	if tunnels > 50 {
		t.Errorf("50 requests used %d tunnels", tunnels)
	}
}

func TestShutdownDrainsInFlightRequests(t *testing.T) {
	release := make(chan struct{})
	r := newRig(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "done")
	}))
	got := inBackground(func() (*http.Response, error) { return client.Get(r.urls["openai"] + "/v1/slow") })
	time.Sleep(200 * time.Millisecond)
	stopped := make(chan error, 1)
	go func() { stopped <- r.stop() }()
	time.Sleep(200 * time.Millisecond)
	select {
	case <-stopped:
		t.Fatal("Serve returned with a request in flight")
	default:
	}
	close(release)
	if b := <-got; b != "done" {
		t.Errorf("in-flight request got %q", b)
	}
	select {
	case <-stopped:
	case <-time.After(3 * time.Second):
		t.Fatal("Serve did not return after the drain")
	}
}
