// Package hostaccess plans how the agent reaches services on its own host:
// `host.docker.internal` (the MCP gateway, GitHub Actions services
// containers, anything the user runs on the runner) and, with the api proxy
// on, gh-aw's hard-coded `host.docker.internal:1000x` base URLs.
//
// Everything here is pure: flags and the allowlist go in, a Plan comes out
// (the address the name resolves to inside the sandbox, the port table, the
// firewall rules as data). The egress proxy serves the plan; the sandbox
// installs its rules. See README.md for the design.
package hostaccess

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/awf-dev/awf/internal/domains"
)

// Name is the host's name inside the sandbox, as Docker's.
const Name = "host.docker.internal"

// Addresses inside the agent's network namespace that mean "the host".
// HostGateway is what Docker's `host-gateway` gives host.docker.internal
// (the default bridge's gateway); NetworkGateway is the awf network's own
// gateway, which the original also opens (codex resolves the host there, and
// gh-aw's codex workflows list it). Both exist only on the sandbox's lo.
var (
	HostGateway    = netip.MustParseAddr("172.17.0.1")
	NetworkGateway = netip.MustParseAddr("172.30.0.1")
)

// ListenPort is the port of the one transparent host-access listener, on
// the egress proxy's address: nftables sends every admitted connection to a
// host address there, and SO_ORIGINAL_DST tells which port it was for.
const ListenPort = 3131

// Route is who serves a host port.
type Route string

const (
	// RouteHost: awf dials 127.0.0.1:<port> in the host's own network
	// namespace on the agent's behalf.
	RouteHost Route = "host"
	// RouteAPIProxy: the api proxy's listener of the same port (gh-aw's
	// hard-coded http://host.docker.internal:1000x base URLs).
	RouteAPIProxy Route = "api-proxy"
)

// Audit rule ids of host-access decisions.
const (
	RuleAllowHost        = "allow-host-access"
	RuleAllowHostService = "allow-host-service-port"
	RuleAllowAPIProxy    = "allow-host-api-proxy"
	RuleDenyHostPort     = "deny-host-port"
)

// Sources of a port range, for the manifest and messages.
const (
	SourceDefault      = "default"
	SourceAllowPorts   = "--allow-host-ports"
	SourceServicePorts = "--allow-host-service-ports"
	SourceAPIProxy     = "api-proxy"
)

// PortRange is one row of the port table.
type PortRange struct {
	Min    uint16 `json:"min"`
	Max    uint16 `json:"max"`
	Route  Route  `json:"route"`
	Rule   string `json:"rule"`
	Source string `json:"source"`
}

// Contains reports whether p is in the range.
func (r PortRange) Contains(p uint16) bool { return p >= r.Min && p <= r.Max }

// String is "80" or "3000-3010".
func (r PortRange) String() string {
	if r.Min == r.Max {
		return strconv.Itoa(int(r.Min))
	}
	return fmt.Sprintf("%d-%d", r.Min, r.Max)
}

// Options are the inputs: flags, the allowlist, the api proxy.
type Options struct {
	EnableHostAccess bool   // --enable-host-access
	AllowHostPorts   string // --allow-host-ports, raw
	ServicePorts     string // --allow-host-service-ports, raw
	AllowDomains     []string
	APIProxy         bool
	APIPortMin       uint16 // 10000
	APIPortMax       uint16 // 10004
}

// Plan is the outcome. The zero Plan opens nothing.
type Plan struct {
	// Host is true when host services are reachable (any of the three
	// ways to turn host access on); Why says which.
	Host bool   `json:"hostAccessEnabled"`
	Why  string `json:"enabledBy,omitempty"`
	// Name and Addrs are set when the name must resolve in the sandbox:
	// host access on, or the api proxy on (its 1000x ports).
	Name  string       `json:"name,omitempty"`
	Addrs []netip.Addr `json:"addresses,omitempty"`
	// Ports is the whole table, first match wins: the api proxy's ports
	// come first so they always mean the api proxy.
	Ports []PortRange `json:"ports,omitempty"`
	// AllowHostPorts and ServicePorts echo the flags for the manifest.
	AllowHostPorts string `json:"allowHostPorts,omitempty"`
	ServicePorts   string `json:"allowHostServicePorts,omitempty"`
	// Localhost: the allowlist named `localhost` (the original's keyword):
	// the entry became host.docker.internal (AllowDomains is the new
	// list) and localhost in the sandbox's /etc/hosts is the host.
	Localhost    bool     `json:"localhostKeyword,omitempty"`
	AllowDomains []string `json:"-"`
}

// DevPorts are the ports the localhost keyword opens when
// --allow-host-ports is not given (the original's list).
const DevPorts = "3000,3001,4000,4200,5000,5173,8000,8080,8081,8888,9000,9090"

// rewriteLocalhost replaces the first localhost entry (keeping its
// protocol) with host.docker.internal, as the original.
func rewriteLocalhost(list []string) ([]string, bool) {
	for i, d := range list {
		var repl string
		switch d {
		case "localhost":
			repl = Name
		case "http://localhost":
			repl = "http://" + Name
		case "https://localhost":
			repl = "https://" + Name
		default:
			continue
		}
		out := append(append(append([]string{}, list[:i]...), list[i+1:]...), repl)
		return out, true
	}
	return list, false
}

// Notice is a message for the user, at Level ("warn" or "info").
type Notice struct{ Level, Msg string }

// Active reports whether the sandbox needs the host addresses at all.
func (p Plan) Active() bool { return len(p.Addrs) > 0 }

// Lookup finds the row for port.
func (p Plan) Lookup(port uint16) (PortRange, bool) {
	for _, r := range p.Ports {
		if r.Contains(port) {
			return r, true
		}
	}
	return PortRange{}, false
}

// IsHost reports whether host (a name or an address, as a client wrote it)
// names the host.
func (p Plan) IsHost(host string) bool {
	if !p.Active() {
		return false
	}
	h := strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if h == p.Name {
		return true
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return slices.Contains(p.Addrs, a.Unmap())
	}
	return false
}

// DenyReason is the reason given when port is not open on the host: the
// original's message for a dangerous port, else the port and the flag
// that would open it.
func DenyReason(port uint16) string {
	if isDangerous(port) {
		return dangerousMsg(port)
	}
	return fmt.Sprintf("port %d not allowed on %s (not in --allow-host-ports)", port, Name)
}

// Build computes the plan, with the original's validation order and
// messages. It fails on a malformed or dangerous port, and on
// --allow-host-ports without host access.
func Build(o Options) (Plan, []Notice, error) {
	var notes []Notice
	var p Plan
	enabled := o.EnableHostAccess
	why := ""
	if enabled {
		why = "--enable-host-access"
	}
	if list, ok := rewriteLocalhost(o.AllowDomains); ok {
		p.Localhost, p.AllowDomains, o.AllowDomains = true, list, list
		if !enabled {
			notes = append(notes,
				Notice{"warn", "⚠️  Security warning: localhost keyword enables host access - agent can reach services on your machine"},
				Notice{"info", "ℹ️  localhost keyword detected - automatically enabling host access"})
			enabled, why = true, "localhost keyword"
		}
		if strings.TrimSpace(o.AllowHostPorts) == "" {
			o.AllowHostPorts = DevPorts
			notes = append(notes, Notice{"info", "ℹ️  localhost keyword detected - allowing common development ports (3000, 4200, 5173, 8080, etc.)"})
		}
		notes = append(notes, Notice{"info", "localhost inside container resolves to host machine (localhost keyword active)"})
	}
	service, err := ParseServicePorts(o.ServicePorts)
	if err != nil {
		return Plan{}, nil, err
	}
	if len(service) > 0 {
		notes = append(notes,
			Notice{"warn", "--allow-host-service-ports bypasses dangerous port restrictions for host-local traffic."},
			Notice{"warn", "Ensure host services on these ports do not provide external network access."})
		if !enabled {
			notes = append(notes, Notice{"warn", "--allow-host-service-ports automatically enabling host access (ports 80/443 to host gateway also opened)"})
			enabled, why = true, "--allow-host-service-ports"
		}
		notes = append(notes, Notice{"info", "Host service ports allowed (host gateway only): " + strings.TrimSpace(o.ServicePorts)})
		for _, port := range service {
			// The original's firewall setup logs one such line per port.
			notes = append(notes, Notice{"debug", fmt.Sprintf("Allow host service port %d to %s (host gateway only)", port, Name)})
		}
	}
	if strings.TrimSpace(o.AllowHostPorts) != "" && !enabled {
		return Plan{}, nil, fmt.Errorf("--allow-host-ports requires --enable-host-access to be set")
	}
	hostPorts, err := ParseHostPorts(o.AllowHostPorts)
	if err != nil {
		return Plan{}, nil, err
	}
	listed := hasExactEntry(o.AllowDomains)
	if enabled && listed {
		notes = append(notes,
			Notice{"warn", "⚠️  Host access enabled with host.docker.internal in allowed domains"},
			Notice{"warn", "   Containers can access ANY service running on the host machine"},
			Notice{"warn", "   Only use this for trusted workloads (e.g., MCP gateways)"})
	}
	if !enabled && listed {
		// gh-aw v0.28 lists the name instead of passing the flag; the
		// original then opens 80 and 443 to the host as well.
		enabled, why = true, "allowlist entry "+Name
	}
	p.Host, p.Why = enabled, why
	if o.APIProxy {
		lo, hi := o.APIPortMin, o.APIPortMax
		if lo == 0 {
			lo, hi = 10000, 10004
		}
		p.Ports = append(p.Ports, PortRange{lo, hi, RouteAPIProxy, RuleAllowAPIProxy, SourceAPIProxy})
		for _, r := range hostPorts {
			if r.Min <= hi && r.Max >= lo {
				notes = append(notes, Notice{"warn", fmt.Sprintf("host port %s overlaps the api proxy's ports %d-%d on %s: those go to the api proxy", r, lo, hi, Name)})
			}
		}
	}
	if enabled {
		p.Ports = append(p.Ports,
			PortRange{80, 80, RouteHost, RuleAllowHost, SourceDefault},
			PortRange{443, 443, RouteHost, RuleAllowHost, SourceDefault})
		p.Ports = append(p.Ports, hostPorts...)
		for _, s := range service {
			p.Ports = append(p.Ports, PortRange{s, s, RouteHost, RuleAllowHostService, SourceServicePorts})
		}
		p.AllowHostPorts = strings.TrimSpace(o.AllowHostPorts)
		p.ServicePorts = strings.TrimSpace(o.ServicePorts)
	}
	if len(p.Ports) > 0 {
		p.Name = Name
		p.Addrs = []netip.Addr{HostGateway}
		if enabled {
			p.Addrs = append(p.Addrs, NetworkGateway)
		}
	}
	return p, notes, nil
}

// hasExactEntry reports whether the allowlist names host.docker.internal
// itself (optionally with a protocol), not through a wildcard.
func hasExactEntry(list []string) bool {
	for _, d := range list {
		d = strings.ToLower(strings.TrimSpace(d))
		d = strings.TrimPrefix(strings.TrimPrefix(d, "http://"), "https://")
		if strings.TrimSuffix(d, ".") == Name {
			return true
		}
	}
	return false
}

func isDangerous(p uint16) bool { return slices.Contains(domains.DangerousPorts(), int(p)) }

func dangerousMsg(p uint16) string {
	return fmt.Sprintf("Port %d is blocked for security reasons. "+
		"Dangerous ports (SSH:22, MySQL:3306, PostgreSQL:5432, etc.) cannot be allowed even with --allow-host-ports.", p)
}

// ParseHostPorts reads --allow-host-ports: single ports and START-END
// ranges, comma-separated; the original's messages; dangerous ports (and
// ranges that include one) refused.
func ParseHostPorts(spec string) ([]PortRange, error) {
	var out []PortRange
	for _, f := range strings.Split(spec, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !validSpec(f) {
			return nil, fmt.Errorf("Invalid port: %s. Must be a number between 1 and 65535", f)
		}
		lo, hi, isRange := strings.Cut(f, "-")
		if !isRange {
			n, _ := strconv.Atoi(f)
			if n < 1 || n > 65535 {
				return nil, fmt.Errorf("Invalid port: %s. Must be a number between 1 and 65535", f)
			}
			if isDangerous(uint16(n)) {
				return nil, fmt.Errorf("%s", dangerousMsg(uint16(n)))
			}
			out = append(out, PortRange{uint16(n), uint16(n), RouteHost, RuleAllowHost, SourceAllowPorts})
			continue
		}
		a, _ := strconv.Atoi(lo)
		b, _ := strconv.Atoi(hi)
		if a < 1 || b > 65535 || a > b {
			return nil, fmt.Errorf("Invalid port range: %s. Must be in format START-END where 1 <= START <= END <= 65535", f)
		}
		for _, d := range domains.DangerousPorts() {
			if d >= a && d <= b {
				return nil, fmt.Errorf("Port range %s includes dangerous port %d which is blocked for security reasons. "+
					"Dangerous ports (SSH, databases, etc.) cannot be allowed even with --allow-host-ports.", f, d)
			}
		}
		out = append(out, PortRange{uint16(a), uint16(b), RouteHost, RuleAllowHost, SourceAllowPorts})
	}
	return out, nil
}

// validSpec is the original's /^\d+(?:-\d+)?$/, with a length bound so
// Atoi cannot overflow into a valid-looking number.
func validSpec(s string) bool {
	lo, hi, isRange := strings.Cut(s, "-")
	digits := func(x string) bool {
		return x != "" && len(x) <= 6 && strings.Trim(x, "0123456789") == ""
	}
	return digits(lo) && (!isRange || digits(hi))
}

// ParseServicePorts reads --allow-host-service-ports: single numeric ports
// only, dangerous ones admitted (they reach only the host), with the
// original's messages.
func ParseServicePorts(spec string) ([]uint16, error) {
	var out []uint16
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	for _, f := range strings.Split(spec, ",") {
		f = strings.TrimSpace(f)
		if f == "" || strings.Trim(f, "0123456789") != "" {
			return nil, fmt.Errorf("Invalid port in --allow-host-service-ports: %s. Must be a numeric value", f)
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("Invalid port in --allow-host-service-ports: %s. Must be a number between 1 and 65535", f)
		}
		if !slices.Contains(out, uint16(n)) {
			out = append(out, uint16(n))
		}
	}
	return out, nil
}
