package runner

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/awf-dev/awf/internal/cliproxy"
	"github.com/awf-dev/awf/internal/config"
	"github.com/awf-dev/awf/internal/inspect"
	"github.com/awf-dev/awf/internal/sandbox"
	"github.com/awf-dev/awf/internal/sandbox/native"
)

// The CLI proxy's files in the sandbox: root's, read-only. gh runs with
// its home, config and working directory in cliHome, where the agent can
// plant nothing (no config, no aliases, no extensions, no git hooks).
const (
	cliDir      = "/.awf/cli-proxy"
	cliHome     = cliDir + "/home"
	cliCA       = cliDir + "/ca.crt"
	cliCABundle = cliDir + "/combined-ca.crt"
)

// tokenVars never reach the agent when the CLI proxy holds the token (the
// original's list for --difc-proxy-host).
var tokenVars = []string{"GH_TOKEN", "GITHUB_TOKEN", "GITHUB_PERSONAL_ACCESS_TOKEN", "COPILOT_GITHUB_TOKEN",
	"GITHUB_API_TOKEN", "GITHUB_PAT", "GH_ACCESS_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"}

func cliProxyURL() string { return fmt.Sprintf("http://%s:%d", cliproxy.IP, cliproxy.Port) }

// ghUID is the user gh runs as: nobody, never the agent's own uid, so
// that the DIFC relay can admit gh alone (and gh reads only what anyone may).
func ghUID(c *config.Config) int {
	if c.User.UID == 65534 {
		return 65533
	}
	return 65534
}

// cliProxyNetExtra puts the CLI proxy's address on lo, lets the agent
// reach its port (nothing else there), and keeps the DIFC relay on
// 127.0.0.1:<port> for gh's uid alone.
func cliProxyNetExtra(c *config.Config) sandbox.NetExtra {
	p := netip.PrefixFrom(cliproxy.IP, 32)
	return sandbox.NetExtra{
		Loopback: []netip.Addr{cliproxy.IP},
		Skip:     []netip.Prefix{p},
		Accepts:  []sandbox.Accept{{Dst: p, Proto: "tcp", Min: cliproxy.Port, Max: cliproxy.Port}},
		Guards:   []sandbox.Guard{{Dst: netip.MustParsePrefix("127.0.0.0/8"), Port: c.CLIProxy.Port, UID: uint32(ghUID(c))}},
		// gh adds its token to a request for any host but github.com, so
		// `gh api http://127.0.0.1:<port>/` would hand it to a listener of
		// the agent's: gh may reach the relay and the egress proxy only.
		Confines: []sandbox.Confine{{UID: uint32(ghUID(c)), Allow: []sandbox.Accept{
			{Dst: netip.MustParsePrefix("127.0.0.1/32"), Proto: "tcp", Min: c.CLIProxy.Port, Max: c.CLIProxy.Port},
			{Dst: netip.PrefixFrom(sandbox.DefaultEgressIP, 32), Proto: "tcp", Min: sandbox.ExplicitPort, Max: sandbox.ExplicitPort},
		}}},
		Hosts: []string{cliproxy.IP.String() + "\tcli-proxy"},
	}
}

// cliProxyAgent adds the CLI proxy to the agent's environment and files:
// AWF_CLI_PROXY_URL/_IP as the original, no GitHub token, and the gh
// wrapper first on PATH.
func cliProxyAgent(c *config.Config, env map[string]string, files map[string][]byte, relayPEM []byte) map[string][]byte {
	if !c.CLIProxy.Enabled {
		return files
	}
	for _, k := range tokenVars {
		delete(env, k)
	}
	env["AWF_CLI_PROXY_URL"] = cliProxyURL()
	env["AWF_CLI_PROXY_IP"] = cliproxy.IP.String()
	for _, k := range []string{"NO_PROXY", "no_proxy"} {
		if v, ok := env[k]; ok && !strings.Contains(v, cliproxy.IP.String()) {
			env[k] = v + "," + cliproxy.IP.String()
		}
	}
	if files == nil {
		files = map[string][]byte{}
	}
	files[cliproxy.WrapperPath] = []byte(cliproxy.Wrapper)
	files[cliHome+"/.keep"] = nil
	if len(relayPEM) > 0 {
		// gh speaks TLS to the relay only (awf verifies the DIFC proxy
		// itself), so it trusts the relay's CA; other hosts through the
		// egress proxy keep the system roots.
		files[cliCA] = relayPEM
		sys, _ := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
		files[cliCABundle] = append(append(sys, '\n'), relayPEM...)
	}
	return files
}

// newCLIRelayCA makes the per-run CA of the DIFC relay's certificate
// (nil without the CLI proxy). Its key stays in awf's memory.
func newCLIRelayCA(c *config.Config) (*inspect.CA, error) {
	if !c.CLIProxy.Enabled {
		return nil, nil
	}
	ca, err := inspect.NewCA(48 * time.Hour)
	if err != nil {
		return nil, fmt.Errorf("CLI proxy: relay CA: %w", err)
	}
	return ca, nil
}

// CLIProxyLogDir is where the access log goes, as the original:
// <proxy-logs-dir>/cli-proxy-logs, else <work-dir>/cli-proxy-logs.
func CLIProxyLogDir(c *config.Config) string {
	if c.ProxyLogsDir != "" {
		return filepath.Join(c.ProxyLogsDir, "cli-proxy-logs")
	}
	return filepath.Join(c.WorkDir, "cli-proxy-logs")
}

// startCLIProxy serves the CLI proxy on 172.30.0.50:11000 in the sandbox
// and the DIFC relay on 127.0.0.1:<port> there. gh runs as nobody inside
// the sandbox's mount and network namespaces (entered with nsenter by the
// init's pid) but not its PID namespace: it sees no more than the agent
// sees, reaches only the relay (which admits its uid alone) and the egress
// proxy, and the agent cannot see the process or its environment, which
// holds the token.
func startCLIProxy(ctx context.Context, c *config.Config, sb *native.Sandbox, relayCA *inspect.CA, log *slog.Logger, serve func(string, func() error), closers *[]func()) error {
	cp := c.CLIProxy
	if !cp.Enabled {
		return nil
	}
	gh, err := exec.LookPath("gh")
	if err != nil {
		return fmt.Errorf("--difc-proxy-host: no gh on this host's PATH: %w", err)
	}
	if gh, err = filepath.EvalSymlinks(gh); err != nil {
		return err
	}
	if filepath.Dir(gh) == "/usr/local/bin" {
		log.Warn("the host's gh is in /usr/local/bin, where the sandbox's gh wrapper shadows it; install gh elsewhere (e.g. /usr/bin)")
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return fmt.Errorf("--difc-proxy-host needs nsenter (util-linux): %w", err)
	}
	token := c.HostEnv["GH_TOKEN"]
	if token == "" {
		token = c.HostEnv["GITHUB_TOKEN"]
	}
	if token == "" {
		log.Warn("CLI proxy: neither GH_TOKEN nor GITHUB_TOKEN is set; gh will run without a token")
	}
	uid := ghUID(c)
	gid := uid
	n := sb.Plan.Net
	env := []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
		"HOME=" + cliHome, "GH_CONFIG_DIR=" + cliHome, "XDG_CONFIG_HOME=" + cliHome, "XDG_DATA_HOME=" + cliHome,
		"XDG_STATE_HOME=" + cliHome, "XDG_CACHE_HOME=" + cliHome,
		"GH_HOST=localhost:" + strconv.Itoa(int(cp.Port)),
		"GH_NO_UPDATE_NOTIFIER=1", "GH_PROMPT_DISABLED=1",
		"HTTPS_PROXY=" + n.ExplicitProxyURL, "HTTP_PROXY=" + n.ExplicitProxyURL,
		"https_proxy=" + n.ExplicitProxyURL, "http_proxy=" + n.ExplicitProxyURL,
		"NO_PROXY=localhost,127.0.0.1", "no_proxy=localhost,127.0.0.1",
	}
	if token != "" {
		// gh reads GH_ENTERPRISE_TOKEN for any host but github.com, which
		// localhost:<port> is. No GH_TOKEN: it is github.com's, and
		// `gh api --hostname github.com` would then go around the DIFC
		// proxy (and its guard policy). gh holds a placeholder only: the
		// relay puts the token in on the way to the DIFC proxy, so gh
		// pointed at any other host has nothing to give away.
		env = append(env, "GH_ENTERPRISE_TOKEN="+cliproxy.PlaceholderToken)
	}
	if repo := c.HostEnv["GITHUB_REPOSITORY"]; repo != "" {
		env = append(env, "GH_REPO="+repo)
	}
	env = append(env, "NODE_EXTRA_CA_CERTS="+cliCA, "SSL_CERT_FILE="+cliCABundle, "GIT_SSL_CAINFO="+cliCABundle)
	var roots *x509.CertPool // nil: the host's roots
	if cp.CACert != "" {
		pem, err := os.ReadFile(cp.CACert)
		if err != nil {
			return fmt.Errorf("--difc-proxy-ca-cert: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--difc-proxy-ca-cert %s: no PEM certificate in it", cp.CACert)
		}
	}
	if relayCA == nil {
		return errors.New("CLI proxy: no relay CA (the run did not make one)")
	}
	leaf, err := relayCA.Leaf("localhost")
	if err != nil {
		return fmt.Errorf("CLI proxy: relay certificate: %w", err)
	}
	alog, err := cliproxy.OpenLog(CLIProxyLogDir(c))
	if err != nil {
		return err
	}
	*closers = append(*closers, func() { alog.Close() })
	srv := cliproxy.New(cliproxy.Config{
		Env: env, Log: alog, Secrets: []string{token},
		Command: func(ctx context.Context, args, env []string) *exec.Cmd {
			pid := sb.InitPID()
			// nsenter resolves --wd=dir before entering: env -C changes
			// into gh's own directory inside the sandbox's view.
			argv := append([]string{"-t", strconv.Itoa(pid), "-m", "-n", "-r",
				"-S", strconv.Itoa(uid), "-G", strconv.Itoa(gid), "--", "/usr/bin/env", "-C", cliHome, gh}, args...)
			cmd := exec.CommandContext(ctx, nsenter, argv...)
			cmd.Env = env
			if pid == 0 {
				cmd.Path, cmd.Args = "/bin/false", []string{"false"}
			}
			return cmd
		},
	})
	ln, err := sb.NS.Listen("tcp4", netip.AddrPortFrom(cliproxy.IP, cliproxy.Port).String())
	if err != nil {
		return err
	}
	*closers = append(*closers, func() { ln.Close() })
	serve("cli-proxy", func() error { return srv.Serve(ctx, ln) })

	relay, err := sb.NS.Listen("tcp4", netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), cp.Port).String())
	if err != nil {
		return fmt.Errorf("CLI proxy: DIFC relay: %w", err)
	}
	*closers = append(*closers, func() { relay.Close() })
	// The relay terminates gh's TLS and forwards each request to the DIFC
	// proxy over TLS (verified for "localhost", the name gh used when it
	// dialled the proxy itself), with the placeholder swapped for the token.
	rs := &http.Server{
		Handler: cliproxy.RelayHandler(cliproxy.RelayConfig{
			Target: net.JoinHostPort(cp.Host, strconv.Itoa(int(cp.Port))), ServerName: "localhost",
			Roots: roots, Token: token,
			OnError: func(err error) { alog.Log("tunnel_error", map[string]any{"error": err.Error()}) },
		}),
		ReadHeaderTimeout: time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	*closers = append(*closers, func() { rs.Close() })
	tlsRelay := tls.NewListener(relay, &tls.Config{Certificates: []tls.Certificate{*leaf}, MinVersion: tls.VersionTLS12})
	serve("difc-relay", func() error { return rs.Serve(tlsRelay) })
	return nil
}
