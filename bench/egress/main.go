// Command egress benchmarks awf's egress proxy against Squid, both run on
// loopback inside a private network namespace with the same allowlist:
//
//	go run ./bench/egress [-duration 5s] [-conc 64] [-bulk 2GiB]
//
// It must run as root (it enters its own namespaces; no packet leaves).
package main

import (
	"bufio"
	"cmp"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/awf-dev/awf/internal/domains"
	"github.com/awf-dev/awf/internal/egress"
	"github.com/awf-dev/awf/internal/testnet"
)

var (
	duration = flag.Duration("duration", 5*time.Second, "length of each load phase")
	conc     = flag.Int("conc", 64, "concurrent clients")
	bulkSize = flag.Int64("bulk", 2<<30, "bytes moved through the bulk tunnel")
	maxOps   = flag.Int64("max-ops", 5_000_000, "cap on operations per phase")
	only     = flag.String("only", "", "run only the phases whose name contains this")
	rounds   = flag.Int("rounds", 3, "rounds of every phase on every proxy")
	serveAWF = flag.String("serve-awf", "", "internal: run awf's proxy on this address (child process)")
	allowArg = flag.String("allow", "", "internal: allowlist for -serve-awf")
	logDir   = flag.String("log-dir", "", "internal: log directory for -serve-awf")
)

func main() {
	flag.Parse()
	if *serveAWF != "" {
		if err := runAWF(*serveAWF, *allowArg, *logDir); err != nil {
			fmt.Fprintln(os.Stderr, "awf proxy:", err)
			os.Exit(1)
		}
		return
	}
	if !testnet.Enter() {
		fmt.Fprintln(os.Stderr, "bench/egress needs root: it runs in its own network namespace")
		os.Exit(2)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// runAWF is the child process: awf's proxy alone, so its RSS is its own.
func runAWF(addr, allow, dir string) error {
	p, err := domains.Compile(domains.SplitList(allow), nil)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if f := os.Getenv("AWF_BENCH_CPUPROFILE"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(out)
		defer pprof.StopCPUProfile()
	}
	return egress.ListenAndServe(ctx, egress.Config{Policy: p, LogDir: dir}, egress.Addrs{Proxy: addr})
}

var (
	tlsHost  = testnet.HostName(1) // TLS upstream, port 443
	bulkHost = testnet.HostName(2) // raw bulk sender, port 80
	httpHost = testnet.HostName(3) // plain HTTP upstream, port 80
	allow    = []string{tlsHost, bulkHost, httpHost}
)

// Only X25519: every new tunnel pays one full, cheap handshake, the same for
// both proxies. The upstream issues session tickets, used only by the
// resumed-session phase.
var curves = []tls.CurveID{tls.X25519}

func startUpstreams() error {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	ln, err := net.Listen("tcp", testnet.HostAddr(1).String()+":443")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: ok, TLSConfig: &tls.Config{Certificates: []tls.Certificate{testnet.TestCA().Leaf(tlsHost)},
		CurvePreferences: curves}, ErrorLog: nil}
	go srv.ServeTLS(ln, "", "")
	ln, err = net.Listen("tcp", testnet.HostAddr(3).String()+":80")
	if err != nil {
		return err
	}
	go (&http.Server{Handler: ok}).Serve(ln)
	ln, err = net.Listen("tcp", testnet.HostAddr(2).String()+":80")
	if err != nil {
		return err
	}
	go serveBulk(ln)
	return nil
}

// serveBulk answers each request with X-Size bytes, written in 1 MiB
// chunks.
func serveBulk(ln net.Listener) {
	buf := make([]byte, 1<<20)
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			req, err := http.ReadRequest(bufio.NewReader(c))
			if err != nil {
				return
			}
			size, _ := strconv.ParseInt(req.Header.Get("X-Size"), 10, 64)
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size)
			for size > 0 {
				n := min(size, int64(len(buf)))
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
				size -= n
			}
		}()
	}
}

func sysctl(path, val string) { os.WriteFile("/proc/sys/"+path, []byte(val), 0o644) }

func waitListening(addr string) error {
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on %s", addr)
}

// rss reads VmRSS and VmHWM (peak) of pid, in MiB.
func rss(pid int) (cur, peak float64) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 {
			kb, _ := strconv.ParseFloat(f[1], 64)
			switch f[0] {
			case "VmRSS:":
				cur = kb / 1024
			case "VmHWM:":
				peak = kb / 1024
			}
		}
	}
	return
}

// target is one proxy under test.
type target struct {
	name, addr string
	pid        int
	rssIdle    float64
	res        map[string][]stats
	bulk       []float64
}

// phases are the load shapes, each run on every proxy in turn.
var phases = []struct {
	name string
	op   func(addr string, cfg *tls.Config) func(int, *workerState) error
}{
	{"new tunnels", func(a string, c *tls.Config) func(int, *workerState) error { return newTunnelOp(a, tlsHost, c) }},
	// Clients that talk to one host again resume their TLS session: each
	// tunnel is still a new TCP connection, CONNECT and TLS handshake, but the
	// handshake has no public-key work, so the clients and upstream spend far
	// less CPU and the proxies' own cost per tunnel shows.
	{"new tunnels, resumed TLS session", func(a string, c *tls.Config) func(int, *workerState) error {
		rc := c.Clone()
		rc.MaxVersion = tls.VersionTLS12 // TLS 1.3 resumption still runs X25519
		rc.ClientSessionCache = tls.NewLRUClientSessionCache(64)
		return newTunnelOp(a, tlsHost, rc)
	}},
	{"kept-alive tunnel requests", func(a string, c *tls.Config) func(int, *workerState) error { return keepAliveTunnelOp(a, tlsHost, c) }},
	{"HTTP forwarding", func(a string, _ *tls.Config) func(int, *workerState) error { return forwardOp(a, httpHost) }},
}

// measure runs every phase -rounds times, alternating the proxies within
// each round, so that load from elsewhere on the machine falls on both.
func measure(ts []*target) error {
	cfg := &tls.Config{ServerName: tlsHost, RootCAs: testnet.TestCA().Pool(), CurvePreferences: curves}
	for _, t := range ts {
		if err := waitListening(t.addr); err != nil {
			return err
		}
		if err := newTunnelOp(t.addr, tlsHost, cfg)(0, &workerState{}); err != nil {
			return fmt.Errorf("%s: warm-up: %w", t.name, err)
		}
		t.rssIdle, _ = rss(t.pid)
		t.res = map[string][]stats{}
	}
	// Under load the client skips certificate verification (checked once
	// above): it costs the client CPU that the proxies would otherwise get,
	// and it is the same work whichever proxy is measured.
	cfg = &tls.Config{ServerName: tlsHost, InsecureSkipVerify: true, CurvePreferences: curves}
	for r := range *rounds {
		for _, ph := range phases {
			if *only != "" && !strings.Contains(ph.name, *only) {
				continue
			}
			for i := range ts {
				t := ts[(i+r)%len(ts)]
				fmt.Fprintf(os.Stderr, "round %d: %s: %s\n", r+1, t.name, ph.name)
				c0 := cpuTime(t.pid)
				st := runPhase(*conc, *duration, *maxOps, ph.op(t.addr, cfg))
				st.proxyCPU = cpuTime(t.pid) - c0
				t.res[ph.name] = append(t.res[ph.name], st)
				time.Sleep(200 * time.Millisecond)
			}
		}
		for i := range ts {
			t := ts[(i+r)%len(ts)]
			bps, err := bulk(t.addr, bulkHost, *bulkSize)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			t.bulk = append(t.bulk, bps)
		}
	}
	return nil
}

func run() error {
	sysctl("net/ipv4/ip_local_port_range", "1024 65535")
	sysctl("net/ipv4/tcp_tw_reuse", "1")
	if err := startUpstreams(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "awf-bench-logs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir) // runs last, after the awf child stopped
	a := &target{name: "awf", addr: "127.0.0.1:3128"}
	awf := exec.Command("/proc/self/exe", "-serve-awf", a.addr, "-allow", strings.Join(allow, ","), "-log-dir", dir)
	awf.Stderr = os.Stderr
	if err := awf.Start(); err != nil {
		return err
	}
	defer func() { awf.Process.Signal(syscall.SIGTERM); awf.Wait() }()
	a.pid = awf.Process.Pid
	s := &target{name: "squid", addr: "127.0.0.1:3129"}
	squid, sdir, err := startSquid(s.addr, allow)
	if err != nil {
		return err
	}
	ok := false
	defer func() { // after squid stopped; its cache.log stays when something failed
		if ok {
			os.RemoveAll(sdir)
		}
	}()
	defer func() { squid.Process.Signal(syscall.SIGTERM); squid.Wait() }()
	s.pid = squid.Process.Pid
	if err := measure([]*target{a, s}); err != nil {
		return fmt.Errorf("%w (squid log: %s/cache.log)", err, sdir)
	}
	report(a, s)
	ok = true
	return nil
}

// median picks the run with the median rate.
func median(xs []stats) stats {
	ys := slices.Clone(xs)
	slices.SortFunc(ys, func(a, b stats) int { return cmp.Compare(a.rate(), b.rate()) })
	return ys[len(ys)/2]
}

func medianF(xs []float64) float64 {
	ys := slices.Clone(xs)
	slices.Sort(ys)
	return ys[len(ys)/2]
}

func report(a, s *target) {
	fmt.Printf(`Method: one private network namespace, everything on loopback; TLS upstream %s:443
(ECDSA P-256, TLS 1.3, X25519; no resumption except in the resumed phase (TLS 1.2 tickets); the client verifies the chain only in warm-up), plain upstream %s:80, raw bulk sender %s:80.
awf runs as a child process (egress.ListenAndServe, access.log + audit.jsonl written);
Squid %s runs as 'squid -N' with the original's generated config (same allowlist, both logs).
Both run side by side; each phase runs on one proxy at a time, alternating, %d rounds; the
table shows the median round. Load: %d concurrent clients for %s per phase; clients and
upstreams live in the benchmark process, on the same %d CPUs as the proxies.
  new tunnels:  TCP connect + CONNECT + full TLS handshake + 1 request, new connection each time
  resumed:      the same with a resumed TLS 1.2 session (no public-key work in the handshake)
  kept-alive:   requests on a long-lived TLS connection inside one CONNECT tunnel per client
  forwarding:   absolute-form plain HTTP requests on kept-alive proxy connections
  bulk:         one CONNECT tunnel (port 80), %d MiB downstream
Proxy CPU per op is the proxy process's user+system time over the phase: it includes loopback
network processing the kernel charges to whoever runs, so it is indicative only.
`, tlsHost, httpHost, bulkHost, squidVersion(), *rounds, *conc, *duration, runtime.NumCPU(), *bulkSize>>20)
	fmt.Printf("\n| metric | awf | squid | awf/squid |\n|---|---|---|---|\n")
	for _, ph := range phases {
		if len(a.res[ph.name]) == 0 {
			continue
		}
		x, y := median(a.res[ph.name]), median(s.res[ph.name])
		fmt.Printf("| %s (ops/s) | %.0f | %.0f | %.2fx |\n", ph.name, x.rate(), y.rate(), x.rate()/y.rate())
		fmt.Printf("| %s, proxy CPU per op (µs) | %.1f | %.1f | %.2fx |\n", ph.name, x.cpuPerOp(), y.cpuPerOp(), x.cpuPerOp()/y.cpuPerOp())
		fmt.Printf("| %s p50 / p99 (ms) | %.2f / %.2f | %.2f / %.2f | |\n", ph.name,
			ms(x.p50), ms(x.p99), ms(y.p50), ms(y.p99))
		var ea, es int64
		for i := range a.res[ph.name] {
			ea += a.res[ph.name][i].errs
			es += s.res[ph.name][i].errs
		}
		if ea+es > 0 {
			fmt.Printf("| %s errors, all rounds | %d | %d | |\n", ph.name, ea, es)
		}
	}
	ba, bs := medianF(a.bulk), medianF(s.bulk)
	fmt.Printf("| bulk, one tunnel (MiB/s) | %.0f | %.0f | %.2fx |\n", ba/(1<<20), bs/(1<<20), ba/bs)
	ra, ha := rss(a.pid)
	rs, hs := rss(s.pid)
	fmt.Printf("| RSS idle (MiB) | %.1f | %.1f | |\n", a.rssIdle, s.rssIdle)
	fmt.Printf("| RSS at the end (MiB) | %.1f | %.1f | |\n", ra, rs)
	fmt.Printf("| peak RSS (MiB) | %.1f | %.1f | |\n", ha, hs)
}

// cpuTime is the user+system CPU time pid has used.
func cpuTime(pid int) time.Duration {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * time.Second / 100 // USER_HZ
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func squidVersion() string {
	out, err := exec.Command("squid", "-v").Output()
	if err != nil {
		return "?"
	}
	f := strings.Fields(strings.SplitN(string(out), "\n", 2)[0])
	return f[len(f)-1]
}
