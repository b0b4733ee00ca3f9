package config

import (
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/awf-dev/awf/internal/hostaccess"
)

// Host access and the CLI proxy (issue 11): the original's five flags,
// read into a hostaccess.Plan and a CLIProxy. flags.go only registers and
// calls these.

// CLIProxy is the DIFC/CLI proxy: the agent's `gh` runs the host's gh
// through awf with GH_HOST pointed at the DIFC proxy.
type CLIProxy struct {
	Enabled bool
	// Host and Port of the DIFC proxy as awf dials it (on the host);
	// loopback spellings and host.docker.internal both mean the host
	// itself, where awf runs.
	Host string
	Port uint16
	// CACert is the DIFC proxy's CA certificate file ("" = system roots).
	CACert string
}

type hostAccessFlags struct {
	enable                    bool
	allowHostPorts            string
	allowHostServicePorts     string
	difcProxyHost, difcCACert string
}

func (h *hostAccessFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&h.enable, "enable-host-access", false, "Enable access to host services via host.docker.internal")
	fs.StringVar(&h.allowHostPorts, "allow-host-ports", "", "Ports/ranges to allow with --enable-host-access (default: 80,443). Example: 3000,8080 or 3000-3010,8000-8090")
	fs.StringVar(&h.allowHostServicePorts, "allow-host-service-ports", "", "Ports to allow ONLY to host gateway (for GitHub Actions services). Bypasses dangerous port restrictions. Auto-enables host access. WARNING: Allowing port 22 grants SSH access to the host. Example: 5432,6379")
	fs.StringVar(&h.difcProxyHost, "difc-proxy-host", "", "Connect to an external DIFC proxy (mcpg) at `host:port`. Enables the CLI proxy that routes the agent's gh commands through the DIFC proxy")
	fs.StringVar(&h.difcCACert, "difc-proxy-ca-cert", "", "Path to TLS CA cert written by the external DIFC proxy. Recommended when --difc-proxy-host is set for TLS verification")
}

// build reads the flags into c.HostAccess and c.CLIProxy. It runs after
// the allowlist is final (an exact host.docker.internal entry turns host
// access on) and after the API proxy is decided (its ports on the host
// name).
func (h *hostAccessFlags) build(sys System, c *Config) ([]Warning, error) {
	plan, notes, err := hostaccess.Build(hostaccess.Options{
		EnableHostAccess: h.enable,
		AllowHostPorts:   h.allowHostPorts,
		ServicePorts:     h.allowHostServicePorts,
		AllowDomains:     c.AllowDomains,
		APIProxy:         c.APIProxy.Enabled,
	})
	if err != nil {
		return nil, errorf("%v", err)
	}
	var warns []Warning
	for _, n := range notes {
		l := slog.LevelInfo
		switch n.Level {
		case "warn":
			l = slog.LevelWarn
		case "debug":
			l = slog.LevelDebug
		}
		warns = append(warns, Warning{Level: l, Msg: n.Msg})
	}
	c.HostAccess = plan
	if plan.Localhost {
		c.AllowDomains = plan.AllowDomains
	}
	if plan.Host {
		ports := []string{}
		for _, r := range plan.Ports {
			if r.Route == hostaccess.RouteHost {
				ports = append(ports, r.String())
			}
		}
		warns = append(warns, Warning{Level: slog.LevelInfo, Msg: "Host access enabled (" + plan.Why + "): " + hostaccess.Name + " ports " + strings.Join(ports, ", ")})
	}

	if strings.TrimSpace(h.difcProxyHost) == "" {
		if h.difcCACert != "" {
			warns = append(warns, Warning{Level: slog.LevelWarn, Msg: "--difc-proxy-ca-cert has no effect without --difc-proxy-host"})
		}
		return warns, nil
	}
	host, port, err := ParseDIFCProxyHost(h.difcProxyHost)
	if err != nil {
		return nil, err
	}
	if h.difcCACert != "" {
		if _, err := sys.Stat(h.difcCACert); err != nil {
			return nil, errorf("--difc-proxy-ca-cert: %v", err)
		}
	}
	c.CLIProxy = CLIProxy{Enabled: true, Host: host, Port: port, CACert: h.difcCACert}
	warns = append(warns, Warning{Level: slog.LevelInfo, Msg: "CLI proxy enabled - connecting to external DIFC proxy at " + strings.TrimSpace(h.difcProxyHost)})
	return warns, nil
}

// ParseDIFCProxyHost reads --difc-proxy-host as the original does
// (host:port, optional scheme, bracketed IPv6; default
// host.docker.internal:18443) and maps the names that mean "the runner
// host" to 127.0.0.1: awf itself runs there.
func ParseDIFCProxyHost(v string) (string, uint16, error) {
	s := strings.TrimSpace(v)
	if i := strings.Index(s, "://"); i > 0 {
		s = s[i+3:]
	}
	s = strings.TrimSuffix(s, "/")
	host, port := s, "18443"
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	} else if strings.Count(s, ":") == 1 {
		host, port, _ = strings.Cut(s, ":")
	}
	host = strings.Trim(host, "[]")
	if host == "" {
		host = hostaccess.Name
	}
	if port == "" || strings.Trim(port, "0123456789") != "" {
		return "", 0, errorf("Invalid --difc-proxy-host port: \"%s\". Must be a number.", port)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", 0, errorf("Invalid --difc-proxy-host port: %s. Must be between 1 and 65535.", port)
	}
	switch h := strings.ToLower(host); {
	case h == hostaccess.Name, h == "localhost", h == "::1", strings.HasPrefix(h, "127."):
		host = "127.0.0.1"
	}
	return host, uint16(n), nil
}
