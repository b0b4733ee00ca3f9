package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/awf-dev/awf/internal/domains"
	"github.com/awf-dev/awf/internal/egress"
	"github.com/spf13/pflag"
)

// Flags holds the raw values of the main command's flags. Register creates
// it; Build validates it into a Config.
type Flags struct {
	fs *pflag.FlagSet

	allowDomains, blockDomains         []string
	allowDomainsFile, blockDomainsFile string
	dnsServers                         string

	security                                                   securityFlags // security.go
	openaiTarget, anthropicTarget, copilotTarget, geminiTarget string
	openaiBasePath, anthropicBasePath, geminiBasePath          string
	rateRPM, rateRPH, rateBytesPM                              string
	noRateLimit                                                bool
	guards                                                     *guardFlags    // guards.go
	providers                                                  *providerFlags // providers.go
	hostedWeb                                                  hostedWebFlags // hostedweb.go
	inspect                                                    inspectFlags   // inspect.go: --ssl-bump, --allow-urls

	env        []string
	envAll     bool
	envFile    string
	excludeEnv []string
	mounts     []string

	containerWorkdir string
	memoryLimit      string
	tty              bool
	agentTimeout     string
	logLevel         string
	keepContainers   bool
	workDir          string
	proxyLogsDir     string
	auditDir         string

	hostAccess hostAccessFlags // hostaccess.go

	cfg    configFileFlags // configfile.go: --config
	extras extraFlags      // extras.go: --ruleset-file, --session-state-dir, --diagnostic-logs, --dns-over-https, --pids-limit
	compat compatFlags     // compat.go: the compatibility-only flags

	// ValidateAllowed and ValidateBlocked check each allowlist and blocklist
	// entry (nil: domains.Validate and domains.ValidateBlocked); Build adds
	// the original's "Invalid [blocked ]domain or pattern: " prefix.
	ValidateAllowed func(entry string) error
	ValidateBlocked func(entry string) error
	// Sys is the host access Build needs (files, users, clock). Zero value:
	// the real host.
	Sys System
}

// System is the host access Build needs, replaceable in tests.
type System struct {
	ReadFile   func(string) ([]byte, error)
	Stat       func(string) (fs.FileInfo, error)
	Geteuid    func() int
	LookupID   func(uid string) (*user.User, error)
	LookupName func(name string) (*user.User, error)
	Now        func() time.Time
}

func (s System) withDefaults() System {
	if s.ReadFile == nil {
		s.ReadFile = os.ReadFile
	}
	if s.Stat == nil {
		s.Stat = os.Stat
	}
	if s.Geteuid == nil {
		s.Geteuid = os.Geteuid
	}
	if s.LookupID == nil {
		s.LookupID = user.LookupId
	}
	if s.LookupName == nil {
		s.LookupName = user.Lookup
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	return s
}

// Register adds the main command's flags to fs.
func Register(fs *pflag.FlagSet) *Flags {
	f := &Flags{fs: fs}
	f.cfg.register(fs)
	// Domain filtering.
	fs.StringArrayVarP(&f.allowDomains, "allow-domains", "d", nil, "Comma-separated allowed `domains` (repeatable). github.com = domain and subdomains; *.github.com = subdomains; https://x = HTTPS only; http://x = HTTP only")
	fs.StringVar(&f.allowDomainsFile, "allow-domains-file", "", "Read allowed domains from `path` (one per line or comma-separated, # comments)")
	fs.StringArrayVar(&f.blockDomains, "block-domains", nil, "Comma-separated blocked `domains`, overriding the allowlist (repeatable). Supports wildcards")
	fs.StringVar(&f.blockDomainsFile, "block-domains-file", "", "Read blocked domains from `path` (one per line, # comments)")
	fs.StringVar(&f.dnsServers, "dns-servers", "", "Comma-separated trusted DNS `servers` (auto-detected from host if omitted)")

	// Agent configuration.
	fs.StringArrayVarP(&f.env, "env", "e", nil, "Environment variable `KEY=VALUE` for the command (repeatable)")
	fs.BoolVar(&f.envAll, "env-all", false, "Pass all host environment variables to the command (excludes system vars like PATH and, with the API proxy, API keys)")
	fs.StringArrayVar(&f.excludeEnv, "exclude-env", nil, "Exclude a variable (`name`) from --env-all and --env-file (repeatable)")
	fs.StringVar(&f.envFile, "env-file", "", "Read environment variables from a `file` (KEY=VALUE, one per line)")
	fs.StringArrayVarP(&f.mounts, "mount", "v", nil, "Bind mount `host:container[:ro|rw]` (repeatable)")
	fs.StringVar(&f.containerWorkdir, "container-workdir", "", "Working `directory` of the command (default: the user's home)")
	fs.StringVar(&f.memoryLimit, "memory-limit", "6g", "Memory `limit` of the command (e.g. 4g, 6g, 512m)")
	fs.BoolVar(&f.tty, "tty", false, "Allocate a pseudo-TTY (interactive tools like Claude Code)")

	// API proxy.
	f.security.register(fs)
	fs.StringVar(&f.copilotTarget, "copilot-api-target", "", "Target `host` for Copilot API requests (env COPILOT_API_TARGET; default derived from GITHUB_SERVER_URL)")
	fs.StringVar(&f.openaiTarget, "openai-api-target", "", "Target `host` for OpenAI API requests (env OPENAI_API_TARGET; default api.openai.com)")
	fs.StringVar(&f.openaiBasePath, "openai-api-base-path", "", "Base `path` prefix for OpenAI API requests (env OPENAI_API_BASE_PATH)")
	fs.StringVar(&f.anthropicTarget, "anthropic-api-target", "", "Target `host` for Anthropic API requests (env ANTHROPIC_API_TARGET; default api.anthropic.com)")
	fs.StringVar(&f.anthropicBasePath, "anthropic-api-base-path", "", "Base `path` prefix for Anthropic API requests (env ANTHROPIC_API_BASE_PATH)")
	fs.StringVar(&f.geminiTarget, "gemini-api-target", "", "Target `host` for Gemini API requests (env GEMINI_API_TARGET; default generativelanguage.googleapis.com)")
	fs.StringVar(&f.geminiBasePath, "gemini-api-base-path", "", "Base `path` prefix for Gemini API requests (env GEMINI_API_BASE_PATH)")
	fs.StringVar(&f.rateRPM, "rate-limit-rpm", "", "Max requests per minute per provider (`n`) (requires --enable-api-proxy)")
	fs.StringVar(&f.rateRPH, "rate-limit-rph", "", "Max requests per hour per provider (`n`) (requires --enable-api-proxy)")
	fs.StringVar(&f.rateBytesPM, "rate-limit-bytes-pm", "", "Max request bytes per minute per provider (`n`) (requires --enable-api-proxy)")
	fs.BoolVar(&f.noRateLimit, "no-rate-limit", false, "Disable rate limiting in the API proxy (requires --enable-api-proxy)")
	f.guards = registerGuards(fs)
	f.hostedWeb.register(fs)            // hostedweb.go
	f.inspect.register(fs)              // inspect.go
	f.providers = registerProviders(fs) // providers.go

	f.hostAccess.register(fs)

	// Logging and debug.
	fs.StringVar(&f.logLevel, "log-level", "info", "Log `level`: debug, info, warn, error")
	fs.BoolVarP(&f.keepContainers, "keep-containers", "k", false, "Keep the sandbox's work files after the command exits")
	fs.StringVar(&f.agentTimeout, "agent-timeout", "", "Maximum time in `minutes` for the command (default: no limit)")
	fs.StringVar(&f.workDir, "work-dir", "", "Put temporary files in `dir` (default: $TMPDIR/awf-<ms>)")
	fs.StringVar(&f.proxyLogsDir, "proxy-logs-dir", "", "Write the proxy logs to `dir`")
	fs.StringVar(&f.auditDir, "audit-dir", "", "Write audit artifacts to `dir` (env AWF_AUDIT_DIR; default <work-dir>/audit)")
	f.extras.register(fs)
	f.compat.register(fs) // last: only the names nobody else registered
	return f
}

func (f *Flags) changed(name string) bool {
	fl := f.fs.Lookup(name)
	return fl != nil && fl.Changed
}

// errorf builds a configuration error. All of them mean exit code 1.
func errorf(format string, a ...any) error { return &Error{Msg: fmt.Sprintf(format, a...)} }

// Error is a configuration error. The message is the user-facing text and
// may span lines.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// ErrNoCommand is returned (wrapped in *Error's text) when no command follows `--`.
var ErrNoCommand = errors.New("No command specified. Use -- to separate command from options.\nExample: awf --allow-domains github.com -- curl https://api.github.com")

var (
	memoryRe  = regexp.MustCompile(`^(\d+)([bkmg])$`)
	timeoutRe = regexp.MustCompile(`^[1-9]\d*$`)
)

// Build validates the flags, the command words (what follows `--`) and the
// host environment into a Config. The checks run in the original's order so
// that the first error reported is the same.
func (f *Flags) Build(args []string, env map[string]string) (*Config, []Warning, error) {
	sys := f.Sys.withDefaults()
	var warns []Warning
	warn := func(l slog.Level, format string, a ...any) {
		warns = append(warns, Warning{Level: l, Msg: fmt.Sprintf(format, a...)})
	}
	c := &Config{HostEnv: env}

	args = f.extras.fixArgs(f.fs, args) // --dns-over-https's optional value
	if len(args) == 0 {
		return nil, nil, ErrNoCommand
	}
	c.Command = JoinCommand(args)
	cfgWarns, err := f.cfg.apply(f.fs, sys) // --config: before any flag is read
	if err != nil {
		return nil, nil, err
	}
	warns = append(warns, cfgWarns...)

	lvl, err := parseLogLevel(f.logLevel)
	if err != nil {
		return nil, nil, err
	}
	c.LogLevel = lvl
	secWarns, err := f.security.apply(f.fs, c) // first: strict mode resets the flags it ignores
	if err != nil {
		return nil, nil, err
	}
	warns = append(warns, secWarns...)

	compatWarns, err := f.compat.check(f.fs, f.cfg.fromConfig) // compat.go
	if err != nil {
		return nil, nil, err
	}
	warns = append(warns, compatWarns...)

	// Domains.
	allow := domains.SplitList(strings.Join(f.allowDomains, ","))
	if f.allowDomainsFile != "" {
		more, err := readDomainsFile(sys, f.allowDomainsFile)
		if err != nil {
			return nil, nil, errorf("Failed to read domains file: %v", err)
		}
		allow = dedupe(append(allow, more...))
	}
	allow, rsWarns, err := f.extras.mergeRulesets(sys, c, allow) // extras.go: --ruleset-file
	if err != nil {
		return nil, nil, err
	}
	warns = append(warns, rsWarns...)
	if len(allow) == 0 {
		warn(slog.LevelDebug, "No allowed domains specified - all network access will be blocked")
	}
	tg, err := f.targets(env)
	if err != nil {
		return nil, nil, err
	}
	c.APIProxy.Targets = tg.Targets
	for _, w := range tg.warnings {
		warn(slog.LevelWarn, "%s", w)
	}
	added := AutoAllowed(tg.Targets, env)
	for _, d := range added {
		if !contains(allow, d) {
			allow = append(allow, d)
			c.AutoAdded = append(c.AutoAdded, d)
		}
	}
	if len(c.AutoAdded) > 0 {
		warn(slog.LevelDebug, "Auto-added to allowed domains: %s", strings.Join(c.AutoAdded, ", "))
	}
	validAllow, validBlock := f.ValidateAllowed, f.ValidateBlocked
	if validAllow == nil {
		validAllow = domains.Validate
	}
	if validBlock == nil {
		validBlock = domains.ValidateBlocked
	}
	for _, d := range allow {
		if err := validAllow(d); err != nil {
			return nil, nil, errorf("Invalid domain or pattern: %v", err)
		}
		if n, _ := domains.Inspect(d, false); n != nil { // ignored entries, shared suffixes: once per entry
			warn(slog.LevelWarn, "%s", n)
		}
	}
	c.AllowDomains = allow

	block := domains.SplitList(strings.Join(f.blockDomains, ","))
	if f.blockDomainsFile != "" {
		more, err := readDomainsFile(sys, f.blockDomainsFile)
		if err != nil {
			return nil, nil, errorf("Failed to read blocked domains file: %v", err)
		}
		block = dedupe(append(block, more...))
	}
	for _, d := range block {
		if err := validBlock(d); err != nil {
			return nil, nil, errorf("Invalid blocked domain or pattern: %v", err)
		}
		if n, _ := domains.Inspect(d, true); n != nil { // broadened entries
			warn(slog.LevelWarn, "%s", n)
		}
	}
	c.BlockDomains = block

	// Environment.
	for _, e := range f.env {
		name, value, ok := strings.Cut(e, "=")
		if !ok || name == "" {
			return nil, nil, errorf("Invalid environment variable format: %s (expected KEY=VALUE)", e)
		}
		c.Env.Extra = append(c.Env.Extra, EnvVar{Name: name, Value: value})
	}
	c.Env.All = f.envAll
	c.Env.Exclude = append([]string(nil), f.excludeEnv...)
	if f.envFile != "" {
		data, err := sys.ReadFile(f.envFile)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, nil, errorf("--env-file: file not found: %s", f.envFile)
			}
			return nil, nil, errorf("--env-file: %v", err)
		}
		vars, bad := ParseEnvFile(data)
		for _, line := range bad {
			warn(slog.LevelWarn, "--env-file: ignoring line %d (expected KEY=VALUE with KEY matching [A-Za-z_][A-Za-z0-9_]*)", line)
		}
		c.Env.File = f.envFile
		c.Env.FileVars = vars
	}

	// Mounts.
	for _, m := range f.mounts {
		mt, reason := parseMount(sys, m)
		if reason != "" {
			return nil, nil, errorf("Invalid volume mount: %s\nReason: %s", m, reason)
		}
		c.Mounts = append(c.Mounts, mt)
	}

	// DNS.
	if f.changed("dns-servers") {
		servers, err := egress.ParseDNSServers(f.dnsServers)
		if err != nil {
			return nil, nil, errorf("Invalid DNS servers: %v", err)
		}
		c.DNSServers = servers
	}

	// Memory.
	m := memoryRe.FindStringSubmatch(strings.ToLower(f.memoryLimit))
	if m == nil {
		return nil, nil, errorf("Invalid --memory-limit value %q. Expected format: <number><unit> (e.g., 2g, 512m, 4g)", f.memoryLimit)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n <= 0 {
		return nil, nil, errorf("Invalid --memory-limit value %q. Memory limit must be a positive number.", f.memoryLimit)
	}
	shift := map[string]uint{"b": 0, "k": 10, "m": 20, "g": 30}[m[2]]
	if n > (1<<62)>>shift {
		return nil, nil, errorf("Invalid --memory-limit value %q. Memory limit is too large.", f.memoryLimit)
	}
	c.MemoryLimit = strings.ToLower(f.memoryLimit)
	c.MemoryLimitBytes = n << shift
	c.MemoryLimitSet = f.changed("memory-limit")

	// Timeout.
	if f.changed("agent-timeout") {
		if !timeoutRe.MatchString(f.agentTimeout) {
			return nil, nil, errorf("--agent-timeout must be a positive integer (minutes)")
		}
		mins, err := strconv.Atoi(f.agentTimeout)
		if err != nil || mins > 1<<20 {
			return nil, nil, errorf("--agent-timeout must be a positive integer (minutes)")
		}
		c.AgentTimeout = time.Duration(mins) * time.Minute
		warn(slog.LevelInfo, "Agent timeout set to %d minutes", mins)
	}

	// API proxy and rate limits.
	c.APIProxy.Keys = ReadKeys(env)
	rl, err := f.rateLimit(c.APIProxy.Enabled)
	if err != nil {
		return nil, nil, err
	}
	c.APIProxy.RateLimit = rl
	if c.APIProxy.GuardEnv, err = f.guards.build(c.APIProxy.Enabled, c.AgentTimeout); err != nil {
		return nil, nil, err
	}
	pvWarns, pvExclude, err := f.buildProviders(env, c) // providers.go
	if err != nil {
		return nil, nil, err
	}
	warns = append(warns, pvWarns...)
	c.Env.Exclude = append(c.Env.Exclude, pvExclude...)
	hwWarns, err := f.hostedWeb.build(c) // hostedweb.go
	if err != nil {
		return nil, nil, err
	}
	warns = append(warns, hwWarns...)
	inWarns, err := f.inspect.build(c) // inspect.go
	if err != nil {
		return nil, nil, err
	}
	warns = append(warns, inWarns...)
	haWarns, err := f.hostAccess.build(sys, c) // hostaccess.go
	if err != nil {
		return nil, nil, err
	}
	warns = append(warns, haWarns...)
	if c.APIProxy.Enabled {
		warns = append(warns, apiProxyNotices(c.APIProxy.Keys, c.Command)...)
	}
	warns = append(warns, copilotPATWarning(c, env)...)

	if c.Env.All {
		warn(slog.LevelWarn, "⚠️  Using --env-all: All host environment variables will be passed to the command")
		warn(slog.LevelWarn, "   This may expose sensitive credentials if logs or configs are shared")
	}

	exWarns, err := f.extras.build(f.fs, env, c) // extras.go
	if err != nil {
		return nil, nil, err
	}
	warns = append(warns, exWarns...)

	// Identity and directories.
	id, idWarns := ResolveIdentity(sys, env)
	warns = append(warns, idWarns...)
	c.User = id
	c.ContainerWorkdir = f.containerWorkdir
	if c.ContainerWorkdir != "" && !filepath.IsAbs(c.ContainerWorkdir) {
		return nil, nil, errorf("--container-workdir must be an absolute path: %s", c.ContainerWorkdir)
	}
	c.TTY = f.tty
	c.KeepContainers = f.keepContainers
	c.WorkDir = f.workDir
	if c.WorkDir == "" {
		tmp := env["TMPDIR"]
		if tmp == "" {
			tmp = "/tmp"
		}
		c.WorkDir = filepath.Join(tmp, fmt.Sprintf("awf-%d", sys.Now().UnixMilli()))
		c.WorkDirGenerated = true
	}
	c.ProxyLogsDir = f.proxyLogsDir
	c.AuditDir = f.auditDir
	if c.AuditDir == "" {
		c.AuditDir = env["AWF_AUDIT_DIR"]
	}
	if c.AuditDir == "" {
		c.AuditDir = filepath.Join(c.WorkDir, "audit")
	}
	if p := env["GITHUB_PATH"]; p != "" {
		if data, err := sys.ReadFile(p); err == nil {
			c.GitHubPath = parseGitHubPath(data)
		}
	}
	return c, warns, nil
}

func parseLogLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, errorf("Invalid log level: %s", s)
}

func (f *Flags) rateLimit(apiProxy bool) (RateLimit, error) {
	anyLimit := f.changed("rate-limit-rpm") || f.changed("rate-limit-rph") || f.changed("rate-limit-bytes-pm")
	if !apiProxy {
		if anyLimit || f.noRateLimit {
			return RateLimit{}, errorf("Rate limit flags require --enable-api-proxy")
		}
		return RateLimit{}, nil
	}
	if f.noRateLimit || !anyLimit {
		return RateLimit{}, nil
	}
	rl := RateLimit{Enabled: true, RPM: DefaultRPM, RPH: DefaultRPH, BytesPM: DefaultBytesPM}
	for _, x := range []struct {
		name string
		val  string
		dst  *int
	}{
		{"rate-limit-rpm", f.rateRPM, &rl.RPM},
		{"rate-limit-rph", f.rateRPH, &rl.RPH},
		{"rate-limit-bytes-pm", f.rateBytesPM, &rl.BytesPM},
	} {
		if !f.changed(x.name) {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(x.val))
		if err != nil || n <= 0 {
			return RateLimit{}, errorf("--%s must be a positive integer", x.name)
		}
		*x.dst = n
	}
	return rl, nil
}

func parseMount(sys System, spec string) (Mount, string) {
	parts := strings.Split(spec, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return Mount{}, "Mount must be in format host_path:container_path[:mode]"
	}
	host, ctr := parts[0], parts[1]
	mode := ""
	if len(parts) == 3 {
		mode = parts[2]
	}
	switch {
	case strings.TrimSpace(host) == "":
		return Mount{}, "Host path cannot be empty"
	case strings.TrimSpace(ctr) == "":
		return Mount{}, "Container path cannot be empty"
	case !strings.HasPrefix(host, "/"):
		return Mount{}, "Host path must be absolute (start with /)"
	case !strings.HasPrefix(ctr, "/"):
		return Mount{}, "Container path must be absolute (start with /)"
	case mode != "" && mode != "ro" && mode != "rw":
		return Mount{}, `Mount mode must be either "ro" or "rw"`
	}
	if _, err := sys.Stat(host); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Mount{}, "Host path does not exist: " + host
		}
		return Mount{}, fmt.Sprintf("Failed to check host path: %v", err)
	}
	return Mount{Host: filepath.Clean(host), Container: filepath.Clean(ctr), ReadOnly: mode == "ro"}, ""
}

func parseGitHubPath(data []byte) []string {
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
