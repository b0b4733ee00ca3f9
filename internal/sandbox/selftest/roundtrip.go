package selftest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/awf-dev/awf/internal/config"
	"github.com/awf-dev/awf/internal/sandbox/native"
	"github.com/awf-dev/awf/internal/sandbox/runner"
)

// Addresses of the fake world inside the private namespace (documentation
// range, local on lo only there).
var (
	providerAddr = netip.MustParseAddr("203.0.113.2")
	deniedAddr   = netip.MustParseAddr("203.0.113.3")
)

const (
	providerName = "api.anthropic.com"
	deniedName   = "denied.example"
)

// script is what the sandboxed command does; bash built-ins only, so the
// self-test needs no curl on the host.
const script = `hp=${ANTHROPIC_BASE_URL#http://}
echo "== allowed"
exec 3<>/dev/tcp/${hp%:*}/${hp#*:} && printf 'POST /v1/messages HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}' >&3 && cat <&3
echo
echo "== denied"
exec 4<>/dev/tcp/172.30.0.10/3128 && printf 'CONNECT ` + deniedName + `:443 HTTP/1.1\r\nHost: ` + deniedName + `:443\r\n\r\n' >&4 && read -r line <&4 && echo "$line"
echo "== direct"
(exec 5<>/dev/tcp/` + "203.0.113.3" + `/22) 2>/dev/null && echo open || echo refused
echo "== env"
env
cat /proc/[0-9]*/environ 2>/dev/null | tr '\0' '\n'
echo "== end"
`

// staticResolver answers from a fixed table, so the egress proxy never
// consults the host's resolvers during the self-test.
type staticResolver map[string]netip.Addr

func (r staticResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[strings.TrimSuffix(strings.ToLower(host), ".")]; ok {
		return []netip.Addr{a}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// Inside runs the round trip. The caller has put this process in fresh
// network and mount namespaces. verbose shows awf's own log.
func Inside(verbose bool) []Check {
	var cs []Check
	fail := func(name string, err error, fix string) []Check {
		return append(cs, Check{Name: name, Err: err, Fix: fix})
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fail("private mount namespace", err, "")
	}
	if err := fakeNetwork(); err != nil {
		return fail("private test network", err, "")
	}
	tmp, err := os.MkdirTemp("", "awf-selftest-")
	if err != nil {
		return fail("temporary dir", err, "")
	}
	defer os.RemoveAll(tmp)
	os.Chmod(tmp, 0o755)
	hosts := filepath.Join(tmp, "hosts")
	os.WriteFile(hosts, []byte(fmt.Sprintf("127.0.0.1 localhost\n%s %s\n%s %s\n", providerAddr, providerName, deniedAddr, deniedName)), 0o644)
	if err := unix.Mount(hosts, "/etc/hosts", "", unix.MS_BIND, ""); err != nil {
		return fail("private /etc/hosts", err, "")
	}
	ca, leaf, err := makeCA(providerName)
	if err != nil {
		return fail("in-memory CA", err, "")
	}
	keyBytes := make([]byte, 16)
	rand.Read(keyBytes)
	key := "sk-ant-selftest-" + hex.EncodeToString(keyBytes)
	up, err := fakeProvider(leaf)
	if err != nil {
		return fail("fake provider", err, "")
	}
	defer up.close()

	ws := filepath.Join(tmp, "ws")
	os.Mkdir(ws, 0o777)
	os.Chmod(ws, 0o777)
	env := map[string]string{"PATH": os.Getenv("PATH"), "TMPDIR": tmp, "ANTHROPIC_API_KEY": key, "GITHUB_WORKSPACE": ws}
	for _, k := range []string{"SUDO_UID", "SUDO_GID", "SUDO_USER", "HOME", native.ForceNoOverlayEnv} {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	fs := pflag.NewFlagSet("selftest", pflag.ContinueOnError)
	flags := config.Register(fs)
	if err := fs.Parse([]string{"--enable-api-proxy", "--allow-domains", providerName, "--container-workdir", ws}); err != nil {
		return fail("configuration", err, "")
	}
	c, _, err := flags.Build([]string{script}, env)
	if err != nil {
		return fail("configuration", err, "")
	}
	logw := io.Discard
	if verbose {
		logw = os.Stderr
	}
	// The proxies log through the default logger.
	slog.SetDefault(slog.New(slog.NewTextHandler(logw, nil)))
	outR, outW, _ := os.Pipe()
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() { io.Copy(&out, outR); close(copied) }()
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	t0 := time.Now()
	code, err := runner.Run(context.Background(), runner.Options{
		Config:   c,
		Stdio:    native.IO{Stdin: devnull, Stdout: outW, Stderr: outW},
		Log:      slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: c.LogLevel})),
		RootCAs:  ca,
		Resolver: staticResolver{providerName: providerAddr, deniedName: deniedAddr},
		Grace:    time.Second,
	})
	outW.Close()
	<-copied
	os.RemoveAll(c.WorkDir)
	elapsed := time.Since(t0)
	text := out.String()
	if verbose {
		fmt.Fprintf(os.Stderr, "sandboxed output:\n%s\n", text)
	}
	if err != nil || code != 0 || !strings.Contains(text, "== end") {
		return fail("sandboxed round trip", fmt.Errorf("exit %d, %v; output: %.300q", code, err, text),
			"run `sudo awf selftest -v` to see the full log")
	}
	cs = append(cs, Check{Name: fmt.Sprintf("sandbox started and finished (%d ms)", elapsed.Milliseconds())})

	sec := func(name string) string {
		_, after, _ := strings.Cut(text, "== "+name+"\n")
		before, _, _ := strings.Cut(after, "\n== ")
		return before
	}
	seen := up.keys()
	var err1 error
	switch {
	case !strings.Contains(sec("allowed"), " 200 "):
		err1 = fmt.Errorf("the agent's call failed: %.200q", sec("allowed"))
	case len(seen) != 1 || seen[0] != key:
		err1 = fmt.Errorf("the provider did not get the real key (saw %d requests)", len(seen))
	}
	cs = append(cs, Check{"allowed call reached the provider with the real key injected", err1,
		"the api-proxy or the egress proxy is broken; run with -v and report the log", ""})

	var err2 error
	if !strings.Contains(sec("denied"), "403") {
		err2 = fmt.Errorf("CONNECT to %s answered %q", deniedName, strings.TrimSpace(sec("denied")))
	}
	cs = append(cs, Check{"a domain not on the allowlist is refused (403)", err2, "the egress policy is broken; run with -v", ""})

	var err3 error
	if strings.TrimSpace(sec("direct")) != "refused" {
		err3 = fmt.Errorf("a direct connection to another port was %q", strings.TrimSpace(sec("direct")))
	}
	cs = append(cs, Check{"direct connections are refused", err3, "the nftables ruleset did not apply; check the nf_tables modules", ""})

	var err4 error
	if strings.Contains(text, key) || strings.Contains(text, "ANTHROPIC_API_KEY=") {
		err4 = fmt.Errorf("the real key or ANTHROPIC_API_KEY is visible in the sandbox")
	} else if !strings.Contains(sec("env"), "ANTHROPIC_BASE_URL=") {
		err4 = fmt.Errorf("the agent environment lacks ANTHROPIC_BASE_URL")
	}
	cs = append(cs, Check{"the agent sees no key (environment and /proc/*/environ)", err4, "do not run this build; report it", ""})
	return cs
}

func fakeNetwork() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return err
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return err
	}
	for _, a := range []netip.Addr{providerAddr, deniedAddr} {
		ipn := &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(32, 32)}
		if err := netlink.AddrAdd(lo, &netlink.Addr{IPNet: ipn}); err != nil {
			return err
		}
	}
	return nil
}

func makeCA(name string) (*x509.CertPool, tls.Certificate, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "awf selftest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return pool, tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}, nil
}

type provider struct {
	srv  *http.Server
	mu   sync.Mutex
	seen []string
}

func (p *provider) keys() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func (p *provider) close() { p.srv.Close() }

func fakeProvider(cert tls.Certificate) (*provider, error) {
	ln, err := net.Listen("tcp", netip.AddrPortFrom(providerAddr, 443).String())
	if err != nil {
		return nil, err
	}
	p := &provider{}
	p.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.mu.Lock()
			p.seen = append(p.seen, r.Header.Get("X-Api-Key"))
			p.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":"msg_selftest","type":"message","usage":{"input_tokens":1,"output_tokens":1}}`)
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
	}
	go p.srv.ServeTLS(ln, "", "")
	return p, nil
}
