package egress

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/testnet"
)

func sayHello(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "hello %s from %s", r.Host, r.RemoteAddr)
}

// site is a set of upstreams on the test network, all answering "hello".
type site struct {
	tls, plain, other, blocked, httpsOnly, httpOnly *testnet.Upstream
}

func newSite(t *testing.T) site {
	h := http.HandlerFunc(sayHello)
	return site{
		tls: testnet.NewUpstream(t, h), plain: testnet.NewPlainUpstream(t, h),
		other: testnet.NewUpstream(t, h), blocked: testnet.NewUpstream(t, h),
		httpsOnly: testnet.NewPlainUpstream(t, h), httpOnly: testnet.NewUpstream(t, h),
	}
}

func (s site) config(t *testing.T) Config {
	return Config{
		Policy: mustPolicy(t, strings.Join([]string{s.tls.Name, s.plain.Name, s.blocked.Name,
			"https://" + s.httpsOnly.Name, "http://" + s.httpOnly.Name,
			"loop.test", "meta.test", "private.test", "cgnat.test"}, ","), s.blocked.Name),
		Resolver: fakeResolver{
			"loop.test":    {netip.MustParseAddr("127.0.0.1")},
			"meta.test":    {netip.MustParseAddr("169.254.169.254")},
			"private.test": {netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("::ffff:192.168.1.1")},
			"cgnat.test":   {netip.MustParseAddr("100.64.0.1")},
		},
	}
}

func curl(t *testing.T, proxyAddr string, args ...string) (code, connect, body string) {
	t.Helper()
	full := append([]string{"-sS", "--max-time", "10", "-x", "http://" + proxyAddr,
		"-o", "-", "-w", "\n%{http_code} %{http_connect}"}, args...)
	out, _ := exec.Command("curl", full...).Output()
	s := string(out)
	i := strings.LastIndexByte(s, '\n')
	f := strings.Fields(s[i+1:])
	if len(f) != 2 {
		t.Fatalf("curl %v: odd output %q", args, s)
	}
	return f[0], f[1], s[:i]
}

func TestExplicitWithCurl(t *testing.T) {
	testnet.Require(t)
	st := newSite(t)
	p := startProxy(t, st.config(t))
	cases := []struct {
		name, url       string
		code, connect   string // curl's %{http_code} and %{http_connect}
		body            string // expected in the body
		auditURL        string
		status          float64
		decision, rule  string
		reasonSubstring string
	}{
		{"https admitted", "https://" + st.tls.Name + "/x", "200", "200", "hello " + st.tls.Name,
			st.tls.Name + ":443", 200, "TCP_TUNNEL", "allow-both-plain", ""},
		{"http admitted", "http://" + st.plain.Name + "/y?z=1", "200", "000", "hello " + st.plain.Name,
			"http://" + st.plain.Name + "/y?z=1", 200, "TCP_MISS", "allow-both-plain", ""},
		{"https not listed", "https://" + st.other.Name + "/", "000", "403", "",
			st.other.Name + ":443", 403, "TCP_DENIED", "deny-default", "domain not in allowlist"},
		{"http not listed", "http://" + st.other.Name + "/", "403", "000", "access to " + st.other.Name + " denied: domain not in allowlist",
			"http://" + st.other.Name + "/", 403, "TCP_DENIED", "deny-default", "domain not in allowlist"},
		{"blocked", "https://" + st.blocked.Name + "/", "000", "403", "",
			st.blocked.Name + ":443", 403, "TCP_DENIED", "deny-blocked-plain", "blocked"},
		{"https-only entry over http", "http://" + st.httpsOnly.Name + "/", "403", "000", "denied",
			"http://" + st.httpsOnly.Name + "/", 403, "TCP_DENIED", "", "not in allowlist"},
		{"http-only entry over https", "https://" + st.httpOnly.Name + "/", "000", "403", "",
			st.httpOnly.Name + ":443", 403, "TCP_DENIED", "", "not in allowlist"},
		{"port", "https://" + st.tls.Name + ":8443/", "000", "403", "",
			st.tls.Name + ":8443", 403, "TCP_DENIED", "deny-connect-unsafe-ports", "port 8443 not allowed"},
		{"http port", "http://" + st.plain.Name + ":8080/", "403", "000", "port 8080 not allowed",
			"http://" + st.plain.Name + ":8080/", 403, "TCP_DENIED", "deny-unsafe-ports", "port 8080 not allowed"},
		{"raw ipv4", "https://" + st.tls.Addr + "/", "000", "403", "",
			st.tls.Addr + ":443", 403, "TCP_DENIED", "deny-raw-ipv4", "raw IP not allowed"},
		{"raw ipv4 decimal", "http://3325256705/", "403", "000", "raw IP not allowed",
			"http://198.51.100.1/", 403, "TCP_DENIED", "deny-raw-ipv4", "raw IP not allowed"},
		{"raw ipv6", "http://[2001:db8::1]/", "403", "000", "raw IP not allowed",
			"http://[2001:db8::1]/", 403, "TCP_DENIED", "deny-raw-ipv6", "raw IP not allowed"},
		{"ssrf loopback", "https://loop.test/", "000", "403", "",
			"loop.test:443", 403, "TCP_DENIED", "deny-private-destination", "private address"},
		{"ssrf metadata", "http://meta.test/latest/meta-data/", "403", "000", "destination not allowed (private address)",
			"http://meta.test/latest/meta-data/", 403, "TCP_DENIED", "deny-private-destination", "private address"},
		{"ssrf private", "https://private.test/", "000", "403", "",
			"private.test:443", 403, "TCP_DENIED", "deny-private-destination", "private address"},
		{"ssrf cgnat", "http://cgnat.test/", "403", "000", "private address",
			"http://cgnat.test/", 403, "TCP_DENIED", "deny-private-destination", "private address"},
	}
	for _, c := range cases {
		code, connect, body := curl(t, p.addr, c.url)
		if code != c.code || connect != c.connect || !strings.Contains(body, c.body) {
			t.Errorf("%s: curl %s: got %s/%s %q, want %s/%s %q", c.name, c.url, code, connect, body, c.code, c.connect, c.body)
		}
	}
	recs, lines := p.audit(t)
	for _, c := range cases {
		r := findRec(t, recs, c.auditURL)
		if r["status"] != c.status || r["decision"] != c.decision ||
			(c.rule != "" && r["rule"] != c.rule) || !strings.Contains(fmt.Sprint(r["reason"]), c.reasonSubstring) {
			t.Errorf("%s: audit record %v, want status %v decision %s rule %q reason ~%q", c.name, r, c.status, c.decision, c.rule, c.reasonSubstring)
		}
		if c.decision == "TCP_DENIED" && r["dest"] != "-:-" {
			t.Errorf("%s: denied request has dest %v", c.name, r["dest"])
		}
	}
	outer := 0 // one per request; inspection (inspect_test.go) adds one per request inside a tunnel
	for _, r := range recs {
		if r["listener"] != kindInspect {
			outer++
		}
	}
	if outer != len(cases) {
		t.Errorf("%d audit records for %d requests", outer, len(cases))
	}
	// The text log is the original's firewall_detailed format.
	tunnel := regexp.MustCompile(`^\d+\.\d{3} 127\.0\.0\.1:\d+ ` + regexp.QuoteMeta(st.tls.Name) + `:443 ` +
		regexp.QuoteMeta(st.tls.Addr) + `:443 1\.1 CONNECT 200 TCP_TUNNEL:HIER_DIRECT ` + regexp.QuoteMeta(st.tls.Name) + `:443 "curl/[^"]+"$`)
	denied := regexp.MustCompile(`^\d+\.\d{3} 127\.0\.0\.1:\d+ ` + regexp.QuoteMeta(st.other.Name) + `:443 -:- 1\.1 CONNECT 403 TCP_DENIED:HIER_NONE ` +
		regexp.QuoteMeta(st.other.Name) + `:443 "curl/[^"]+"$`)
	miss := regexp.MustCompile(`^\d+\.\d{3} 127\.0\.0\.1:\d+ ` + regexp.QuoteMeta(st.plain.Name) + ` ` + regexp.QuoteMeta(st.plain.Addr) +
		`:80 1\.1 GET 200 TCP_MISS:HIER_DIRECT http://` + regexp.QuoteMeta(st.plain.Name) + `/y\?z=1 "curl/[^"]+"$`)
	for _, re := range []*regexp.Regexp{tunnel, denied, miss} {
		found := false
		for _, l := range lines {
			found = found || re.MatchString(l)
		}
		if !found {
			t.Errorf("no access.log line matches %s in\n%s", re, strings.Join(lines, "\n"))
		}
	}
	// Bytes are counted on admitted requests.
	if r := findRec(t, recs, st.tls.Name+":443"); r["bytes_in"].(float64) < 100 || r["bytes_out"].(float64) < 100 {
		t.Errorf("tunnel byte counts %v/%v", r["bytes_in"], r["bytes_out"])
	}
}

func TestExplicitWithGoClient(t *testing.T) {
	testnet.Require(t)
	st := newSite(t)
	p := startProxy(t, st.config(t))
	pu, _ := url.Parse("http://" + p.addr)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}, Timeout: 10 * time.Second}
	var upstreamPeers []string
	for i := range 3 {
		for _, u := range []string{"https://" + st.tls.Name + "/a", "http://" + st.plain.Name + "/b"} {
			reused := false
			ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
				GotConn: func(ci httptrace.GotConnInfo) { reused = ci.Reused }})
			req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", u, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.HasPrefix(string(b), "hello ") {
				t.Fatalf("%s: %d %q", u, resp.StatusCode, b)
			}
			if i > 0 && !reused {
				t.Errorf("%s: request %d did not reuse the client connection", u, i)
			}
			if strings.HasPrefix(u, "http://") {
				upstreamPeers = append(upstreamPeers, string(b[strings.LastIndex(string(b), " ")+1:]))
			}
		}
	}
	if upstreamPeers[0] != upstreamPeers[1] || upstreamPeers[1] != upstreamPeers[2] {
		t.Errorf("plain HTTP did not keep its upstream connection alive: %v", upstreamPeers)
	}
	// Denied: the Go client surfaces the CONNECT status.
	_, err := client.Get("https://" + st.other.Name + "/")
	if err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("unlisted https: err = %v", err)
	}
	resp, err := client.Get("http://" + st.other.Name + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" ||
		string(b) != "awf firewall: access to "+st.other.Name+" denied: domain not in allowlist\n" {
		t.Errorf("denial: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	// A POST body streams through and is counted.
	resp, err = client.Post("http://"+st.plain.Name+"/post", "text/plain", strings.NewReader(strings.Repeat("x", 100000)))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	client.CloseIdleConnections()
	recs, _ := p.audit(t)
	if r := findRec(t, recs, "http://"+st.plain.Name+"/post"); r["bytes_in"].(float64) != 100000 {
		t.Errorf("POST bytes_in = %v", r["bytes_in"])
	}
}

// rawProxy sends a raw request to the proxy and returns the connection and
// the parsed response head.
func rawProxy(t *testing.T, addr, req string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	return c, br, resp
}

func TestExplicitRequestChecks(t *testing.T) {
	testnet.Require(t)
	st := newSite(t)
	p := startProxy(t, st.config(t))
	ua := "User-Agent: raw\r\n"

	// Host header and absolute URL must agree.
	_, _, resp := rawProxy(t, p.addr, "GET http://"+st.plain.Name+"/ HTTP/1.1\r\nHost: "+st.other.Name+"\r\n"+ua+"\r\n")
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 403 || !strings.Contains(string(b), "Host header does not match") {
		t.Errorf("host mismatch: %d %q", resp.StatusCode, b)
	}
	// Spelling differences are not a mismatch.
	_, _, resp = rawProxy(t, p.addr, "GET http://"+st.plain.Name+"/ HTTP/1.1\r\nHost: "+strings.ToUpper(st.plain.Name)+".:80\r\n"+ua+"\r\n")
	if resp.StatusCode != 200 {
		t.Errorf("same host in another spelling: %d", resp.StatusCode)
	}
	// Origin-form requests are not proxied.
	_, _, resp = rawProxy(t, p.addr, "GET / HTTP/1.1\r\nHost: "+st.plain.Name+"\r\n\r\n")
	if resp.StatusCode != 403 {
		t.Errorf("origin-form: %d", resp.StatusCode)
	}
	// Oversized headers.
	_, _, resp = rawProxy(t, p.addr, "GET http://"+st.plain.Name+"/ HTTP/1.1\r\nX-Big: "+strings.Repeat("a", 40000)+"\r\n\r\n")
	if resp.StatusCode != 431 {
		t.Errorf("big header: %d", resp.StatusCode)
	}
	// Two Host headers.
	_, _, resp = rawProxy(t, p.addr, "GET http://"+st.plain.Name+"/ HTTP/1.1\r\nHost: "+st.plain.Name+"\r\nHost: x.test\r\n\r\n")
	if resp.StatusCode != 400 {
		t.Errorf("two Host headers: %d", resp.StatusCode)
	}
	// A CONNECT denial is a text/plain 403 naming host and reason.
	_, _, resp = rawProxy(t, p.addr, "CONNECT "+st.other.Name+":443 HTTP/1.1\r\nHost: "+st.other.Name+":443\r\n\r\n")
	b, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 403 || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" ||
		!strings.Contains(string(b), st.other.Name) || !strings.Contains(string(b), "domain not in allowlist") {
		t.Errorf("CONNECT denial: %d %v %q", resp.StatusCode, resp.Header, b)
	}

	tunnelCases := []struct {
		name, target string
		talk         func(c net.Conn, br *bufio.Reader) error // nil error: the tunnel worked
		wantOK       bool
		rule         string
		// listener, if set, is where the denial is logged: plain HTTP in a
		// tunnel is judged request by request (listener tunnel-http).
		listener string
	}{
		{"sni matches", st.tls.Name + ":443", tlsTalk(st.tls.Name, false), true, "", ""},
		{"sni mismatch", st.tls.Name + ":443", tlsTalk(st.other.Name, true), false, "deny-sni-mismatch", ""},
		{"sni of another admitted name", st.tls.Name + ":443", tlsTalk(st.plain.Name, true), false, "deny-sni-mismatch", ""},
		{"no sni", st.tls.Name + ":443", tlsTalk("", true), false, "deny-no-sni", ""},
		{"plain bytes on 443", st.tls.Name + ":443", httpTalk(st.tls.Name), false, "deny-not-tls", ""},
		{"http in a tunnel to 80", st.plain.Name + ":80", httpTalk(st.plain.Name), true, "", ""},
		{"http with another Host in a tunnel to 80", st.plain.Name + ":80", httpTalk(st.other.Name), false, "deny-default", "tunnel-http"},
		{"garbage in a tunnel to 80", st.plain.Name + ":80", func(c net.Conn, br *bufio.Reader) error {
			io.WriteString(c, "\x00\x01\x02 nonsense\r\n\r\n")
			resp, err := http.ReadResponse(br, nil)
			if err == nil && resp.StatusCode != 200 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			return err
		}, false, "deny-invalid", "tunnel-http"},
		// An https:// entry admits TLS only, also when the client tunnels.
		{"plain HTTP to an https-only name through CONNECT :80", st.httpsOnly.Name + ":80", httpTalk(st.httpsOnly.Name), false, "deny-default", "tunnel-http"},
		{"a second request in a tunnel to 80 is judged on its own", st.plain.Name + ":80", func(c net.Conn, br *bufio.Reader) error {
			// Pipelined: an admitted request, then one for a host that is not.
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+st.plain.Name+"\r\n\r\nGET / HTTP/1.1\r\nHost: "+st.other.Name+"\r\nConnection: close\r\n\r\n")
			for i, want := range []int{200, 200} {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					return err
				}
				io.Copy(io.Discard, resp.Body)
				if resp.StatusCode != want {
					if i == 0 {
						t.Errorf("first, admitted request in the tunnel: %d", resp.StatusCode)
					}
					return fmt.Errorf("request %d: status %d", i+1, resp.StatusCode)
				}
			}
			return nil
		}, false, "deny-default", "tunnel-http"},
	}
	for _, tc := range tunnelCases {
		c, br, resp := rawProxy(t, p.addr, "CONNECT "+tc.target+" HTTP/1.1\r\nHost: "+tc.target+"\r\n\r\n")
		if resp.StatusCode != 200 {
			t.Errorf("%s: CONNECT %d", tc.name, resp.StatusCode)
			continue
		}
		err := tc.talk(c, br)
		if (err == nil) != tc.wantOK {
			t.Errorf("%s: tunnel err = %v, want ok %v", tc.name, err, tc.wantOK)
		}
		c.Close()
	}
	recs, _ := p.audit(t)
	for _, tc := range tunnelCases {
		found := false
		for _, r := range recs {
			switch {
			case tc.listener != "":
				found = found || r["listener"] == tc.listener && r["rule"] == tc.rule && r["decision"] == "TCP_DENIED"
			case r["url"] == tc.target && r["method"] == "CONNECT" && (tc.rule == "" && r["decision"] == "TCP_TUNNEL" || r["rule"] == tc.rule && r["decision"] == "TCP_DENIED"):
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no audit record with rule %q", tc.name, tc.rule)
		}
	}
}

// tlsTalk runs a TLS handshake and one request inside the tunnel, with the
// given SNI ("" sends none; skipVerify for names the server has no
// certificate for).
func tlsTalk(sni string, skipVerify bool) func(net.Conn, *bufio.Reader) error {
	return func(c net.Conn, br *bufio.Reader) error {
		tc := tls.Client(c, &tls.Config{ServerName: sni, InsecureSkipVerify: skipVerify || sni == ""})
		if err := tc.Handshake(); err != nil {
			return err
		}
		io.WriteString(tc, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
}

func httpTalk(host string) func(net.Conn, *bufio.Reader) error {
	return func(c net.Conn, br *bufio.Reader) error {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		if !strings.HasPrefix(string(b), "hello") {
			return fmt.Errorf("answer %q", b)
		}
		return nil
	}
}

// The sandbox also serves the explicit proxy on a unix socket for the
// in-process api-proxy; tunnels and logs work the same there.
func TestExplicitOnUnixSocket(t *testing.T) {
	testnet.Require(t)
	up := testnet.NewUpstream(t, http.HandlerFunc(sayHello))
	p := startProxy(t, Config{Policy: mustPolicy(t, up.Name, "")})
	sock := t.TempDir() + "/egress.sock"
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go p.ServeProxy(ln)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy:       http.ProxyURL(&url.URL{Scheme: "http", Host: "egress.invalid:3128"}),
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return net.Dial("unix", sock) },
	}}
	resp, err := client.Get("https://" + up.Name + "/u")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(b), "hello "+up.Name) {
		t.Errorf("got %q", b)
	}
	client.CloseIdleConnections()
	recs, lines := p.audit(t)
	if r := findRec(t, recs, up.Name+":443"); r["decision"] != "TCP_TUNNEL" || r["client"] != "-" {
		t.Errorf("record %v", r)
	}
	if len(lines) != 1 || !strings.Contains(lines[0], " -:- "+up.Name+":443 ") {
		t.Errorf("access.log %q", lines)
	}
}
