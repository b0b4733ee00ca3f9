package egress

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/awf-dev/awf/internal/hostaccess"
	"github.com/awf-dev/awf/internal/testnet"
)

// connectStatus sends CONNECT target through proxy addr and returns the
// status line and body of the answer.
func connectStatus(t *testing.T, addr, target string) (int, string, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == 200 {
		return 200, "", c // the tunnel: no body
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b), c
}

func TestHostAccessExplicit(t *testing.T) {
	testnet.Require(t)
	backend := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "host says hi to %s %s", r.Host, r.URL.Path)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go backend.Serve(ln)
	port := ln.Addr().(*net.TCPAddr).Port
	plan, _, err := hostaccess.Build(hostaccess.Options{EnableHostAccess: true, AllowHostPorts: fmt.Sprint(port)})
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, Config{Policy: mustPolicy(t, "up1.test", ""), Host: HostAccess{Plan: plan}})
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: p.addr})}}

	for _, u := range []string{fmt.Sprintf("http://host.docker.internal:%d/a", port), fmt.Sprintf("http://172.17.0.1:%d/b", port)} {
		resp, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(string(b), "host says hi") {
			t.Errorf("%s: %d %q", u, resp.StatusCode, b)
		}
	}
	code, _, c := connectStatus(t, p.addr, fmt.Sprintf("host.docker.internal:%d", port))
	c.Close()
	if code != 200 {
		t.Errorf("CONNECT to the host port: %d", code)
	}
	for target, want := range map[string]string{
		"host.docker.internal:22":   "Port 22 is blocked for security reasons. Dangerous ports (SSH:22, MySQL:3306, PostgreSQL:5432, etc.) cannot be allowed even with --allow-host-ports.",
		"host.docker.internal:9999": "port 9999 not allowed on host.docker.internal",
	} {
		code, body, c := connectStatus(t, p.addr, target)
		c.Close()
		if code != 403 || !strings.Contains(body, want) {
			t.Errorf("CONNECT %s: %d %q, want 403 %q", target, code, body, want)
		}
	}
	resp, err := client.Get("http://host.docker.internal:9999/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("GET to a closed host port: %d", resp.StatusCode)
	}
	recs, _ := p.audit(t)
	r := findRec(t, recs, fmt.Sprintf("http://host.docker.internal:%d/a", port))
	if r["rule"] != hostaccess.RuleAllowHost || r["dest"] != fmt.Sprintf("127.0.0.1:%d", port) {
		t.Errorf("audit record %v", r)
	}
}

// TestAPIProxyTargets: the api proxy's own listener reaches its targets
// beyond the allowlist, on 443 only; the agent's listener does not.
func TestAPIProxyTargets(t *testing.T) {
	testnet.Require(t)
	up, err := net.Listen("tcp", netip.AddrPortFrom(testnet.HostAddr(7), 443).String())
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	p := startProxy(t, Config{Policy: mustPolicy(t, "up1.test", "")})
	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go p.ServeAPIProxy(aln, []string{testnet.HostName(7)})
	target := testnet.HostName(7) + ":443"
	if code, _, c := connectStatus(t, aln.Addr().String(), target); code != 200 {
		t.Errorf("api proxy to its target: %d", code)
	} else {
		c.Close()
	}
	for _, tc := range []struct{ addr, target string }{
		{p.addr, target}, // the agent's listener: allowlist only
		{aln.Addr().String(), testnet.HostName(8) + ":443"},
		{aln.Addr().String(), testnet.HostName(7) + ":80"},
	} {
		code, _, c := connectStatus(t, tc.addr, tc.target)
		c.Close()
		if code != 403 {
			t.Errorf("CONNECT %s on %s: %d, want 403", tc.target, tc.addr, code)
		}
	}
}
