//go:build bench

// Package apiproxy_bench measures the API proxy against the direct path
// (client -> CONNECT forward proxy -> TLS upstream, keep-alive) in one run,
// on loopback inside a private network namespace. Run it with
//
//	sudo go test -tags bench -run Report -v -count=1 ./bench/apiproxy
//
// The proxy under test is the real binary (`awf api-proxy`) in its own
// process, so its RSS and CPU time are its own.
package apiproxy_bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/testnet"
)

func TestMain(m *testing.M) { testnet.Main(m) }

const key = "sk-bench-0123456789abcdefghijklmnop"

// bench holds the fixed parts of one run.
type bench struct {
	t      *testing.T
	bin    string
	up     *testnet.Upstream
	fwd    *testnet.ForwardProxy
	direct *http.Client // via the forward proxy straight to the upstream
	viaAPI *http.Client // plain HTTP to the api-proxy
	proc   *exec.Cmd
}

func TestReport(t *testing.T) {
	testnet.Require(t)
	b := &bench{t: t}
	b.build()
	b.up = testnet.NewUpstream(t, upstreamHandler())
	b.fwd = testnet.NewForwardProxy(t)
	pu, _ := url.Parse(b.fwd.URL)
	b.direct = &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu), MaxIdleConnsPerHost: 256, DisableCompression: true}}
	b.viaAPI = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}

	fmt.Println("METHOD: one process runs the load generator, the CONNECT forward proxy and the TLS upstream;")
	fmt.Println("the api-proxy is the real `awf api-proxy` binary in its own process. 'direct' is the same")
	fmt.Println("client through the same forward proxy to the same upstream over HTTPS with keep-alive.")
	fmt.Println("Latencies are medians/percentiles of individual requests; all numbers come from this run.")
	fmt.Println("'CPUs awake' rows repeat the latency measures with a nice-19 busy loop on every CPU.")

	startup := b.startupTimes(7)
	b.start()
	idle := rss(b.proc.Process.Pid)

	d1, p1 := b.latency(b.directURL(), b.direct, 3000), b.latency(b.apiURL(), b.viaAPI, 3000)
	up1d, up1p := b.upload(b.directURL(), b.direct, 5), b.upload(b.apiURL(), b.viaAPI, 5)
	peakUploads := b.concurrentUploads(8)
	sseD, sseP := b.sse(b.directURL(), b.direct, 7), b.sse(b.apiURL(), b.viaAPI, 7)
	c64d := b.load(b.directURL(), b.direct, 64, 4*time.Second, false)
	c64p := b.load(b.apiURL(), b.viaAPI, 64, 4*time.Second, true)
	// On this VM an idle vCPU halts, and waking it for a packet costs about
	// 0.1 ms per process hop, which the proxy adds and the direct path does
	// not. Measure the latency figures again with the CPUs kept awake by a
	// lowest-priority busy loop (as on a runner that is doing other work).
	stopBurn := burnCPUs(b.t)
	wd1, wp1 := b.latency(b.directURL(), b.direct, 3000), b.latency(b.apiURL(), b.viaAPI, 3000)
	wsseD, wsseP := b.sse(b.directURL(), b.direct, 7), b.sse(b.apiURL(), b.viaAPI, 7)
	stopBurn()

	fmt.Println()
	fmt.Printf("%-44s %14s %14s %10s\n", "measure", "direct", "api-proxy", "target")
	row := func(name, d, p, target string) { fmt.Printf("%-44s %14s %14s %10s\n", name, d, p, target) }
	ms := func(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }
	row("c=1 latency p50", ms(d1.p50), ms(p1.p50), "")
	row("c=1 latency p99", ms(d1.p99), ms(p1.p99), "")
	row("c=1 added p50", "", ms(p1.p50-d1.p50), "<0.2 ms")
	row("c=1 added p99", "", ms(p1.p99-d1.p99), "")
	row("c=64 requests/s", fmt.Sprintf("%.0f", c64d.rps), fmt.Sprintf("%.0f", c64p.rps), ">=5000")
	row("c=64 latency p50", ms(c64d.p50), ms(c64p.p50), "")
	row("c=64 latency p99", ms(c64d.p99), ms(c64p.p99), "")
	row("c=64 added p50", "", ms(c64p.p50-c64d.p50), "")
	row("CPU time per request (proxy process)", "", fmt.Sprintf("%.1f us", c64p.cpuPerReq), "")
	row("RSS idle", "", mb(idle), "<15 MB")
	row("RSS peak under c=64", "", mb(c64p.peakRSS), "<40 MB")
	row("SSE time to first byte", ms(sseD.ttfb), ms(sseP.ttfb), "")
	row("SSE first byte added", "", ms(sseP.ttfb-sseD.ttfb), "<1 ms")
	row("SSE per-event delay (median)", ms(sseD.perEvent), ms(sseP.perEvent), "")
	row("SSE per-event added", "", ms(sseP.perEvent-sseD.perEvent), "<0.05 ms")
	row("CPUs awake: c=1 latency p50", ms(wd1.p50), ms(wp1.p50), "")
	row("CPUs awake: c=1 added p50", "", ms(wp1.p50-wd1.p50), "<0.2 ms")
	row("CPUs awake: c=1 added p99", "", ms(wp1.p99-wd1.p99), "")
	row("CPUs awake: SSE first byte added", "", ms(wsseP.ttfb-wsseD.ttfb), "<1 ms")
	row("CPUs awake: SSE per-event added", "", ms(wsseP.perEvent-wsseD.perEvent), "<0.05 ms")
	row("9 MiB upload (median of 5)", ms(up1d), ms(up1p), "")
	row("9 MiB upload ratio", "", fmt.Sprintf("%.2fx", float64(up1p)/float64(up1d)), "<=2x")
	row("RSS peak during 8 concurrent 9 MiB uploads", "", mb(peakUploads), "<60 MB")
	row("start-up to 200 from /health (median of 7)", "", ms(startup), "<20 ms")
	fmt.Println()
	fmt.Println("Node baseline (issue #2, same machine kind): 257 req/s at c=64, p50 +4.7 ms at c=1, 3.2 ms CPU/req,")
	fmt.Println("RSS 54/120/286 MB, SSE +4.8 ms first byte, +0.29 ms/event, 9 MB upload 141 ms vs 22 ms, start 140 ms.")
}

// burnCPUs keeps every CPU busy at the lowest priority until stopped.
func burnCPUs(t *testing.T) func() {
	var cmds []*exec.Cmd
	for i := 0; i < runtime.NumCPU(); i++ {
		c := exec.Command("nice", "-n", "19", "sh", "-c", "while :; do :; done")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	return func() {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
	}
}

func mb(kb int64) string { return fmt.Sprintf("%.1f MB", float64(kb)/1024) }

func (b *bench) build() {
	b.bin = filepath.Join(b.t.TempDir(), "awf")
	// Built as `make build` ships it: static, stripped.
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", b.bin, "../../cmd/awf")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.t.Fatalf("build: %v\n%s", err, out)
	}
}

// env is the proxy's environment; BENCH_PROXY_ENV adds settings to try
// (e.g. "GOMAXPROCS=1 GOGC=200").
func (b *bench) env() []string {
	return append(append(os.Environ(), strings.Fields(os.Getenv("BENCH_PROXY_ENV"))...), "OPENAI_API_KEY="+key, "OPENAI_API_TARGET="+b.up.Name,
		"HTTPS_PROXY="+b.fwd.URL, "AWF_API_PROXY_LISTEN=127.0.0.1", "AWF_TOKEN_LOG_DIR="+b.t.TempDir(),
		"AWF_LOG_LEVEL=info") // the default: one JSON line per request, as in production
}

func (b *bench) spawn() *exec.Cmd {
	cmd := exec.Command(b.bin, "api-proxy")
	cmd.Env = b.env()
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = devnull, os.Stderr
	if err := cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	return cmd
}

func stopProc(cmd *exec.Cmd) {
	cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// startupTimes is the median time from exec to the first 200 from /health.
func (b *bench) startupTimes(n int) time.Duration {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	var ds []time.Duration
	for i := 0; i < n; i++ {
		t0 := time.Now()
		cmd := b.spawn()
		deadline := t0.Add(5 * time.Second)
		for time.Now().Before(deadline) {
			resp, err := c.Get("http://127.0.0.1:10000/health")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ds = append(ds, time.Since(t0))
					break
				}
			}
			time.Sleep(200 * time.Microsecond)
		}
		stopProc(cmd)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

func (b *bench) start() {
	b.proc = b.spawn()
	b.t.Cleanup(func() { stopProc(b.proc) })
	for i := 0; i < 500; i++ {
		if resp, err := http.Get("http://127.0.0.1:10000/health"); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.t.Fatal("api-proxy did not start")
}

func (b *bench) directURL() string { return "https://" + b.up.Name }
func (b *bench) apiURL() string    { return "http://127.0.0.1:10000" }

func get(c *http.Client, u string) error {
	resp, err := c.Get(u)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

type latencies struct{ p50, p99 time.Duration }

func percentiles(ds []time.Duration) latencies {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return latencies{ds[len(ds)/2], ds[len(ds)*99/100]}
}

func (b *bench) latency(base string, c *http.Client, n int) latencies {
	for i := 0; i < 200; i++ {
		if err := get(c, base+"/v1/models"); err != nil {
			b.t.Fatal(err)
		}
	}
	ds := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := get(c, base+"/v1/models"); err != nil {
			b.t.Fatal(err)
		}
		ds = append(ds, time.Since(t0))
	}
	return percentiles(ds)
}

type loadResult struct {
	rps       float64
	p50, p99  time.Duration
	cpuPerReq float64 // microseconds, proxy process
	peakRSS   int64   // kB
}

func (b *bench) load(base string, c *http.Client, conc int, d time.Duration, measureProxy bool) loadResult {
	var wg sync.WaitGroup
	var count, fails atomic.Int64
	lat := make([][]time.Duration, conc)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	// warm the pools
	for i := 0; i < conc; i++ {
		get(c, base+"/v1/models")
	}
	pid := b.proc.Process.Pid
	cpu0 := cpuTime(pid)
	var peak atomic.Int64
	stopSampler := sampleRSS(pid, &peak)
	t0 := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for ctx.Err() == nil {
				s := time.Now()
				if err := get(c, base+"/v1/models"); err != nil {
					fails.Add(1)
					continue
				}
				lat[w] = append(lat[w], time.Since(s))
				count.Add(1)
			}
		}(w)
	}
	wg.Wait()
	el := time.Since(t0)
	stopSampler()
	cpu := cpuTime(pid) - cpu0
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	if fails.Load() > 0 {
		b.t.Errorf("%d failed requests at c=%d against %s", fails.Load(), conc, base)
	}
	r := loadResult{rps: float64(count.Load()) / el.Seconds(), peakRSS: peak.Load()}
	l := percentiles(all)
	r.p50, r.p99 = l.p50, l.p99
	if measureProxy {
		r.cpuPerReq = float64(cpu.Microseconds()) / float64(count.Load())
	}
	return r
}

func (b *bench) upload(base string, c *http.Client, n int) time.Duration {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 9<<20/16)
	var ds []time.Duration
	for i := 0; i < n; i++ {
		t0 := time.Now()
		resp, err := c.Post(base+"/v1/upload", "application/octet-stream", bytes.NewReader(payload))
		if err != nil {
			b.t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.t.Fatalf("upload: %d", resp.StatusCode)
		}
		ds = append(ds, time.Since(t0))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

func (b *bench) concurrentUploads(n int) int64 {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 9<<20/16)
	var peak atomic.Int64
	stop := sampleRSS(b.proc.Process.Pid, &peak)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := b.viaAPI.Post(b.apiURL()+"/v1/upload", "application/octet-stream", bytes.NewReader(payload))
			if err != nil {
				b.t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	wg.Wait()
	stop()
	return peak.Load()
}

type sseResult struct{ ttfb, perEvent time.Duration }

// sse measures time to first byte and, per event, the delay between the
// upstream writing it (timestamp inside the event) and the client reading it.
func (b *bench) sse(base string, c *http.Client, runs int) sseResult {
	var ttfbs, delays []time.Duration
	for r := 0; r < runs; r++ {
		t0 := time.Now()
		resp, err := c.Post(base+"/v1/sse", "application/json", strings.NewReader(`{"stream":true}`))
		if err != nil {
			b.t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		first := true
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				break
			}
			now := time.Now()
			if first {
				ttfbs = append(ttfbs, now.Sub(t0))
				first = false
			}
			if strings.HasPrefix(line, "data: ") && !strings.Contains(line, "[DONE]") {
				ns, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(line, "data: ")), 10, 64)
				delays = append(delays, now.Sub(time.Unix(0, ns)))
			}
		}
		resp.Body.Close()
	}
	sort.Slice(ttfbs, func(i, j int) bool { return ttfbs[i] < ttfbs[j] })
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	return sseResult{ttfbs[len(ttfbs)/2], delays[len(delays)/2]}
}

func upstreamHandler() http.Handler {
	small := []byte(`{"object":"list","data":[{"id":"gpt-5","object":"model","created":1700000000,"owned_by":"openai"}]}`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/upload":
			io.Copy(io.Discard, r.Body)
			w.Write([]byte(`{"ok":true}`))
		case "/v1/sse":
			w.Header().Set("Content-Type", "text/event-stream")
			f := w.(http.Flusher)
			for i := 0; i < 50; i++ {
				fmt.Fprintf(w, "data: %d\n\n", time.Now().UnixNano())
				f.Flush()
				time.Sleep(2 * time.Millisecond)
			}
			io.WriteString(w, "data: [DONE]\n\n")
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Write(small)
		}
	})
}

// rss is the resident set of pid in kB.
func rss(pid int) int64 { return procStatus(pid, "VmRSS:") }

func procStatus(pid int, field string) int64 {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, field) {
			f := strings.Fields(l)
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// sampleRSS records the peak RSS of pid every 2 ms until stopped.
func sampleRSS(pid int, peak *atomic.Int64) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			if r := rss(pid); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() { close(done); <-finished }
}

// cpuTime is user+system time of pid.
func cpuTime(pid int) time.Duration {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}
