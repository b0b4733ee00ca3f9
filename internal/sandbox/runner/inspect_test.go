package runner

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/awf-dev/awf/internal/testnet"
)

// inspectEcho answers with what the upstream received, so a test sees the
// exact path the proxy forwarded.
func inspectEcho(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "up %s %s %s", r.Method, r.RequestURI, r.Proto)
}

// TestSSLBumpURLRules: the per-run CA is trusted by curl inside the
// sandbox (no --cacert), a host an --allow-urls pattern names is inspected
// and judged by path (percent-encoding, dot segments, double slashes,
// case), on the explicit proxy and the transparent listener; a host no
// pattern names keeps end-to-end TLS with its real certificate.
func TestSSLBumpURLRules(t *testing.T) {
	testnet.Require(t)
	up := testnet.NewUpstream(t, http.HandlerFunc(inspectEcho))
	plain := testnet.NewUpstream(t, http.HandlerFunc(inspectEcho))
	logs := t.TempDir()
	testCA := readableCA(t)
	cases := []struct {
		name, url, flags string
		want             string // http code
	}{
		{"allowed", "/myorg/repo?x=1", "", "200"},
		{"other org", "/otherorg/repo", "", "403"},
		{"dot segments", "/myorg/../otherorg/repo", "--path-as-is", "403"},
		{"encoded dots", "/myorg/%2e%2e/otherorg/repo", "--path-as-is", "403"},
		{"encoded slash", "/myorg%2F..%2Fotherorg/repo", "--path-as-is", "403"},
		{"double slash", "//otherorg/repo", "--path-as-is", "403"},
		{"backslash", "/myorg/..%5Cotherorg", "--path-as-is", "403"},
		{"path parameters", "/myorg/..;/otherorg/repo", "--path-as-is", "403"},
		{"unreserved escape", "/my%6Frg/repo", "--path-as-is", "200"},
		{"path case", "/MyOrg/repo", "", "403"},
		{"transparent allowed", "/myorg/t", "--noproxy '*'", "200"},
		{"transparent denied", "/otherorg/t", "--noproxy '*'", "403"},
		{"h2", "/myorg/h2", "--http2", "200"},
	}
	var script strings.Builder
	script.WriteString("d=$(mktemp -d); trap 'rm -rf \"$d\"' EXIT\n")
	for i, c := range cases {
		fmt.Fprintf(&script, "echo \"case %d $(curl -s -m 10 %s -o $d/body%d -w '%%{http_code} %%{http_version}' 'https://%s%s')\"; cat $d/body%d; echo\n",
			i, c.flags, i, up.Name, c.url, i)
	}
	// Host in upper case: the same host.
	fmt.Fprintf(&script, "echo \"upper $(curl -s -m 10 -o /dev/null -w '%%{http_code}' 'https://%s/myorg/u')\"\n", strings.ToUpper(up.Name))
	// Not named by a pattern: tunnelled, so only the upstream's own CA works.
	fmt.Fprintf(&script, "echo \"tunnel $(curl -s -m 10 --cacert %s -o /dev/null -w '%%{http_code}' https://%s/otherorg/x)\"\n", testCA, plain.Name)
	fmt.Fprintf(&script, "echo \"tunnel-awfca $(curl -s -m 10 -o /dev/null -w '%%{http_code}' https://%s/otherorg/x)\"\n", plain.Name)
	auditDir := t.TempDir()
	r := awf(t, nil, "-d", up.Name+","+plain.Name, "--ssl-bump", "--allow-urls", "https://"+up.Name+"/myorg/*",
		"--proxy-logs-dir", logs, "--audit-dir", auditDir, "--", script.String())
	if r.code != 0 {
		t.Fatalf("code %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	out := r.stdout
	for i, c := range cases {
		m := regexp.MustCompile(fmt.Sprintf(`(?m)^case %d (\d+) (\S+)\n(.*)$`, i)).FindStringSubmatch(out)
		if m == nil {
			t.Errorf("%s: no result in\n%s", c.name, out)
			continue
		}
		if m[1] != c.want {
			t.Errorf("%s (%s): %s, want %s: %s", c.name, c.url, m[1], c.want, m[3])
		}
		switch {
		case c.want == "200" && !strings.HasPrefix(m[3], "up GET "):
			t.Errorf("%s: body %q", c.name, m[3])
		case c.want == "403" && !strings.Contains(m[3], "allow-urls") && !strings.Contains(m[3], "does not match any --allow-urls pattern"):
			t.Errorf("%s: 403 body %q", c.name, m[3])
		}
		if c.flags == "--http2" && m[2] != "2" {
			t.Errorf("h2: the agent spoke HTTP/%s", m[2])
		}
	}
	if !strings.Contains(out, "up GET /my%6Frg/repo ") {
		t.Errorf("the path must reach the upstream as sent:\n%s", out)
	}
	for _, w := range []string{"upper 200", "tunnel 200", "tunnel-awfca 000"} {
		if !strings.Contains(out, w+"\n") {
			t.Errorf("want %q in\n%s", w, out)
		}
	}
	access, _ := os.ReadFile(filepath.Join(logs, "access.log"))
	audit, _ := os.ReadFile(filepath.Join(logs, "audit.jsonl"))
	for _, w := range []string{
		"GET 200 TCP_MISS:HIER_DIRECT https://" + up.Name + "/myorg/repo?x=1",
		"GET 403 TCP_DENIED:HIER_NONE https://" + up.Name + "/otherorg/repo",
		"CONNECT 200 TCP_TUNNEL:HIER_DIRECT " + plain.Name + ":443",
	} {
		if !strings.Contains(string(access), w) {
			t.Errorf("access.log lacks %q:\n%s", w, access)
		}
	}
	if strings.Contains(string(access), "https://"+plain.Name) {
		t.Errorf("a host no pattern names was inspected:\n%s", access)
	}
	var denied int
	for _, l := range strings.Split(strings.TrimSpace(string(audit)), "\n") {
		var a struct{ URL, Rule, Reason, Listener, Method string }
		if json.Unmarshal([]byte(l), &a) == nil && a.Rule == "allow-urls" {
			denied++
			if a.Listener != "inspect" || a.Method != "GET" || !strings.HasPrefix(a.URL, "https://") {
				t.Errorf("audit line %s", l)
			}
		}
	}
	if denied < 7 {
		t.Errorf("%d allow-urls denials in audit.jsonl:\n%s", denied, audit)
	}

	// The policy manifest and `awf logs audit` show inspection.
	var m struct {
		SSLBumpEnabled bool
		Inspection     struct {
			CACertSha256   string
			Hooks          []string
			URLRules       []struct{ Pattern, Regex string }
			InspectedHosts []string
		}
		Rules []struct{ ID string }
	}
	b, err := os.ReadFile(filepath.Join(auditDir, "policy-manifest.json"))
	if err != nil || json.Unmarshal(b, &m) != nil {
		t.Fatalf("manifest: %v\n%s", err, b)
	}
	in := m.Inspection
	if !m.SSLBumpEnabled || len(in.CACertSha256) != 64 || strings.Join(in.Hooks, ",") != "allow-urls" ||
		len(in.URLRules) != 1 || in.URLRules[0].Regex != `^https://`+regexp.QuoteMeta(up.Name)+`/myorg/[^\s]*` ||
		strings.Join(in.InspectedHosts, ",") != up.Name {
		t.Errorf("manifest inspection: %s", b)
	}
	rep := awf(t, []string{"AWF_AUDIT_DIR=" + auditDir}, "logs", "audit", "--source", logs, "--format", "markdown")
	t.Logf("awf logs audit:\n%s", rep.stdout)
	for _, w := range []string{"**SSL Bump**: enabled (hooks: allow-urls; inspected hosts: " + up.Name + ")",
		"| allow-urls | ", "https://" + up.Name + "/myorg/*"} {
		if !strings.Contains(rep.stdout, w) {
			t.Errorf("awf logs audit lacks %q:\n%s\n%s", w, rep.stdout, rep.stderr)
		}
	}
}

// TestSSLBumpUpstreamVerified: inspection does not weaken the check of the
// real host's certificate: one signed by an unknown CA fails (502, with
// the reason), and nothing reaches that upstream.
func TestSSLBumpUpstreamVerified(t *testing.T) {
	testnet.Require(t)
	name, addr := testnet.AllocHost(t)
	rogue, err := testnet.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	hits := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	ln, err := net.Listen("tcp", addr+":443")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener.Close()
	srv.Listener = ln
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{rogue.Leaf(name)}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	r := awf(t, nil, "-d", name, "--ssl-bump", "--allow-urls", "https://"+name+"/*", "--",
		"curl -s -m 10 -w ' %{http_code}' https://"+name+"/x")
	if !strings.Contains(r.stdout, "upstream certificate verification failed") || !strings.HasSuffix(r.stdout, " 502") {
		t.Fatalf("stdout %q\n%s", r.stdout, r.stderr)
	}
	if hits != 0 {
		t.Errorf("the upstream with the bad certificate got %d requests", hits)
	}
}

// wsEcho is a WebSocket echo endpoint prefixing "echo:".
func wsEcho(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	for {
		typ, b, err := c.Read(r.Context())
		if err != nil {
			return
		}
		c.Write(r.Context(), typ, append([]byte("echo:"), b...))
	}
}

// wsClient is a minimal WebSocket client for Node 20 (no global WebSocket):
// https.request with Upgrade, one masked text frame, the echo read back.
const wsClient = `
const https = require('https');
const crypto = require('crypto');
const req = https.request(process.argv[2], {headers: {Connection: 'Upgrade', Upgrade: 'websocket',
  'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': crypto.randomBytes(16).toString('base64')}});
req.on('response', r => { console.log('no upgrade', r.statusCode); process.exit(1); });
req.on('error', e => { console.log('error', e.message); process.exit(1); });
req.on('upgrade', (res, sock) => {
  const msg = Buffer.from(process.argv[3]);
  const mask = crypto.randomBytes(4);
  const frame = Buffer.concat([Buffer.from([0x81, 0x80 | msg.length]), mask, Buffer.from(msg.map((b, i) => b ^ mask[i % 4]))]);
  sock.write(frame);
  let buf = Buffer.alloc(0);
  sock.on('data', d => {
    buf = Buffer.concat([buf, d]);
    if (buf.length >= 2 && buf.length >= 2 + (buf[1] & 0x7f)) {
      console.log('ws', res.statusCode, buf.slice(2, 2 + (buf[1] & 0x7f)).toString());
      process.exit(0);
    }
  });
});
req.end();
setTimeout(() => { console.log('timeout'); process.exit(1); }, 10000);
`

// wsPython is a raw-socket WebSocket client (no proxy: the transparent
// TLS listener), trusting SSL_CERT_FILE through Python's default context.
const wsPython = `
import base64, os, socket, ssl, sys
host, path, msg = sys.argv[1], sys.argv[2], sys.argv[3].encode()
s = ssl.create_default_context().wrap_socket(socket.create_connection((host, 443), timeout=10), server_hostname=host)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, host, key)).encode())
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
status = head.split(b" ")[1].decode()
if status != "101":
    print("pyws", status); sys.exit(1)
mask = os.urandom(4)
s.sendall(bytes([0x81, 0x80 | len(msg)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(msg)))
data = b""
while len(data) < 2 or len(data) < 2 + (data[1] & 0x7f):
    data += s.recv(4096)
print("pyws", status, data[2:2 + (data[1] & 0x7f)].decode())
`

// TestSSLBumpClients: node (a WebSocket, trusting NODE_EXTRA_CA_CERTS),
// git (clone over HTTPS, GIT_SSL_CAINFO), python's urllib (SSL_CERT_FILE)
// and curl with the system bundle alone work with an inspected host, and
// the URL rules judge git's requests too. The CA's key is nowhere in the
// sandbox's files and no process there is awf's.
func TestSSLBumpClients(t *testing.T) {
	testnet.Require(t)
	gitBackend, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git")
	}
	repos := t.TempDir()
	for _, org := range []string{"myorg", "otherorg"} {
		dir := filepath.Join(repos, org, "repo.git")
		src := t.TempDir()
		for _, args := range [][]string{{"init", "-q", "-b", "main", src}, {"-C", src, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", org + " commit"},
			{"clone", "-q", "--bare", src, dir}} {
			if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
				t.Fatalf("git %v: %v %s", args, err, out)
			}
		}
	}
	backend := &cgi.Handler{Path: gitBackend, Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + repos, "GIT_HTTP_EXPORT_ALL=1"}}
	up := testnet.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/myorg/ws" {
			wsEcho(w, r)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	ws := workspace(t)
	if err := os.WriteFile(filepath.Join(ws, "ws.js"), []byte(wsClient), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "ws.py"), []byte(wsPython), 0o644); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`d=$(mktemp -d); trap 'rm -rf "$d"' EXIT; cd "$d"
git clone -q https://%[1]s/myorg/repo.git a && git -C a log --format=%%s
git clone -q https://%[1]s/otherorg/repo.git b 2>&1 | head -3; echo "denied clone rc=${PIPESTATUS[0]}"
node %[2]s/ws.js https://%[1]s/myorg/ws hello-through-inspection
node %[2]s/ws.js https://%[1]s/otherorg/ws x
/usr/bin/python3 -c 'import urllib.request,sys; print("py", urllib.request.urlopen(sys.argv[1]).status)' https://%[1]s/myorg/repo.git/info/refs?service=git-upload-pack 2>&1 | tail -1
/usr/bin/python3 %[2]s/ws.py %[1]s /myorg/ws transparent-ws 2>&1 | tail -1
/usr/bin/python3 %[2]s/ws.py %[1]s /otherorg/ws x 2>&1 | tail -1
env -u SSL_CERT_FILE -u CURL_CA_BUNDLE curl -s -o /dev/null -w 'system-bundle %%{http_code}\n' https://%[1]s/myorg/repo.git/info/refs?service=git-upload-pack
%[3]s
echo "procs: $(cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' ' ')"
echo "bundle: $(grep -c 'BEGIN CERTIFICATE' $SSL_CERT_FILE) extra: $NODE_EXTRA_CA_CERTS"
`, up.Name, ws, probe("grep", "'YEK ETAVIRP'", "/.awf", "/etc/ssl", "/etc/pki", "$HOME"))
	logs := t.TempDir()
	r := awf(t, nil, "-d", up.Name, "--ssl-bump", "--allow-urls", "https://"+up.Name+"/myorg/*", "--proxy-logs-dir", logs, "--", script)
	out := r.stdout
	for _, w := range []string{"myorg commit\n", "denied clone rc=128", "ws 101 echo:hello-through-inspection", "no upgrade 403", "extra: /.awf/ssl/awf-ca.crt", "system-bundle 200"} {
		if !strings.Contains(out, w) {
			t.Errorf("want %q in:\n%s\n%s", w, out, r.stderr)
		}
	}
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		for _, w := range []string{"py 200\n", "pyws 101 echo:transparent-ws\n", "pyws 403\n"} {
			if !strings.Contains(out, w) {
				t.Errorf("python (SSL_CERT_FILE; WebSocket on the transparent listener): want %q in\n%s", w, out)
			}
		}
	}
	if strings.Contains(out, "otherorg commit") {
		t.Error("a clone outside the URL rules succeeded")
	}
	if !regexp.MustCompile(`(?m)^ok absent`).MatchString(out) {
		t.Errorf("a private key is readable in the sandbox (or the probe failed):\n%s", out)
	}
	if m := regexp.MustCompile(`procs: (.*)`).FindStringSubmatch(out); m == nil || strings.Contains(m[1], "egress") || strings.Contains(m[1], "/awf ") {
		t.Errorf("awf's process is visible in the sandbox: %v", m)
	}
	// The key is in no file awf wrote either.
	for _, d := range []string{logs} {
		filepath.Walk(d, func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				if b, _ := os.ReadFile(p); strings.Contains(string(b), "PRIVATE KEY") {
					t.Errorf("%s holds a private key", p)
				}
			}
			return nil
		})
	}
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		audit, _ := os.ReadFile(filepath.Join(logs, "audit.jsonl"))
		found := false
		for _, l := range strings.Split(string(audit), "\n") {
			var a struct{ Listener, Reason string }
			if json.Unmarshal([]byte(l), &a) == nil && a.Listener == "tls" && strings.HasSuffix(a.Reason, "inspected") {
				found = true
			}
		}
		if !found {
			t.Errorf("no inspected connection on the transparent listener:\n%s", audit)
		}
	}
	access, _ := os.ReadFile(filepath.Join(logs, "access.log"))
	if !strings.Contains(string(access), "GET 101 TCP_MISS:HIER_DIRECT https://"+up.Name+"/myorg/ws") ||
		!strings.Contains(string(access), "/myorg/repo.git/info/refs?service=git-upload-pack") {
		t.Errorf("access.log:\n%s", access)
	}
}

// TestEgressCorpusWithSSLBump: the sandbox's egress corpus (allowed
// requests work, every bypass attempt fails fast) with every admitted
// HTTPS host inspected.
func TestEgressCorpusWithSSLBump(t *testing.T) { egressCorpus(t, true) }
