// Command inspect measures what TLS inspection (--ssl-bump) costs at the
// egress proxy: requests per second through a tunnelled (spliced) host vs
// an inspected one, on loopback in a private network namespace.
//
//	go run ./bench/inspect [-duration 3s] [-conc 64] [-rounds 5]
//
// It must run as root (it enters its own namespaces; no packet leaves).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/awf-dev/awf/internal/domains"
	"github.com/awf-dev/awf/internal/egress"
	"github.com/awf-dev/awf/internal/inspect"
	"github.com/awf-dev/awf/internal/testnet"
)

var (
	duration = flag.Duration("duration", 3*time.Second, "length of each measured phase")
	conc     = flag.Int("conc", 64, "concurrent clients")
	rounds   = flag.Int("rounds", 5, "rounds of each mode (the median is reported)")
	body     = flag.Int("body", 1024, "response body bytes")
	maxReqs  = flag.Int64("max-reqs", 2_000_000, "cap on requests per phase")
	cpuProf  = flag.String("cpuprofile", "", "write a CPU profile of the whole run (clients, proxy, upstream) here")
)

func main() {
	flag.Parse()
	if !testnet.Enter() {
		fmt.Fprintln(os.Stderr, "bench/inspect needs root: it runs in its own network namespace")
		os.Exit(2)
	}
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// observe inspects every host and refuses nothing: the cost measured is the
// machinery's, not a policy's.
type observe struct{}

func (observe) Name() string                                 { return "observe" }
func (observe) Inspects(string) bool                         { return true }
func (observe) Request(*http.Request, string) *inspect.Block { return nil }

var host = testnet.HostName(1)

func run() error {
	payload := make([]byte, *body)
	ln, err := net.Listen("tcp", testnet.HostAddr(1).String()+":443")
	if err != nil {
		return err
	}
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(payload) }),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{testnet.TestCA().Leaf(host)}}}
	go up.ServeTLS(ln, "", "")
	defer up.Close()

	pol, err := domains.Compile([]string{host}, nil)
	if err != nil {
		return err
	}
	ca, err := inspect.NewCA(time.Hour)
	if err != nil {
		return err
	}
	roots := testnet.TestCA().Pool()
	roots.AddCert(ca.Certificate())
	modes := []struct {
		name string
		cfg  egress.Config
	}{
		{"tunnelled", egress.Config{Policy: pol}},
		{"inspected", egress.Config{Policy: pol, Inspect: egress.Inspect{CA: ca, Hooks: []inspect.Hook{observe{}}}}},
	}
	fmt.Printf("method: %d clients, each one keep-alive HTTP/1.1 connection through the explicit proxy (CONNECT) to\n", *conc)
	fmt.Printf("https://%s/ (%d-byte body) on loopback in a private netns; GOMAXPROCS=%d, NumCPU=%d; clients, proxy\n", host, *body, runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Printf("and upstream share the machine. Tunnelled: the proxy splices; inspected: it terminates the agent's TLS\n")
	fmt.Printf("(leaf cached) and re-originates verified TLS (HTTP/2 to the upstream). %d rounds of %s per mode,\n", *rounds, *duration)
	fmt.Printf("alternating, after a warm-up; the median round is reported. Plus a new-connection phase (one TLS\n")
	fmt.Printf("handshake per request, client side) for the cost of the extra handshake.\n\n")
	res := map[string][]float64{}
	fresh := map[string][]float64{}
	for r := 0; r <= *rounds; r++ {
		for _, m := range modes {
			rate, err := phase(m.cfg, roots, true, *duration)
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			frate, err := phase(m.cfg, roots, false, *duration/2)
			if err != nil {
				return fmt.Errorf("%s (new connections): %w", m.name, err)
			}
			if r == 0 {
				continue // warm-up
			}
			res[m.name] = append(res[m.name], rate)
			fresh[m.name] = append(fresh[m.name], frate)
		}
	}
	med := func(v []float64) float64 { s := slices.Clone(v); slices.Sort(s); return s[len(s)/2] }
	fmt.Printf("%-12s %14s %28s\n", "mode", "keep-alive r/s", "new connection per request r/s")
	for _, m := range modes {
		fmt.Printf("%-12s %14.0f %28.0f   rounds %v / %v\n", m.name, med(res[m.name]), med(fresh[m.name]), ints(res[m.name]), ints(fresh[m.name]))
	}
	k := med(res["tunnelled"]) / med(res["inspected"])
	f := med(fresh["tunnelled"]) / med(fresh["inspected"])
	fmt.Printf("\ninspection cost (tunnelled / inspected): keep-alive %.2fx, new connection per request %.2fx\n", k, f)
	return nil
}

func ints(v []float64) []int {
	var out []int
	for _, x := range v {
		out = append(out, int(x))
	}
	return out
}

// phase starts a proxy with cfg and runs conc clients for d.
func phase(cfg egress.Config, roots *x509.CertPool, keepAlive bool, d time.Duration) (float64, error) {
	s, err := egress.New(cfg)
	if err != nil {
		return 0, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	go s.ServeProxy(ln)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s.Shutdown(ctx)
		cancel()
	}()
	proxyURL := &url.URL{Scheme: "http", Host: ln.Addr().String()}
	var ops, errs atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: roots},
				MaxConnsPerHost: 1, DisableKeepAlives: !keepAlive, ForceAttemptHTTP2: false,
				TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			for time.Now().Before(deadline) && ops.Load() < *maxReqs {
				resp, err := c.Get("https://" + host + "/")
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				ops.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if e := errs.Load(); e > ops.Load()/100 {
		return 0, fmt.Errorf("%d errors (%d ok): %v", e, ops.Load(), firstErr.Load())
	}
	return float64(ops.Load()) / el.Seconds(), nil
}
