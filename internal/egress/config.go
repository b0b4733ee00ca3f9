// Package egress is the domain-allowlist proxy: the role Squid plays in the
// original firewall. It serves an explicit proxy (absolute-form HTTP and
// CONNECT), transparent HTTP and TLS listeners for redirected traffic, and
// an allowlist-only DNS server, on listeners it is handed. Every decision is
// fail-closed and written to access.log / audit.jsonl.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/awf-dev/awf/internal/domains"
)

// Policy judges host names. *domains.Policy satisfies it.
type Policy interface {
	Decide(host string, proto domains.Proto) domains.Decision
}

// Resolver looks names up. *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config is everything the proxy needs, as plain data.
type Config struct {
	Policy Policy
	// Ports a request may target. Empty means DefaultPorts.
	Ports []uint16
	// AllowPrivate admits private destinations (RFC 1918, ULA, CGNAT).
	// Loopback, link-local, multicast and unspecified stay refused.
	AllowPrivate bool
	// DNSServers are the upstream resolvers (IP addresses, port 53); empty
	// means the host's own resolver configuration.
	DNSServers []string
	// Resolver overrides DNSServers (tests, the sandbox).
	Resolver Resolver
	// LogDir receives access.log, audit.jsonl and dns.jsonl; "" disables.
	LogDir string
	// Host is how host.docker.internal is served (hostaccess.go); zero: not at all.
	Host HostAccess
	// Inspect is TLS inspection (--ssl-bump, inspect.go); zero: none.
	Inspect Inspect
	// Sensitive hosts are admitted but never named in a log line (a
	// secret-backed API target, as the original's sensitive_log_domains):
	// their lines show [REDACTED] instead.
	Sensitive []string

	ConnectTimeout time.Duration // dialing an upstream (30 s, as Squid)
	RequestTimeout time.Duration // waiting for request headers / idle keep-alive (2 min)
	HelloTimeout   time.Duration // waiting for the TLS ClientHello in a tunnel (30 s)
	MaxHeaderBytes int           // request line plus headers (32 KiB)
	MaxConns       int           // concurrent client connections across listeners (4096)
	LogQueue       int           // pending log entries before new ones are dropped (8192)
}

// DefaultPorts are the ports the original admits without host access.
var DefaultPorts = []uint16{80, 443}

// DangerousPorts are refused in the port list, as the original's Squid
// config generator refuses them.
var DangerousPorts = []uint16{22, 23, 25, 110, 143, 445, 1433, 1521, 3306, 3389, 5432,
	5984, 6379, 6984, 8086, 8088, 9200, 9300, 27017, 27018, 28017}

func (c Config) withDefaults() Config {
	if len(c.Ports) == 0 {
		c.Ports = DefaultPorts
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 30 * time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 2 * time.Minute
	}
	if c.HelloTimeout <= 0 {
		c.HelloTimeout = 30 * time.Second
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 32 << 10
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 4096
	}
	if c.LogQueue <= 0 {
		c.LogQueue = 8192
	}
	return c
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	if c.Policy == nil {
		return errors.New("egress: no policy")
	}
	for _, p := range c.Ports {
		if p == 0 {
			return errors.New("Invalid port: 0. Must be a number between 1 and 65535")
		}
		if slices.Contains(DangerousPorts, p) {
			return fmt.Errorf("Port %d is blocked for security reasons", p)
		}
	}
	if c.DNSServers != nil {
		if _, err := ParseDNSServers(strings.Join(c.DNSServers, ",")); err != nil {
			return err
		}
	}
	return nil
}

// ParsePorts reads a list like "80,443,3000-3010" with the original's
// messages; dangerous ports and ranges that include one are refused.
func ParsePorts(s string) ([]uint16, error) {
	var out []uint16
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(f, "-")
		if !isRange {
			p, err := parsePort(f)
			if err != nil {
				return nil, err
			}
			if slices.Contains(DangerousPorts, p) {
				return nil, fmt.Errorf("Port %d is blocked for security reasons", p)
			}
			out = append(out, p)
			continue
		}
		a, err1 := parsePort(lo)
		b, err2 := parsePort(hi)
		if err1 != nil || err2 != nil || a > b {
			return nil, fmt.Errorf("Invalid port range: %s. Must be in format START-END with 1 <= START <= END <= 65535", f)
		}
		for _, d := range DangerousPorts {
			if d >= a && d <= b {
				return nil, fmt.Errorf("Port range %s includes dangerous port %d", f, d)
			}
		}
		if int(b)-int(a) > 10000 {
			return nil, fmt.Errorf("Invalid port range: %s. At most 10000 ports", f)
		}
		for p := int(a); p <= int(b); p++ {
			out = append(out, uint16(p))
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("Invalid port: %s. Must be a number between 1 and 65535", s)
	}
	return uint16(n), nil
}

// ParseDNSServers reads a comma list of IPv4/IPv6 addresses (no zones),
// with the original's messages; the addresses come back canonical.
func ParseDNSServers(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("Invalid DNS server IP address: %s", f)
		}
		out = append(out, a.String())
	}
	if len(out) == 0 {
		return nil, errors.New("At least one DNS server must be specified")
	}
	return out, nil
}
