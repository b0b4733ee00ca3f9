package usage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// These tests run the trackers on real loopback sockets against real
// servers: the server compresses and flushes as a streaming API does, the
// client tees the raw body as the proxy will.

func TestTrackerOverHTTP(t *testing.T) {
	c := counts{in: 3000, out: 700, cacheRead: 2048, cacheWrite: 512}
	body := anthropicSSE("claude-sonnet-4-5-20250929", c, textPieces(11, 300))
	want := Usage{Found: true, Model: "claude-sonnet-4-5-20250929", InputTokens: c.in, OutputTokens: c.out, CacheReadTokens: c.cacheRead, CacheWriteTokens: c.cacheWrite}
	for _, enc := range encoders {
		if enc.name == "gzip-then-br" {
			continue // chained codings: covered by TestTrackerFixtures
		}
		t.Run(enc.name, func(t *testing.T) {
			var sent bytes.Buffer
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				w.Header().Set("Content-Encoding", enc.header)
				out := io.MultiWriter(w, &sent)
				fw := newFlushingWriter(enc.name, out)
				for _, ev := range sseEvents(body) {
					if fw == nil {
						out.Write(ev)
					} else {
						fw.Write(ev)
						fw.Flush()
					}
					w.(http.Flusher).Flush()
				}
				if fw != nil {
					fw.Close()
				}
			}))
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
			resp, err := client.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			tr := NewTracker("anthropic", resp.Header)
			got, err := io.ReadAll(io.TeeReader(resp.Body, tr))
			if err != nil {
				t.Fatal(err)
			}
			u := tr.Finish()
			if !bytes.Equal(got, sent.Bytes()) {
				t.Error("client bytes differ from what the server sent")
			}
			if u != want {
				t.Errorf("usage = %+v\nwant    %+v", u, want)
			}
		})
	}
}

// teeConn shows the tracker every byte the client reads, 101 head included.
type teeConn struct {
	net.Conn
	w io.Writer
}

func (c teeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.w.Write(p[:n])
	return n, err
}

func TestWSTrackerRealServer(t *testing.T) {
	c := counts{in: 48211, out: 2210, cacheRead: 45056}
	msgs := responsesEvents("gpt-5-codex", c, textPieces(5, 200))
	want := Usage{Found: true, Model: "gpt-5-codex", InputTokens: c.in, OutputTokens: c.out, CacheReadTokens: c.cacheRead}
	for _, mode := range []websocket.CompressionMode{websocket.CompressionDisabled, websocket.CompressionNoContextTakeover, websocket.CompressionContextTakeover} {
		t.Run(map[websocket.CompressionMode]string{0: "none", 1: "no-takeover", 2: "takeover"}[mode], func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: mode, CompressionThreshold: 1})
				if err != nil {
					return
				}
				ctx := r.Context()
				for _, m := range msgs {
					if err := conn.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
						return
					}
				}
				conn.Close(websocket.StatusNormalClosure, "done")
			}))
			defer srv.Close()

			tr := NewWSTracker("openai")
			dialer := &net.Dialer{}
			hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, n, a string) (net.Conn, error) {
				conn, err := dialer.DialContext(ctx, n, a)
				if err != nil {
					return nil, err
				}
				return teeConn{conn, tr}, nil
			}}}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{HTTPClient: hc, CompressionMode: mode})
			if err != nil {
				t.Fatal(err)
			}
			if ext := resp.Header.Get("Sec-WebSocket-Extensions"); (mode != websocket.CompressionDisabled) != strings.Contains(ext, "permessage-deflate") {
				t.Fatalf("negotiated extensions %q for mode %v", ext, mode)
			}
			for {
				_, _, err := conn.Read(ctx)
				if err != nil {
					if websocket.CloseStatus(err) != websocket.StatusNormalClosure && !errors.Is(err, io.EOF) {
						t.Fatal(err)
					}
					break
				}
			}
			u := tr.Finish()
			if u != want {
				t.Errorf("usage = %+v\nwant    %+v", u, want)
			}
			if compressed := mode != websocket.CompressionDisabled; compressed != (tr.inflated > 0) {
				t.Errorf("inflated %d messages in mode %v", tr.inflated, mode)
			}
		})
	}
}
