package inspect

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/awf-dev/awf/internal/testnet"
)

// fakeHook blocks paths under /deny and tags every request it sees.
type fakeHook struct{ seen atomic.Int64 }

func (*fakeHook) Name() string           { return "fake" }
func (*fakeHook) Inspects(h string) bool { return h == "example.test" }
func (f *fakeHook) Request(r *http.Request, host string) *Block {
	f.seen.Add(1)
	r.Header.Set("X-Hooked", host)
	if r.URL.Path == "/scan" && r.Body != nil {
		r.Body = &scanBody{ReadCloser: r.Body}
	}
	if strings.HasPrefix(r.URL.Path, "/deny") {
		b := &Block{Rule: "fake-rule", Reason: "path is denied"}
		if r.URL.Query().Has("secret") {
			b.LogURL = "https://" + host + r.URL.Path + "?secret=REDACTED"
		}
		return b
	}
	return nil
}

// scanBody passes the body on until it sees "SECRET", then refuses it.
type scanBody struct {
	io.ReadCloser
	seen []byte
}

func (s *scanBody) Read(p []byte) (int, error) {
	n, err := s.ReadCloser.Read(p)
	s.seen = append(s.seen, p[:n]...)
	if bytes.Contains(s.seen, []byte("SECRET")) {
		return 0, &Block{Rule: "fake-dlp", Reason: "secret in body"}
	}
	return n, err
}

type rig struct {
	in       *Inspector
	ca       *CA
	client   *http.Client
	addr     string
	records  chan *Record
	upstream *httptest.Server
}

// newRig starts an upstream (TLS from upCA, h2 enabled) and an inspector
// on loopback serving "example.test" whose every dial goes to the upstream.
func newRig(t *testing.T, h http.Handler, upCA *testnet.CA, roots *x509.CertPool, h2client bool) *rig {
	t.Helper()
	up := httptest.NewUnstartedServer(h)
	up.EnableHTTP2 = true
	up.TLS = &tls.Config{Certificates: []tls.Certificate{upCA.Leaf("example.test")}}
	up.StartTLS()
	t.Cleanup(up.Close)
	ca, err := NewCA(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{ca: ca, records: make(chan *Record, 100), upstream: up}
	var dials atomic.Int64
	r.in, err = New(Config{CA: ca, Hooks: []Hook{&fakeHook{}}, RootCAs: roots,
		Dial: func(ctx context.Context, host string, port uint16) (net.Conn, error) {
			dials.Add(1)
			var d net.Dialer
			return d.DialContext(ctx, "tcp", up.Listener.Addr().String())
		},
		Record: func(rec *Record) { r.records <- rec },
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait(); r.in.Close() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); defer c.Close(); r.in.Serve(c, "example.test", 443, ServeOptions{}) }()
		}
	}()
	r.addr = ln.Addr().String()
	pool := x509.NewCertPool()
	pool.AddCert(ca.Certificate())
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", r.addr)
		},
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: h2client,
	}
	if !h2client {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	t.Cleanup(tr.CloseIdleConnections)
	r.client = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	return r
}

func (r *rig) record(t *testing.T) *Record {
	t.Helper()
	select {
	case rec := <-r.records:
		return rec
	case <-time.After(5 * time.Second):
		t.Fatal("no record")
		return nil
	}
}

func echo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Up-Proto", r.Proto)
	w.Header().Set("X-Up-Host", r.Host)
	w.Header().Set("X-Up-Hooked", r.Header.Get("X-Hooked"))
	io.WriteString(w, r.Method+" "+r.URL.RequestURI())
}

func TestInspectProtocols(t *testing.T) {
	for _, tc := range []struct {
		name  string
		h2    bool
		proto int
	}{{"http1", false, 1}, {"h2", true, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, http.HandlerFunc(echo), testnet.TestCA(), testnet.TestCA().Pool(), tc.h2)
			resp, err := r.client.Get("https://example.test/a/b?q=1&r=%2F")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "GET /a/b?q=1&r=%2F" {
				t.Fatalf("got %d %q", resp.StatusCode, body)
			}
			if resp.ProtoMajor != tc.proto {
				t.Errorf("agent side spoke HTTP/%d, want %d", resp.ProtoMajor, tc.proto)
			}
			if got := resp.Header.Get("X-Up-Proto"); got != "HTTP/2.0" {
				t.Errorf("upstream side spoke %s, want HTTP/2.0", got)
			}
			if resp.Header.Get("X-Up-Host") != "example.test" || resp.Header.Get("X-Up-Hooked") != "example.test" {
				t.Errorf("host %q hooked %q", resp.Header.Get("X-Up-Host"), resp.Header.Get("X-Up-Hooked"))
			}
			rec := r.record(t)
			if rec.Method != "GET" || rec.URL != "https://example.test/a/b?q=1&r=%2F" || rec.Status != 200 || rec.Blocked || !rec.Dest.IsValid() {
				t.Errorf("record %+v", rec)
			}
			if rec.BytesOut != int64(len(body)) {
				t.Errorf("bytes out %d, want %d", rec.BytesOut, len(body))
			}
		})
	}
}

func TestInspectBlockSendsNothingUpstream(t *testing.T) {
	var hits atomic.Int64
	r := newRig(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { hits.Add(1) }),
		testnet.TestCA(), testnet.TestCA().Pool(), true)
	resp, err := r.client.Post("https://example.test/deny/x?y=2", "text/plain", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "fake-rule") || !strings.Contains(string(body), "path is denied") {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Awf-Deny-Reason") != "path is denied" {
		t.Errorf("deny header %q", resp.Header.Get("X-Awf-Deny-Reason"))
	}
	if hits.Load() != 0 {
		t.Errorf("upstream saw %d requests", hits.Load())
	}
	rec := r.record(t)
	if !rec.Blocked || rec.Rule != "fake-rule" || rec.Status != 403 || rec.Dest.IsValid() {
		t.Errorf("record %+v", rec)
	}
	// A hook may mask what it found in the URL: neither the record nor
	// the agent's error body carries it.
	resp, err = r.client.Get("https://example.test/deny?secret=ghp_canary123")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	rec = r.record(t)
	if strings.Contains(rec.URL, "canary") || strings.Contains(string(body), "canary") || !strings.Contains(rec.URL, "REDACTED") {
		t.Errorf("masked URL: record %q body %q", rec.URL, body)
	}
}

func TestInspectHostMismatch(t *testing.T) {
	r := newRig(t, http.HandlerFunc(echo), testnet.TestCA(), testnet.TestCA().Pool(), false)
	req, _ := http.NewRequest("GET", "https://example.test/", nil)
	req.Host = "other.test"
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("fronted Host got %d", resp.StatusCode)
	}
}

func TestInspectUpstreamCertificateVerified(t *testing.T) {
	other, err := testnet.NewCA() // trusted by nothing
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	r := newRig(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }), other, testnet.TestCA().Pool(), false)
	resp, err := r.client.Get("https://example.test/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 502 || !strings.Contains(string(body), "certificate verification failed") {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if hits.Load() != 0 {
		t.Error("a request reached the upstream with the bad certificate")
	}
	if rec := r.record(t); rec.Err == nil || rec.Status != 502 {
		t.Errorf("record %+v", rec)
	}
}

// Streaming both ways: the agent sees the first chunk while the upstream
// still holds the rest, and the upstream sees the first upload chunk while
// the agent still holds the rest (h2, full duplex).
func TestInspectStreams(t *testing.T) {
	release := make(chan struct{})
	r := newRig(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(req.Body, buf); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write(append([]byte("got "), buf...))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		io.Copy(io.Discard, req.Body)
		io.WriteString(w, " end")
	}), testnet.TestCA(), testnet.TestCA().Pool(), true)
	pr, pw := io.Pipe()
	go pw.Write([]byte("hello"))
	resp, err := r.client.Post("https://example.test/up", "text/plain", pr)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 9)
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "got hello" {
		t.Fatalf("first chunk %q %v", first, err)
	}
	close(release)
	pw.Write([]byte(" more"))
	pw.Close()
	rest, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(rest) != " end" {
		t.Fatalf("rest %q", rest)
	}
	if rec := r.record(t); rec.BytesIn != 10 {
		t.Errorf("bytes in %d", rec.BytesIn)
	}
}

func TestInspectWebSocket(t *testing.T) {
	r := newRig(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c, err := websocket.Accept(w, req, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, b, err := c.Read(req.Context())
			if err != nil {
				return
			}
			c.Write(req.Context(), typ, append([]byte("echo:"), b...))
		}
	}), testnet.TestCA(), testnet.TestCA().Pool(), false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "wss://example.test/ws?x=1", &websocket.DialOptions{HTTPClient: r.client})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		msg := bytes.Repeat([]byte{'a' + byte(i)}, 100*(i+1))
		if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
			t.Fatal(err)
		}
		_, b, err := c.Read(ctx)
		if err != nil || string(b) != "echo:"+string(msg) {
			t.Fatalf("echo %d: %q %v", i, b, err)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
	if rec := r.record(t); !rec.Upgrade || rec.Status != 101 || rec.URL != "https://example.test/ws?x=1" {
		t.Errorf("record %+v", rec)
	}
}

func TestLeafCache(t *testing.T) {
	ca, err := NewCA(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ca.SetCacheSize(2)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Certificate())
	for _, n := range []string{"a.test", "b.test", "a.test", "c.test", "a.test", "b.test"} {
		c, err := ca.Leaf(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Leaf.Verify(x509.VerifyOptions{DNSName: n, Roots: pool}); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
	}
	// a, b minted; a hit; c minted (evicts b); a hit; b minted again.
	if got := ca.Minted(); got != 4 {
		t.Errorf("minted %d, want 4", got)
	}
	if ca.Certificate().NotAfter.Sub(time.Now()) > time.Hour+time.Minute {
		t.Error("CA outlives its validity")
	}
	if !ca.Certificate().IsCA || !ca.Certificate().MaxPathLenZero {
		t.Error("CA constraints")
	}
	if bytes.Contains(ca.PEM(), []byte("PRIVATE")) {
		t.Error("PEM holds a key")
	}
}

// A body hook can refuse mid-stream: the agent gets its Block.
func TestInspectBodyHookBlocks(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		var got atomic.Int64
		r := newRig(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			b, _ := io.ReadAll(req.Body)
			got.Add(int64(len(b)))
			if bytes.Contains(b, []byte("SECRET")) {
				t.Error("the upstream saw the secret")
			}
		}), testnet.TestCA(), testnet.TestCA().Pool(), h2)
		pr, pw := io.Pipe()
		go func() {
			pw.Write(bytes.Repeat([]byte("x"), 1000))
			time.Sleep(50 * time.Millisecond)
			pw.Write([]byte("then a SECRET"))
			pw.Close()
		}()
		resp, err := r.client.Post("https://example.test/scan", "text/plain", pr)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || !strings.Contains(string(body), "fake-dlp") {
			t.Errorf("h2=%v: %d %q", h2, resp.StatusCode, body)
		}
		if rec := r.record(t); !rec.Blocked || rec.Rule != "fake-dlp" {
			t.Errorf("h2=%v: record %+v", h2, rec)
		}
	}
}
