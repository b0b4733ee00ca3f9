package egress

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/testnet"
)

func TestStreamingAndBodylessResponses(t *testing.T) {
	testnet.Require(t)
	release := make(chan struct{})
	up := testnet.NewPlainUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/events":
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: one\n\n")
			w.(http.Flusher).Flush()
			<-release
			io.WriteString(w, "data: two\n\n")
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		}
	}))
	p := startProxy(t, Config{Policy: mustPolicy(t, up.Name, "")})
	pu, _ := url.Parse("http://" + p.addr)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}, Timeout: 10 * time.Second}

	resp, err := client.Get("http://" + up.Name + "/events")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	first := make(chan string, 1)
	go func() { l, _ := br.ReadString('\n'); first <- l }()
	select {
	case l := <-first:
		if l != "data: one\n" {
			t.Errorf("first event %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first event was held back until the stream ended")
	}
	close(release)
	rest, _ := io.ReadAll(br)
	resp.Body.Close()
	if string(rest) != "\ndata: two\n\n" {
		t.Errorf("rest of stream %q", rest)
	}

	for _, c := range []struct {
		method, path string
		status       int
		body         string
	}{{"HEAD", "/", 200, ""}, {"GET", "/empty", 204, ""}, {"GET", "/", 200, "hello"}, {"HEAD", "/", 200, ""}} {
		req, _ := http.NewRequest(c.method, "http://"+up.Name+c.path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || string(b) != c.body {
			t.Errorf("%s %s: %d %q", c.method, c.path, resp.StatusCode, b)
		}
	}
}

func TestShutdown(t *testing.T) {
	testnet.Require(t)
	up := testnet.NewUpstream(t, http.HandlerFunc(sayHello))
	plain := testnet.NewPlainUpstream(t, http.HandlerFunc(sayHello))
	p := startProxy(t, Config{Policy: mustPolicy(t, up.Name+","+plain.Name, "")})

	// An idle keep-alive connection and a live tunnel.
	idle, ibr, resp := rawProxy(t, p.addr, "GET http://"+plain.Name+"/ HTTP/1.1\r\nHost: "+plain.Name+"\r\n\r\n")
	io.Copy(io.Discard, resp.Body)
	tun, _, resp := rawProxy(t, p.addr, "CONNECT "+up.Name+":443 HTTP/1.1\r\nHost: "+up.Name+":443\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	tc := tls.Client(tun, &tls.Config{ServerName: up.Name})
	tbr := bufio.NewReader(tc)
	ask := func() error {
		io.WriteString(tc, "GET / HTTP/1.1\r\nHost: "+up.Name+"\r\n\r\n")
		r, err := http.ReadResponse(tbr, nil)
		if err == nil {
			io.Copy(io.Discard, r.Body)
		}
		return err
	}
	if err := ask(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Shutdown(ctx) }()

	// The idle connection is closed at once.
	idle.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := ibr.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("idle connection: %v, want EOF", err)
	}
	// New connections are refused.
	time.Sleep(50 * time.Millisecond)
	if c, err := net.DialTimeout("tcp", p.addr, time.Second); err == nil {
		c.Close()
		t.Error("the listener still accepts")
	}
	// The tunnel lives through the grace period...
	if err := ask(); err != nil {
		t.Errorf("tunnel during grace: %v", err)
	}
	// ...and is cut when it ends.
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v", err)
	}
	if err := ask(); err == nil {
		t.Error("tunnel survived the deadline")
	}
	recs, _ := p.audit(t)
	if r := findRec(t, recs, up.Name+":443"); r["decision"] != "TCP_TUNNEL" || r["bytes_out"].(float64) == 0 {
		t.Errorf("tunnel record %v", r)
	}
}

func TestMaxConns(t *testing.T) {
	testnet.Require(t)
	plain := testnet.NewPlainUpstream(t, http.HandlerFunc(sayHello))
	p := startProxy(t, Config{Policy: mustPolicy(t, plain.Name, ""), MaxConns: 2})
	req := "GET http://" + plain.Name + "/ HTTP/1.1\r\nHost: " + plain.Name + "\r\n\r\n"
	a, _, _ := rawProxy(t, p.addr, req)
	rawProxy(t, p.addr, req)
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, req)
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	br := bufio.NewReader(c)
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("a third connection was served with MaxConns 2")
	}
	a.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after a slot freed: %v", err)
	}
}

func TestLogWriterDropsInsteadOfBlocking(t *testing.T) {
	l, err := openLogs(t.TempDir(), 1)
	if err != nil {
		t.Fatal(err)
	}
	e := &Entry{Start: time.Now(), Method: "GET", URL: strings.Repeat("x", 10)}
	start := time.Now()
	for range 10000 {
		l.add(e)
	}
	if time.Since(start) > time.Second {
		t.Error("add blocked")
	}
	l.close()
	before := l.Dropped.Load()
	l.add(e) // after close: dropped, no panic
	if l.Dropped.Load() != before+1 {
		t.Error("entry after close not counted as dropped")
	}
}

func TestExpectContinue(t *testing.T) {
	testnet.Require(t)
	up := testnet.NewPlainUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		io.WriteString(w, "got "+strconv.FormatInt(n, 10))
	}))
	p := startProxy(t, Config{Policy: mustPolicy(t, up.Name, "")})
	file := filepath.Join(t.TempDir(), "body")
	os.WriteFile(file, []byte(strings.Repeat("x", 200000)), 0o644)
	start := time.Now()
	code, _, body := curl(t, p.addr, "-H", "Expect: 100-continue", "--data-binary", "@"+file, "http://"+up.Name+"/")
	if code != "200" || body != "got 200000" {
		t.Errorf("POST: %s %q", code, body)
	}
	if d := time.Since(start); d > 800*time.Millisecond {
		t.Errorf("POST with Expect took %v: the client waited for 100 Continue", d)
	}
}

func TestForwardedHeaders(t *testing.T) {
	testnet.Require(t)
	up := testnet.NewPlainUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "ua=%q xff=%q via=%q conn=%q auth=%q x=%q", r.UserAgent(), r.Header.Get("X-Forwarded-For"),
			r.Header.Get("Via"), r.Header.Get("Connection"), r.Header.Get("Proxy-Authorization"), r.Header.Get("X-Keep"))
	}))
	p := startProxy(t, Config{Policy: mustPolicy(t, up.Name, "")})
	_, _, resp := rawProxy(t, p.addr, "GET http://"+up.Name+"/ HTTP/1.1\r\nHost: "+up.Name+"\r\nX-Forwarded-For: 10.9.9.9\r\n"+
		"Proxy-Authorization: Basic eA==\r\nConnection: keep-alive, X-Drop\r\nX-Drop: 1\r\nX-Keep: yes\r\n\r\n")
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1000))
	want := `ua="" xff="" via="" conn="" auth="" x="yes"`
	if string(b) != want {
		t.Errorf("upstream saw %s, want %s", b, want)
	}
}
