package runner

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/awf-dev/awf/internal/testnet"
)

// raw sends one hand-written request to addr from inside the sandbox (bash
// /dev/tcp) and prints what came back on one line.
func raw(addr, req string) string {
	host, port, _ := net.SplitHostPort(addr)
	return fmt.Sprintf(`(exec 3<>/dev/tcp/%s/%s && printf '%s' >&3 && timeout 3 cat <&3) 2>&1 | tr '\r\n' '  '`, host, port, req)
}

// TestHostAccessPortConfusion: with one host port open, every way of
// naming another host port (a Host header that disagrees with the URL,
// absolute-form on the transparent listener, IPv4-mapped and uppercase
// names, a trailing dot, the host-access listener dialled directly, UDP)
// reaches nothing else on the host.
func TestHostAccessPortConfusion(t *testing.T) {
	testnet.Require(t)
	port := hostService(t)
	other := secretService(t, "127.0.0.1:0")
	p, o := strconv.Itoa(port), strconv.Itoa(other)
	try := map[string]string{
		// explicit proxy: URL and Host disagree, both ways
		"hostmismatch1": raw("172.30.0.10:3128", "GET http://host.docker.internal:"+p+"/hello/x HTTP/1.1\\r\\nHost: host.docker.internal:"+o+"\\r\\nConnection: close\\r\\n\\r\\n"),
		"hostmismatch2": raw("172.30.0.10:3128", "GET http://host.docker.internal:"+o+"/ HTTP/1.1\\r\\nHost: host.docker.internal:"+p+"\\r\\nConnection: close\\r\\n\\r\\n"),
		// keep-alive: an allowed request, then one for the closed port
		"pipeline": raw("172.30.0.10:3128", "GET http://host.docker.internal:"+p+"/hello/a HTTP/1.1\\r\\nHost: host.docker.internal:"+p+"\\r\\n\\r\\n"+
			"GET http://host.docker.internal:"+o+"/ HTTP/1.1\\r\\nHost: host.docker.internal:"+o+"\\r\\nConnection: close\\r\\n\\r\\n"),
		// smuggling: CL and TE together, the body a request for the closed port
		"smuggle": raw("172.30.0.10:3128", "POST http://host.docker.internal:"+p+"/hello/s HTTP/1.1\\r\\nHost: host.docker.internal:"+p+"\\r\\nContent-Length: 4\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n0\\r\\n\\r\\n"+
			"GET http://host.docker.internal:"+o+"/ HTTP/1.1\\r\\nHost: host.docker.internal:"+o+"\\r\\nConnection: close\\r\\n\\r\\n"),
		// CONNECT spellings of the host with the closed port
		"mapped":   "curl -s -m 5 --noproxy '' -w %{http_connect} -p -x http://172.30.0.10:3128 http://[::ffff:172.17.0.1]:" + o + "/",
		"upper":    raw("172.30.0.10:3128", "CONNECT HOST.DOCKER.INTERNAL.:"+o+" HTTP/1.1\\r\\n\\r\\n"),
		"netgw":    raw("172.30.0.10:3128", "CONNECT 172.30.0.1:"+o+" HTTP/1.1\\r\\n\\r\\n"),
		"loop":     "curl -s -m 5 --noproxy '' -w %{http_connect} -p -x http://172.30.0.10:3128 http://127.0.0.1:" + o + "/",
		"loopname": "curl -s -m 5 --noproxy '' -w %{http_connect} -p -x http://172.30.0.10:3128 http://localhost:" + o + "/",
		// transparent listener: absolute-form and Host name the closed port
		"transparent": raw("192.0.2.1:80", "GET http://host.docker.internal:"+o+"/ HTTP/1.1\\r\\nHost: host.docker.internal:"+o+"\\r\\nConnection: close\\r\\n\\r\\n"),
		// the host-access listener dialled directly: no original destination
		"listener": raw("172.30.0.10:3131", "GET / HTTP/1.0\\r\\n\\r\\n"),
		// the open port through the host address, for contrast
		"open": "curl -s -m 5 --noproxy '*' http://172.17.0.1:" + p + "/hello/ok",
	}
	script := "set +e\n"
	for k, c := range try {
		script += "echo " + k + ": $(" + c + ")\n"
	}
	r := awf(t, nil, "--enable-host-access", "--allow-host-ports", p, "--", script)
	got := lines(r.stdout)
	if !strings.Contains(got["open"], "hello from the host /hello/ok") {
		t.Errorf("the open port: %q", got["open"])
	}
	if !strings.Contains(got["pipeline"], "hello from the host /hello/a") {
		t.Errorf("pipeline: the allowed first request failed: %q", got["pipeline"])
	}
	for k := range try {
		if strings.Contains(got[k], "secret") {
			t.Errorf("%s reached the closed host port: %q", k, got[k])
		}
	}
	for k := range try {
		if !strings.Contains(r.stdout, k+":") {
			t.Errorf("%s did not run", k)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}

	// Host access off: only the api proxy's ports mean anything on the
	// host name; port 80 (the transparent listener's) and the network
	// gateway stay closed.
	script = "set +e\n" +
		"echo t80: $(" + raw("192.0.2.1:80", "GET / HTTP/1.1\\r\\nHost: host.docker.internal\\r\\nConnection: close\\r\\n\\r\\n") + ")\n" +
		"echo x80: $(curl -s -m 5 -o /dev/null -w %{http_code} http://host.docker.internal/)\n" +
		"echo gw: $(curl -s -m 5 --noproxy '' -w %{http_connect} -p -x http://172.30.0.10:3128 http://172.30.0.1:" + p + "/)\n"
	r = awf(t, nil, "--", script)
	got = lines(r.stdout)
	for k, want := range map[string]string{"t80": "403 Forbidden", "x80": "403", "gw": "403"} {
		if !strings.Contains(got[k], want) {
			t.Errorf("host access off: %s: %q, want %q", k, got[k], want)
		}
	}
}
