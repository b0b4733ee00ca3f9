package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// stats is the outcome of one load phase.
type stats struct {
	ops, errs int64
	elapsed   time.Duration
	p50, p99  time.Duration
	firstErr  error
	proxyCPU  time.Duration // CPU the proxy process used during the phase
}

func (s stats) cpuPerOp() float64 { return float64(s.proxyCPU.Microseconds()) / float64(s.ops) }

func (s stats) rate() float64 { return float64(s.ops) / s.elapsed.Seconds() }

// clientDialer spreads client connections over source addresses so that a
// long run does not run out of ephemeral ports on one address pair.
func clientDialer(w int) *net.Dialer {
	return &net.Dialer{Timeout: 10 * time.Second,
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+w/250), byte(2+w%250))}}
}

// runPhase runs op on conc workers for d (and at most maxOps operations in
// all); op does one operation and returns its error.
func runPhase(conc int, d time.Duration, maxOps int64, op func(w int, st *workerState) error) stats {
	var ops, errs atomic.Int64
	var mu sync.Mutex
	var lats []time.Duration
	var firstErr error
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := &workerState{}
			defer st.close()
			var mine []time.Duration
			for time.Now().Before(deadline) && ops.Load() < maxOps {
				t0 := time.Now()
				if err := op(w, st); err != nil {
					errs.Add(1)
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					st.close()
					time.Sleep(10 * time.Millisecond)
					continue
				}
				ops.Add(1)
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	s := stats{ops: ops.Load(), errs: errs.Load(), elapsed: time.Since(start), firstErr: firstErr}
	if len(lats) > 0 {
		slices.Sort(lats)
		s.p50, s.p99 = lats[len(lats)/2], lats[len(lats)*99/100]
	}
	return s
}

// workerState is a worker's kept-alive connection, if any.
type workerState struct {
	conn net.Conn
	br   *bufio.Reader
}

func (st *workerState) close() {
	if st.conn != nil {
		st.conn.Close()
		st.conn, st.br = nil, nil
	}
}

// openTunnel sends CONNECT target through the proxy and returns the
// connection once the proxy answered 200.
func openTunnel(proxy, target string, w int) (net.Conn, error) {
	c, err := clientDialer(w).Dial("tcp", proxy)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: awf-bench\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != 200 {
		c.Close()
		return nil, fmt.Errorf("CONNECT %s: %s", target, resp.Status)
	}
	if br.Buffered() > 0 {
		c.Close()
		return nil, errors.New("proxy sent bytes after the CONNECT reply")
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// get sends one request on a kept-alive connection and reads the answer.
func get(c net.Conn, br *bufio.Reader, reqLine string) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, reqLine); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("status %s", resp.Status)
	}
	return err
}

// newTunnelOp: a new TCP connection, CONNECT, full TLS handshake and one
// request, every time.
func newTunnelOp(proxy, host string, cfg *tls.Config) func(int, *workerState) error {
	req := "GET / HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: awf-bench\r\n\r\n"
	return func(w int, st *workerState) error {
		c, err := openTunnel(proxy, host+":443", w)
		if err != nil {
			return err
		}
		defer c.Close()
		tc := tls.Client(c, cfg)
		if err := tc.Handshake(); err != nil {
			return err
		}
		return get(tc, bufio.NewReader(tc), req)
	}
}

// keepAliveTunnelOp: one request on the worker's long-lived TLS tunnel.
func keepAliveTunnelOp(proxy, host string, cfg *tls.Config) func(int, *workerState) error {
	req := "GET / HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: awf-bench\r\n\r\n"
	return func(w int, st *workerState) error {
		if st.conn == nil {
			c, err := openTunnel(proxy, host+":443", w)
			if err != nil {
				return err
			}
			tc := tls.Client(c, cfg)
			if err := tc.Handshake(); err != nil {
				c.Close()
				return err
			}
			st.conn, st.br = tc, bufio.NewReader(tc)
		}
		return get(st.conn, st.br, req)
	}
}

// forwardOp: one absolute-form plain HTTP request on a kept-alive proxy
// connection.
func forwardOp(proxy, host string) func(int, *workerState) error {
	req := "GET http://" + host + "/ HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: awf-bench\r\n\r\n"
	return func(w int, st *workerState) error {
		if st.conn == nil {
			c, err := clientDialer(w).Dial("tcp", proxy)
			if err != nil {
				return err
			}
			st.conn, st.br = c, bufio.NewReader(c)
		}
		return get(st.conn, st.br, req)
	}
}

// bulk downloads size bytes through one CONNECT tunnel to the raw bulk
// server (plain HTTP inside the tunnel) and returns bytes per second.
func bulk(proxy, host string, size int64) (float64, error) {
	c, err := openTunnel(proxy, host+":80", 0)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /bulk HTTP/1.1\r\nHost: %s\r\nX-Size: %d\r\n\r\n", host, size)
	br := bufio.NewReaderSize(c, 1<<20)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	c.SetDeadline(start.Add(60 * time.Second))
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != size {
		return 0, fmt.Errorf("bulk: %d of %d bytes: %v", n, size, err)
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
