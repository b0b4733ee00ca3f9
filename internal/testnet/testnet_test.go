package testnet

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

func TestUpstreamThroughForwardProxy(t *testing.T) {
	Require(t)
	up := NewUpstreamFor(t, "api.openai.com", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.Host)
	}))
	fp := NewForwardProxy(t)
	pu, _ := url.Parse(fp.URL)
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}}
	for i := 0; i < 3; i++ {
		resp, err := c.Get("https://api.openai.com/v1/models")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "hello api.openai.com" {
			t.Fatalf("got %q", b)
		}
	}
	if n := fp.Tunnels.Load(); n != 1 {
		t.Errorf("tunnels = %d, want 1 (keep-alive)", n)
	}
	_ = up
}

func TestNoRouteOut(t *testing.T) {
	Require(t)
	start := time.Now()
	_, err := net.DialTimeout("tcp", "192.0.2.1:443", 2*time.Second)
	if err == nil {
		t.Fatal("dial outside the test network succeeded")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("dial failed slowly (%v): %v", d, err)
	}
}
