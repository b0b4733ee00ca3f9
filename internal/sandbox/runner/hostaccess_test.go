package runner

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sys/unix"

	"github.com/awf-dev/awf/internal/testnet"
)

var hostProbeOnce struct {
	sync.Once
	path string
	err  error
}

// hostProbe builds testdata/hostprobe (WebSocket, TCP echo, SSE client).
func hostProbe(t *testing.T) string {
	t.Helper()
	hostProbeOnce.Do(func() {
		hostProbeOnce.path, hostProbeOnce.err = testnet.BuildBinary(binDir, "hostprobe", "./testdata/hostprobe")
	})
	if hostProbeOnce.err != nil {
		t.Fatal(hostProbeOnce.err)
	}
	return hostProbeOnce.path
}

// hostService is an HTTP service on the host's loopback only (127.0.0.1
// of the test network, which stands for the runner host): /hello, an SSE
// stream /sse?n=&ms= and a WebSocket echo /ws.
func hostService(t *testing.T) int {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/hello/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from the host %s", r.URL.Path)
	})
	mux.HandleFunc("/sse", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for i := range n {
			fmt.Fprintf(w, "data: event %d\n\n", i)
			f.Flush()
			select {
			case <-time.After(time.Duration(ms) * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		for {
			typ, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			if c.Write(ctx, typ, append([]byte("echo "), b...)) != nil {
				return
			}
		}
	})
	return serveOn(t, "127.0.0.1:0", mux)
}

func serveOn(t *testing.T, addr string, h http.Handler) int {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// secretService answers "secret" to anything: it must never be reached.
func secretService(t *testing.T, addr string) int {
	return serveOn(t, addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "secret") }))
}

// lines maps "label: rest" output lines to rest.
func lines(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, ": "); ok {
			m[k] = v
		}
	}
	return m
}

func TestHostAccess(t *testing.T) {
	testnet.Require(t)
	hp := hostProbe(t)
	port := hostService(t)
	other := secretService(t, "127.0.0.1:0")
	logs := t.TempDir()
	h := fmt.Sprintf("http://host.docker.internal:%d", port)
	script := strings.Join([]string{
		"set +e",
		"echo explicit: $(curl -sS -m 10 " + h + "/hello/e)",
		"echo direct: $(curl -sS -m 10 --noproxy '*' " + h + "/hello/d)",
		"echo tunnel: $(curl -sS -m 10 -p " + h + "/hello/t)",
		fmt.Sprintf("echo gwip: $(curl -sS -m 10 --noproxy '*' http://172.17.0.1:%d/hello/i)", port),
		fmt.Sprintf("echo netgw: $(curl -sS -m 10 --noproxy '*' http://172.30.0.1:%d/hello/n)", port),
		"echo wsx: $(" + hp + " ws ws://host.docker.internal:" + strconv.Itoa(port) + "/ws)",
		"echo wsd: $(NO_PROXY='*' no_proxy='*' " + hp + " ws ws://host.docker.internal:" + strconv.Itoa(port) + "/ws)",
		fmt.Sprintf("echo closedx: $(curl -s -m 10 http://host.docker.internal:%d/)", other),
		fmt.Sprintf("echo closedd: $(%s)", probe("dial", "tcp", fmt.Sprintf("host.docker.internal:%d", other))),
		"echo dangerx: $(curl -s -m 10 http://host.docker.internal:22/)",
		"echo dangerd: $(" + probe("dial", "tcp", "host.docker.internal:22") + ")",
		"echo hosts: $(getent hosts host.docker.internal)",
		"echo dns: $(" + probe("dns", "172.30.0.10:53", "host.docker.internal") + ")",
	}, "\n")
	auditDir := t.TempDir()
	r := awf(t, nil, "--enable-host-access", "--allow-host-ports", strconv.Itoa(port), "-d", "github.com",
		"--proxy-logs-dir", logs, "--audit-dir", auditDir, "--", script)
	got := lines(r.stdout)
	for k, want := range map[string]string{
		"explicit": "hello from the host /hello/e", "direct": "hello from the host /hello/d", "tunnel": "hello from the host /hello/t",
		"gwip": "hello from the host /hello/i", "netgw": "hello from the host /hello/n",
		"wsx": "ok ws 3 echoes", "wsd": "ok ws 3 echoes",
		"closedx": "port " + strconv.Itoa(other) + " not allowed on host.docker.internal",
		"closedd": "fail", "dangerd": "fail",
		"dangerx": "Port 22 is blocked for security reasons. Dangerous ports (SSH:22, MySQL:3306, PostgreSQL:5432, etc.) cannot be allowed even with --allow-host-ports.",
		"hosts":   "172.17.0.1", "dns": "ok 172.17.0.1",
	} {
		if !strings.Contains(got[k], want) {
			t.Errorf("%s: %q, want %q", k, got[k], want)
		}
	}
	if strings.Contains(r.stdout, "secret") {
		t.Errorf("a closed host port answered:\n%s", r.stdout)
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	access, _ := os.ReadFile(filepath.Join(logs, "access.log"))
	audit, _ := os.ReadFile(filepath.Join(logs, "audit.jsonl"))
	for _, want := range []string{
		"GET 200 TCP_MISS:HIER_DIRECT http://host.docker.internal:" + strconv.Itoa(port) + "/hello/e",
		"CONNECT 200 TCP_TUNNEL:HIER_DIRECT host.docker.internal:" + strconv.Itoa(port), // direct (host listener) and -p
		"403 TCP_DENIED:HIER_NONE http://host.docker.internal:22/",
	} {
		if !strings.Contains(string(access), want) {
			t.Errorf("access.log lacks %q:\n%s", want, access)
		}
	}
	if !strings.Contains(string(audit), `"listener":"host"`) || !strings.Contains(string(audit), `"rule":"allow-host-access"`) {
		t.Errorf("audit.jsonl lacks the host listener's records:\n%s", audit)
	}
	// The policy manifest and `awf logs audit` show host access.
	manifest, _ := os.ReadFile(filepath.Join(auditDir, "policy-manifest.json"))
	for _, want := range []string{`"hostAccessEnabled": true`, `"allowHostPorts": "` + strconv.Itoa(port) + `"`, `"id": "allow-host-access"`,
		`"` + strconv.Itoa(port) + ` (--allow-host-ports)"`, `"172.17.0.1"`} {
		if !strings.Contains(string(manifest), want) {
			t.Errorf("policy-manifest.json lacks %s:\n%s", want, manifest)
		}
	}
	cmd, out, errb := awfCmd(t, []string{"AWF_AUDIT_DIR=" + auditDir}, "logs", "audit", "--source", logs, "--format", "markdown")
	if code := testnet.Run(t, cmd, 30*time.Second); code != 0 {
		t.Fatalf("awf logs audit: %d\n%s", code, errb)
	}
	for _, want := range []string{"- **Host Access**: enabled (host.docker.internal → 172.17.0.1, 172.30.0.1; ports", "| allow-host-access | ", "Allow host.docker.internal (the host's 127.0.0.1) on ports 80, 443, " + strconv.Itoa(port)} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("awf logs audit lacks %q:\n%s", want, out)
		}
	}
}

// TestHostAccessStreams holds a 60 s server-sent-event stream open on both
// paths at once (through the proxy and direct) and checks every event
// arrived when sent.
func TestHostAccessStreams(t *testing.T) {
	testnet.Require(t)
	t.Parallel()
	hp := hostProbe(t)
	port := hostService(t)
	u := fmt.Sprintf("http://host.docker.internal:%d/sse?n=60\\&ms=1000", port)
	script := fmt.Sprintf("%s sse %s > /tmp/x.$$ & NO_PROXY='*' no_proxy='*' %s sse %s; wait; cat /tmp/x.$$; rm -f /tmp/x.$$", hp, u, hp, u)
	cmd, out, errb := awfCmd(t, nil, "--enable-host-access", "--allow-host-ports", strconv.Itoa(port), "--", script)
	t0 := time.Now()
	code := testnet.Run(t, cmd, 150*time.Second)
	if code != 0 || strings.Count(out.String(), "ok sse 60 events") != 2 {
		t.Fatalf("code %d after %v:\n%s\n%s", code, time.Since(t0), out, errb)
	}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var n, secs, gap int
		fmt.Sscanf(l, "ok sse %d events in %ds maxgap %dms", &n, &secs, &gap)
		if secs < 58 || gap > 2500 {
			t.Errorf("stream not live: %q", l)
		}
	}
	t.Logf("%s(%v)", out, time.Since(t0))
}

// echoService is a TCP line echo (a stand-in for a services container).
func echoService(t *testing.T, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				fmt.Fprint(c, line)
			}()
		}
	}()
}

func TestHostServicePorts(t *testing.T) {
	testnet.Require(t)
	hp := hostProbe(t)
	echoService(t, "127.0.0.1:5432")
	echo := hp + " echo host.docker.internal:5432 pg-hello"

	r := awf(t, nil, "--legacy-security", "--allow-host-service-ports", "5432", "--", echo)
	if r.code != 0 || !strings.Contains(r.stdout, "ok echo pg-hello") {
		t.Errorf("service port: code %d %q\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "--allow-host-service-ports automatically enabling host access") {
		t.Errorf("no auto-enable warning:\n%s", r.stderr)
	}
	// Strict security (the default) ignores service ports, as the original.
	r = awf(t, nil, "--allow-host-service-ports", "5432", "--", echo)
	if r.code == 0 || strings.Contains(r.stdout, "pg-hello") {
		t.Errorf("strict mode reached the service port: %q", r.stdout)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--enable-host-access", "--allow-host-ports", "5432"}, "Port 5432 is blocked for security reasons. Dangerous ports (SSH:22, MySQL:3306, PostgreSQL:5432, etc.) cannot be allowed even with --allow-host-ports."},
		{[]string{"--enable-host-access", "--allow-host-ports", "5000-5500"}, "Port range 5000-5500 includes dangerous port 5432"},
		{[]string{"--allow-host-ports", "8080"}, "--allow-host-ports requires --enable-host-access to be set"},
	} {
		r := awf(t, nil, append(tc.args, "--", "true")...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: code %d, stderr:\n%s", tc.args, r.code, r.stderr)
		}
	}
}

// TestHostAccessNoBypass: with host access on, nothing else on the host
// opens: its other listeners, the cloud metadata address, a Docker API
// port, the Docker socket.
func TestHostAccessNoBypass(t *testing.T) {
	testnet.Require(t)
	port := hostService(t)
	other := secretService(t, "127.0.0.1:0")
	secretService(t, "127.0.0.1:2375") // a Docker API on the host's loopback
	if err := exec.Command("ip", "addr", "add", "169.254.169.254/32", "dev", "lo").Run(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("ip", "addr", "del", "169.254.169.254/32", "dev", "lo").Run() })
	secretService(t, "169.254.169.254:80")
	// A Docker socket where Docker puts it, in this test's own mount
	// namespace (the real /run is not touched).
	if err := unix.Mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount("/run", unix.MNT_DETACH) })
	sock, err := net.Listen("unix", "/run/docker.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	os.Chmod("/run/docker.sock", 0o666)
	go func() {
		for {
			c, err := sock.Accept()
			if err != nil {
				return
			}
			fmt.Fprint(c, "HTTP/1.0 200 OK\r\n\r\nsecret")
			c.Close()
		}
	}()

	try := []string{
		fmt.Sprintf("curl -s -m 5 http://host.docker.internal:%d/", other),
		fmt.Sprintf("curl -s -m 5 -p http://host.docker.internal:%d/", other),
		fmt.Sprintf("curl -s -m 5 --noproxy '*' http://host.docker.internal:%d/", other),
		fmt.Sprintf("curl -s -m 5 --noproxy '*' http://127.0.0.1:%d/", other),
		"curl -s -m 5 http://host.docker.internal:2375/version",
		"curl -s -m 5 --noproxy '*' http://172.17.0.1:2375/version",
		"curl -s -m 5 http://169.254.169.254/latest/meta-data/",
		"curl -s -m 5 --noproxy '*' http://169.254.169.254/latest/meta-data/",
		"curl -s -m 5 -H 'Host: host.docker.internal' --noproxy '*' http://169.254.169.254/",
		"curl -s -m 5 --unix-socket /run/docker.sock http://x/version",
		"curl -s -m 5 --unix-socket /var/run/docker.sock http://x/version",
	}
	script := "set +e\n"
	for _, c := range try {
		script += c + "; echo \" <- " + strings.ReplaceAll(c, "'", "") + "\"\n"
	}
	r := awf(t, nil, "--enable-host-access", "--allow-host-ports", strconv.Itoa(port), "-d", "host.docker.internal", "--", script)
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.Contains(l, "secret") {
			t.Errorf("reached: %s", l)
		}
	}
	if strings.Count(r.stdout, " <- ") != len(try) {
		t.Errorf("not every attempt ran:\n%s\n%s", r.stdout, r.stderr)
	}
}

// TestAPIProxyTargetsAndHostBaseURLs: with the api proxy on, its own
// upstream reaches the provider though the allowlist does not name it
// (gh-aw v0.28.31), the agent still cannot reach the provider itself, and
// gh-aw's hard-coded http://host.docker.internal:1000x base URLs reach the
// api proxy, directly and through the proxy, without host access.
func TestAPIProxyTargetsAndHostBaseURLs(t *testing.T) {
	testnet.Require(t)
	openai := &recorder{}
	testnet.NewUpstreamFor(t, "api.openai.com", openai)
	logs := t.TempDir()
	key := secret("sk-test-openai-")
	post := `-X POST -H 'Content-Type: application/json' -d '{"model":"m"}'`
	script := strings.Join([]string{
		"set +e",
		`echo base: $(curl -sS -m 10 ` + post + ` "$OPENAI_BASE_URL/chat/completions")`,
		`echo hostd: $(curl -sS -m 10 --noproxy '*' ` + post + ` http://host.docker.internal:10000/v1/chat/completions)`,
		`echo hostx: $(curl -sS -m 10 ` + post + ` http://host.docker.internal:10000/v1/chat/completions)`,
		`echo agent: $(curl -s -m 10 -o /dev/null -w '%{http_connect}' https://api.openai.com/v1/models)`,
		`echo host80: $(` + probe("dial", "tcp", "host.docker.internal:80") + `)`,
	}, "\n")
	r := awf(t, []string{"OPENAI_API_KEY=" + key}, "--enable-api-proxy", "-d", "github.com", "--proxy-logs-dir", logs, "--", script)
	got := lines(r.stdout)
	for k, want := range map[string]string{
		"base": `"path":"/v1/chat/completions"`, "hostd": `"path":"/v1/chat/completions"`, "hostx": `"path":"/v1/chat/completions"`,
		"agent": "403", "host80": "fail",
	} {
		if !strings.Contains(got[k], want) {
			t.Errorf("%s: %q, want %q", k, got[k], want)
		}
	}
	if h := openai.headers(); len(h) != 3 || h[0].Get("Authorization") != "Bearer "+key {
		t.Errorf("upstream saw %d requests", len(h))
	}
	if strings.Contains(r.stdout+r.stderr, key) {
		t.Error("the key was printed")
	}
	audit, _ := os.ReadFile(filepath.Join(logs, "audit.jsonl"))
	if !strings.Contains(string(audit), `"rule":"allow-api-proxy-target"`) {
		t.Errorf("no api-proxy target admission in audit.jsonl:\n%s", audit)
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
}

// TestLocalhostKeyword: -d localhost, as the original, turns host access
// on with the common development ports, and localhost in the sandbox is
// the host.
func TestLocalhostKeyword(t *testing.T) {
	testnet.Require(t)
	echoService(t, "127.0.0.1:5173") // a dev server on the host's loopback
	// curl resolves "localhost" itself (RFC 6761), as in the original's
	// container; resolvers that read /etc/hosts get the host.
	r := awf(t, nil, "-d", "localhost", "--", "grep -w localhost /etc/hosts; "+hostProbe(t)+" echo localhost:5173 vite-on-the-host")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "172.17.0.1") || !strings.Contains(r.stdout, "ok echo vite-on-the-host") {
		t.Errorf("code %d %q\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"localhost keyword detected - automatically enabling host access", "allowing common development ports"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}
