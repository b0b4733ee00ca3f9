package testnet

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// Upstream is a fake provider: a real TLS (or plain HTTP) server on port 443
// (or 80) of a test address, with a certificate from the test CA.
type Upstream struct {
	*httptest.Server
	Name string // host name, resolvable through the private /etc/hosts
	Addr string // its IP
}

var hostSlots struct {
	sync.Mutex
	used [NumHosts + 1]bool
}

// AllocHost reserves a free generic host upN.test for the life of t.
func AllocHost(t testing.TB) (name, addr string) {
	t.Helper()
	hostSlots.Lock()
	defer hostSlots.Unlock()
	for i := 1; i <= NumHosts; i++ {
		if !hostSlots.used[i] {
			hostSlots.used[i] = true
			t.Cleanup(func() {
				hostSlots.Lock()
				hostSlots.used[i] = false
				hostSlots.Unlock()
			})
			return HostName(i), HostAddr(i).String()
		}
	}
	t.Fatal("testnet: out of test hosts")
	return "", ""
}

// NewUpstream starts a TLS upstream on a fresh generic host.
func NewUpstream(t testing.TB, h http.Handler) *Upstream {
	t.Helper()
	name, addr := AllocHost(t)
	return startUpstream(t, name, addr, 443, h, true)
}

// NewUpstreamFor starts a TLS upstream on port 443 for a provider name
// (one of Providers). Tests using the same name must not run in parallel.
func NewUpstreamFor(t testing.TB, name string, h http.Handler) *Upstream {
	t.Helper()
	addr, ok := Providers[name]
	if !ok {
		t.Fatalf("testnet: %q is not a provider host", name)
	}
	return startUpstream(t, name, addr, 443, h, true)
}

// NewPlainUpstream starts a plain HTTP upstream on port 80 of a fresh host.
func NewPlainUpstream(t testing.TB, h http.Handler) *Upstream {
	t.Helper()
	name, addr := AllocHost(t)
	return startUpstream(t, name, addr, 80, h, false)
}

// NewUpstreamOn starts a server for name on addr:port; tls chooses HTTPS.
func NewUpstreamOn(t testing.TB, name, addr string, port int, h http.Handler, useTLS bool) *Upstream {
	t.Helper()
	return startUpstream(t, name, addr, port, h, useTLS)
}

func startUpstream(t testing.TB, name, addr string, port int, h http.Handler, useTLS bool) *Upstream {
	t.Helper()
	Require(t)
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, fmt.Sprint(port)))
	if err != nil {
		t.Fatalf("testnet: listen for %s: %v", name, err)
	}
	s := httptest.NewUnstartedServer(h)
	s.Listener.Close()
	s.Listener = ln
	if useTLS {
		s.TLS = &tls.Config{Certificates: []tls.Certificate{TestCA().Leaf(name)}}
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return &Upstream{Server: s, Name: name, Addr: addr}
}

// ForwardProxy is a minimal CONNECT proxy on loopback, standing in for the
// egress proxy where a test wants the api-proxy alone. It counts tunnels so
// tests can see whether connections are reused.
type ForwardProxy struct {
	URL     string
	Tunnels atomic.Int64
	ln      net.Listener
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]bool
}

// NewForwardProxy starts a CONNECT proxy on 127.0.0.1.
func NewForwardProxy(t testing.TB) *ForwardProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &ForwardProxy{URL: "http://" + ln.Addr().String(), ln: ln, conns: map[net.Conn]bool{}}
	srv := &http.Server{Handler: http.HandlerFunc(p.serve)}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *ForwardProxy) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	up, err := net.Dial("tcp", r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	p.Tunnels.Add(1)
	w.WriteHeader(http.StatusOK)
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		return
	}
	p.mu.Lock()
	p.conns[conn], p.conns[up] = true, true
	p.mu.Unlock()
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		if n := rw.Reader.Buffered(); n > 0 {
			b, _ := rw.Reader.Peek(n)
			up.Write(b)
		}
		io.Copy(up, conn)
		up.(*net.TCPConn).CloseWrite()
	}()
	go func() {
		defer p.wg.Done()
		io.Copy(conn, up)
		conn.Close()
		up.Close()
		p.mu.Lock()
		delete(p.conns, conn)
		delete(p.conns, up)
		p.mu.Unlock()
	}()
}
