// Package runner is one sandboxed run from a validated Config: it computes
// the plan, prepares the kernel objects, starts the egress proxy and the
// api-proxy on listeners inside the agent's network namespace, runs the
// command and preserves the logs where the original preserves them.
package runner

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/awf-dev/awf/internal/agentenv"
	"github.com/awf-dev/awf/internal/apiproxy"
	"github.com/awf-dev/awf/internal/apireflect"
	"github.com/awf-dev/awf/internal/config"
	"github.com/awf-dev/awf/internal/domains"
	"github.com/awf-dev/awf/internal/egress"
	"github.com/awf-dev/awf/internal/ghawout"
	"github.com/awf-dev/awf/internal/helpers"
	"github.com/awf-dev/awf/internal/inspect"
	"github.com/awf-dev/awf/internal/logs"
	"github.com/awf-dev/awf/internal/notices"
	"github.com/awf-dev/awf/internal/sandbox"
	"github.com/awf-dev/awf/internal/sandbox/native"
)

// Options is one run.
type Options struct {
	Config *config.Config
	Stdio  native.IO
	Log    *slog.Logger

	// PreloadLib is the one-shot-token library; nil: none.
	PreloadLib []byte
	// Preflight runs the in-sandbox pre-flight check before the command.
	Preflight bool
	// RootCAs, when set, is the api-proxy's upstream trust (selftest only).
	RootCAs *x509.CertPool
	// Resolver, when set, is the egress proxy's resolver (selftest only).
	Resolver egress.Resolver
	// Grace between SIGTERM and SIGKILL on timeout or interruption.
	Grace time.Duration
	// OnStarted is called once the command runs.
	OnStarted func(time.Time)

	// cliRelay is the CA of the DIFC relay's certificate (cliproxy.go), set by Run.
	cliRelay *inspect.CA
}

// Dirs are where a run writes its logs and artifacts.
type Dirs struct {
	Work, Egress, APIProxy, Audit string
	// TS is the work dir's name without "awf-", used in preserved names.
	TS string
}

// RunDirs derives the directories from the config, as the original.
func RunDirs(c *config.Config) Dirs {
	d := Dirs{Work: c.WorkDir, TS: strings.TrimPrefix(filepath.Base(c.WorkDir), "awf-")}
	d.Egress = filepath.Join(c.WorkDir, "squid-logs")
	d.APIProxy = filepath.Join(c.WorkDir, "api-proxy-logs")
	if c.ProxyLogsDir != "" {
		d.Egress = c.ProxyLogsDir
		d.APIProxy = filepath.Join(c.ProxyLogsDir, "api-proxy-logs")
	}
	d.Audit = c.AuditDir
	if d.Audit == "" {
		d.Audit = filepath.Join(c.WorkDir, "audit")
	}
	return d
}

// BuildPlan computes the sandbox plan and the api-proxy's environment.
func BuildPlan(c *config.Config, id string, preload []byte, preflight bool) (*sandbox.Plan, agentenv.Result, error) {
	return BuildPlanCA(c, id, preload, preflight, nil, nil)
}

// BuildPlanCA is BuildPlan for a run with TLS inspection: caPEM is the
// run's CA certificate, trusted inside the sandbox (inspect.go); relayPEM
// is the DIFC relay's CA, trusted by the CLI proxy's gh alone (cliproxy.go).
func BuildPlanCA(c *config.Config, id string, preload []byte, preflight bool, caPEM, relayPEM []byte) (*sandbox.Plan, agentenv.Result, error) {
	res := agentenv.BuildResult(agentenv.FromConfig(c))
	hosts, _ := os.ReadFile("/etc/hosts")
	ws := c.HostEnv["GITHUB_WORKSPACE"]
	if ws == "" {
		ws, _ = os.Getwd()
	}
	var extra []string
	for _, m := range c.Mounts {
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		extra = append(extra, m.Host+":"+m.Container+":"+mode)
	}
	// The tool dirs are bound from the user's real home only when the
	// sandbox runs as that home's owner: binding root's (or anyone else's)
	// dirs writable for uid 1000 would let the agent plant files that
	// their owner later runs outside the sandbox.
	hostHome := c.User.Home
	if !ownedBy(hostHome, c.User.UID) {
		hostHome = ""
	}
	in := sandbox.Input{
		ID:              id,
		StateDir:        filepath.Join(native.StateRoot, id),
		Command:         []string{"/bin/bash", "-c", c.Command},
		User:            sandbox.User{UID: c.User.UID, GID: c.User.GID, Name: c.User.Name, Home: c.User.Home},
		HostHome:        hostHome,
		ToolCache:       toolCache(c),
		Workspace:       ws,
		Workdir:         c.ContainerWorkdir,
		AWFDir:          c.WorkDir,
		Hide:            hiddenDirs(c),
		HideScan:        tempDirs(),
		Extra:           extra,
		Env:             res.Agent,
		APIProxy:        c.APIProxy.Enabled,
		NetExtra:        netExtra(c), // hostaccess.go
		HostsFile:       string(hosts) + apireflect.HostsEntry(c.APIProxy.Enabled, sandbox.DefaultAPIProxyIP),
		ClaudeKeyScript: helpers.GetClaudeKeyScript(),
		AgentFiles:      caTrust(caPEM, res.Agent, cliProxyAgent(c, res.Agent, agentFiles(res.Agent, c.User.Home), relayPEM)), // inspect.go, cliproxy.go

		PreloadLib:  preload,
		MemoryBytes: c.MemoryLimitBytes,
		Pids:        c.Extras.PidsLimit, // --pids-limit (config/extras.go)
		TTY:         c.TTY,
		Timeout:     c.AgentTimeout,
		Preflight:   preflight,
	}
	if in.User.UID == 0 {
		in.User.UID, in.User.GID = config.FallbackID, config.FallbackID
	}
	in.NoOverlay = noOverlay(c)
	p, err := sandbox.Build(in)
	if p != nil { // explicit limits are a requirement (sandbox/native/degrade.go)
		p.Limits.Required = c.MemoryLimitSet
	}
	return p, res, err
}

// agentFiles are the settings files that make the agent CLIs use the
// api-proxy where an environment variable alone does not (clients/README.md).
func agentFiles(agent map[string]string, home string) map[string][]byte {
	out := map[string][]byte{}
	if u := agent["OPENAI_BASE_URL"]; u != "" {
		// codex reads its base URL only from $CODEX_HOME/config.toml; ~/.codex
		// is not bound from the host (it may hold codex's own login), so
		// this file starts empty.
		out[filepath.Join(home, ".codex", "config.toml")] = []byte(fmt.Sprintf("openai_base_url = %q\n", u))
	}
	if p := agent["GEMINI_CLI_SYSTEM_DEFAULTS_PATH"]; p == agentenv.GeminiSystemDefaultsPath {
		out[p] = []byte(agentenv.GeminiSystemDefaults)
	}
	if agent["CLAUDE_CODE_API_KEY_HELPER"] == "" {
		return out
	}
	for _, f := range helpers.ClaudeSettingsFiles(home) {
		var existing []byte
		if filepath.Dir(f) != filepath.Clean(home) {
			// In a tool dir bound from the host: start from the user's file.
			existing, _ = os.ReadFile(f)
		}
		if b, _, err := helpers.MergeClaudeSettings(existing, agentenv.ClaudeKeyHelperPath); err == nil {
			out[f] = b
		}
	}
	return out
}

// Run executes one run and returns the exit code awf should exit with.
func Run(ctx context.Context, o Options) (int, error) {
	c, log := o.Config, o.Log
	t0 := time.Now()
	if err := claimWorkDir(c); err != nil {
		return 1, err
	}
	dirs := RunDirs(c)
	for _, d := range []string{dirs.Audit, dirs.Egress, dirs.APIProxy} {
		if err := claimDir(d); err != nil {
			return 1, err
		}
	}
	recordArtifacts(dirs.Work, dirs.Egress, dirs.Audit)
	out := &ghawout.Outputs{Env: c.HostEnv, ProxyLogsDir: c.ProxyLogsDir, APIProxyDir: dirs.APIProxy, AuditDir: dirs.Audit}
	out.Begin()
	id := fmt.Sprintf("%s-%d", dirs.TS, os.Getpid())
	ca, hooks, err := newInspection(c) // inspect.go: --ssl-bump
	if err != nil {
		return 1, err
	}
	var caPEM []byte
	if ca != nil {
		caPEM = ca.PEM()
	}
	if o.cliRelay, err = newCLIRelayCA(c); err != nil { // cliproxy.go
		return 1, err
	}
	var relayPEM []byte
	if o.cliRelay != nil {
		relayPEM = o.cliRelay.PEM()
	}
	plan, env, err := BuildPlanCA(c, id, o.PreloadLib, o.Preflight, caPEM, relayPEM)
	if err != nil {
		return 1, err
	}
	for _, d := range env.Dropped {
		log.Warn(d.String())
	}
	if plan.NoOverlay != "" {
		mb, files := sandbox.CopyLimits(plan.Limits.MemoryBytes)
		log.Warn(fmt.Sprintf("overlayfs unavailable (%s): /usr/local/bin is assembled from read-only bind mounts and each tool dir is a copy in the run (up to %d MiB and %d files; larger entries are left out, and named)", plan.NoOverlay, mb>>20, files))
	}
	for _, l := range notices.Lines(notices.FromRun(c, env.Agent, plan)) {
		log.Log(ctx, l.Level, l.Msg)
	}
	policy, err := domains.Compile(c.AllowDomains, c.BlockDomains)
	if err != nil {
		return 1, err
	}
	if len(c.AllowDomains) == 0 {
		log.Debug("No allowed domains: all egress is blocked")
	}
	for _, l := range inspectNotices(hooks, policy) { // inspect.go
		log.Log(ctx, l.Level, l.Msg)
	}
	writeAudit(dirs.Audit, c, plan, policy, caPEM, log)

	sb, err := native.Prepare(plan, log)
	if err != nil {
		return 1, err
	}
	defer sb.Close()
	if o.Grace > 0 {
		sb.Grace = o.Grace
	}
	_ = logs.MarkRunning(plan.StateDir, dirs.Egress)

	srvCtx, stopServers := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	stopAll, err := startServices(srvCtx, &wg, o, sb, env, dirs, policy, out, egressInspect(ca, hooks))
	if err != nil {
		stopServers()
		return 1, err
	}
	log.Debug("sandbox ready", "elapsed", time.Since(t0))
	code, runErr := sb.Run(o.Stdio)
	if o.OnStarted != nil && !sb.Started.IsZero() {
		o.OnStarted(sb.Started)
	}
	stopServers()
	stopAll()
	wg.Wait()
	out.Finish(log)
	for _, l := range logs.BudgetLines(dirs.APIProxy) { // spend against each budget, and the guard that stopped the run
		log.Info(l)
	}
	if runErr != nil {
		return 1, runErr
	}
	if code != 0 {
		if rep, _, err := logs.BlockedFromDir(dirs.Egress, c.AllowDomains); err == nil && len(rep.Targets) > 0 {
			rep.Print(os.Stderr)
		}
	}
	return code, nil
}

// startServices makes the listeners inside the namespace and serves them.
func startServices(ctx context.Context, wg *sync.WaitGroup, o Options, sb *native.Sandbox, env agentenv.Result, dirs Dirs, policy *domains.Policy, out *ghawout.Outputs, insp egress.Inspect) (func(), error) {
	c, log, n := o.Config, o.Log, sb.Plan.Net
	ecfg := egress.Config{Policy: policy, DNSServers: c.DNSServers, LogDir: dirs.Egress, Resolver: o.Resolver, Host: hostAccess(c, sb), Inspect: insp}
	if h := c.APIProxy.ProviderEnv["AWF_SENSITIVE_OPENAI_TARGET"]; h != "" {
		ecfg.Sensitive = []string{h}
	}
	eg, err := egress.New(ecfg)
	if err != nil {
		return nil, err
	}
	var closers []func()
	stop := func() {
		for _, f := range closers {
			f()
		}
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		eg.Shutdown(sctx)
		cancel()
	}
	serve := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, egress.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				log.Debug("listener stopped", "name", name, "err", err)
			}
		}()
	}
	ip := n.EgressIP.String()
	tcp := []struct {
		port  uint16
		serve func(net.Listener) error
	}{
		{n.ExplicitPort, eg.ServeProxy},
		{n.TransparentHTTP, eg.ServeTransparentHTTP},
		{n.TransparentTLS, eg.ServeTransparentTLS},
		{n.DNSPort, eg.ServeDNSStream},
	}
	for _, l := range tcp {
		ln, err := sb.NS.Listen("tcp4", net.JoinHostPort(ip, fmt.Sprint(l.port)))
		if err != nil {
			stop()
			return nil, err
		}
		closers = append(closers, func() { ln.Close() })
		serve(ln.Addr().String(), func() error { return l.serve(ln) })
	}
	pc, err := sb.NS.ListenPacket("udp4", net.JoinHostPort(ip, fmt.Sprint(n.DNSPort)))
	if err != nil {
		stop()
		return nil, err
	}
	closers = append(closers, func() { pc.Close() })
	serve("dns/udp", func() error { return eg.ServeDNSPacket(pc) })
	hl, err := listenHostAccess(c, sb) // hostaccess.go
	if err != nil {
		stop()
		return nil, err
	}
	if hl != nil {
		closers = append(closers, func() { hl.Close() })
		serve("host-access", func() error { return eg.ServeHostAccess(hl) })
	}
	if err := startCLIProxy(ctx, c, sb, o.cliRelay, log, serve, &closers); err != nil { // cliproxy.go
		stop()
		return nil, err
	}

	if !c.APIProxy.Enabled {
		return stop, nil
	}
	// The api-proxy lives in this process, in the host namespace; it
	// reaches the egress proxy through a private unix socket, so its
	// upstream calls obey the same allowlist and are logged alike.
	sock := filepath.Join(sb.Plan.StateDir, "egress.sock")
	ul, err := net.Listen("unix", sock)
	if err != nil {
		stop()
		return nil, err
	}
	closers = append(closers, func() { ul.Close() })

	acfg := apiproxy.FromEnv(func(k string) string {
		if v, ok := c.APIProxy.GuardEnv[k]; ok { // budgets and model policy (config/guards.go)
			return v
		}
		if v, ok := c.APIProxy.ProviderEnv[k]; ok { // auth headers, OIDC, BYOK, Vertex (config/providers.go)
			return v
		}
		return env.Sidecar[k]
	})
	acfg.TokenLogDir = dirs.APIProxy
	acfg.Proxy = &url.URL{Scheme: "http", Host: net.JoinHostPort(ip, fmt.Sprint(n.ExplicitPort))}
	acfg.DialProxy = func(network, addr string) (net.Conn, error) { return net.Dial("unix", sock) }
	acfg.RootCAs = o.RootCAs
	acfg.Hook = out.SpanHook(log)
	secrets := acfg.LogSecrets()
	lf, err := os.OpenFile(filepath.Join(dirs.APIProxy, "api-proxy.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		stop()
		return nil, err
	}
	closers = append(closers, func() { lf.Close() })
	alog := apiproxy.NewLogger(lf, c.LogLevel, secrets)
	for _, w := range acfg.Warnings {
		log.Warn(w)
	}
	ap, err := apiproxy.New(acfg, alog)
	if err != nil {
		stop()
		return nil, err
	}
	// Logged with the api-proxy's address as client, as in the original;
	// its own upstream targets are admitted beyond the allowlist.
	var listening []string
	for _, p := range ap.ConfiguredProviders() { // every port binds; only configured upstreams are admitted
		listening = append(listening, p.Name)
	}
	targets := append(apiTargets(acfg.Targets, listening), ap.AuthHosts()...) // + OIDC token endpoints
	serve("egress/unix", func() error { return eg.ServeAPIProxy(egress.WithClientAddr(ul, n.APIProxyIP), targets) })
	lns := map[string]net.Listener{}
	for _, p := range ap.ListeningProviders() {
		ln, err := sb.NS.Listen("tcp4", net.JoinHostPort(n.APIProxyIP.String(), fmt.Sprint(p.Port)))
		if err != nil {
			stop()
			return nil, err
		}
		lns[p.Name] = ln
	}
	out.Reflect = ap.Reflect
	apCtx, apCancel := context.WithCancel(ctx)
	closers = append(closers, apCancel)
	serve("api-proxy", func() error { return ap.Serve(apCtx, lns) })
	return stop, nil
}

// noOverlay says why this run takes the overlay fallback ("" if not): the
// kernel refused a probe mount, or the test switch (native.ForceNoOverlayEnv).
func noOverlay(c *config.Config) string {
	if c.HostEnv[native.ForceNoOverlayEnv] == "1" {
		return native.ForceNoOverlayEnv + "=1"
	}
	if err := native.OverlayProbe(); err != nil {
		return err.Error()
	}
	return ""
}
