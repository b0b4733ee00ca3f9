package runner

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/awf-dev/awf/internal/cliproxy"
	"github.com/awf-dev/awf/internal/domains"
	"github.com/awf-dev/awf/internal/logs"

	"github.com/awf-dev/awf/internal/config"
	"github.com/awf-dev/awf/internal/egress"
	"github.com/awf-dev/awf/internal/hostaccess"
	"github.com/awf-dev/awf/internal/sandbox"
	"github.com/awf-dev/awf/internal/sandbox/native"
)

// netExtra is what host access and the CLI proxy add to the sandbox's
// network: addresses on lo, nftables rules, /etc/hosts lines.
func netExtra(c *config.Config) sandbox.NetExtra {
	x := c.HostAccess.NetExtra(sandbox.DefaultEgressIP, sandbox.DefaultAPIProxyIP)
	if c.CLIProxy.Enabled {
		x = x.Merge(cliProxyNetExtra(c))
	}
	return x
}

// hostAccess is the egress proxy's view of the plan. Host services are
// dialled from this process, in the host's network namespace, at
// 127.0.0.1:<port> (so services bound to loopback only are reachable);
// the api proxy's ports are dialled inside the sandbox's namespace, where
// its listeners live.
func hostAccess(c *config.Config, sb *native.Sandbox) egress.HostAccess {
	api := sb.Plan.Net.APIProxyIP
	return egress.HostAccess{
		Plan: c.HostAccess,
		Dial: func(ctx context.Context, route hostaccess.Route, port uint16) (net.Conn, error) {
			var d net.Dialer
			switch route {
			case hostaccess.RouteHost:
				return d.DialContext(ctx, "tcp4", netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port).String())
			case hostaccess.RouteAPIProxy:
				var conn net.Conn
				err := sb.NS.Do(func() (err error) {
					conn, err = d.DialContext(ctx, "tcp4", netip.AddrPortFrom(api, port).String())
					return err
				})
				return conn, err
			}
			return nil, fmt.Errorf("hostaccess: unknown route %q", route)
		},
	}
}

// listenHostAccess makes the transparent host-access listener when some
// port leads to the host (nil otherwise).
func listenHostAccess(c *config.Config, sb *native.Sandbox) (net.Listener, error) {
	if !c.HostAccess.Host {
		return nil, nil
	}
	return sb.NS.Listen("tcp4", netip.AddrPortFrom(sb.Plan.Net.EgressIP, hostaccess.ListenPort).String())
}

// apiTargets are the upstream hosts of the api proxy's listening providers:
// its egress listener admits exactly these beyond the allowlist.
func apiTargets(targets map[string]string, listening []string) []string {
	var out []string
	for _, name := range listening {
		if t := targets[name]; t != "" {
			out = append(out, t)
		}
	}
	return out
}

// hostRules are the manifest rules of host access, the api proxy's own
// targets and the CLI proxy, inserted before the default deny so that
// `awf logs audit` attributes their records with a description.
func hostRules(c *config.Config, rules []logs.Rule) []logs.Rule {
	p := c.HostAccess
	var add []logs.Rule
	ports := func(route hostaccess.Route, source string) []string {
		var out []string
		for _, r := range p.Ports {
			if r.Route == route && (source == "" || r.Source == source) {
				out = append(out, r.String())
			}
		}
		return out
	}
	names := []string{p.Name}
	for _, a := range p.Addrs {
		names = append(names, a.String())
	}
	if p.Host {
		add = append(add, logs.Rule{ID: hostaccess.RuleAllowHost, Action: "allow", ACLName: "host_access_ports", Protocol: "both", Domains: names,
			Description: "Allow host.docker.internal (the host's 127.0.0.1) on ports " + strings.Join(ports(hostaccess.RouteHost, ""), ", ")})
		if sp := ports(hostaccess.RouteHost, hostaccess.SourceServicePorts); len(sp) > 0 {
			add = append(add, logs.Rule{ID: hostaccess.RuleAllowHostService, Action: "allow", ACLName: "host_service_ports", Protocol: "both", Domains: names,
				Description: "Allow host service ports (host gateway only, dangerous-port list skipped): " + strings.Join(sp, ", ")})
		}
	}
	if ap := ports(hostaccess.RouteAPIProxy, ""); len(ap) > 0 {
		add = append(add, logs.Rule{ID: hostaccess.RuleAllowAPIProxy, Action: "allow", ACLName: "host_api_proxy_ports", Protocol: "http", Domains: names,
			Description: "Send host.docker.internal:" + strings.Join(ap, ", ") + " to the api proxy"})
	}
	if c.APIProxy.Enabled {
		if ts := apiProxyTargets(c); len(ts) > 0 {
			add = append(add, logs.Rule{ID: egress.RuleAllowAPIProxyTarget, Action: "allow", ACLName: "from_api_proxy", Protocol: "https", Domains: ts,
				Description: "Allow the api proxy's own upstream targets (HTTPS, from the api proxy only)"})
		}
	}
	if len(add) == 0 {
		return rules
	}
	at := len(rules)
	if at > 0 && rules[at-1].ID == domains.RuleDenyDefault {
		at--
	}
	out := append(append(append([]logs.Rule{}, rules[:at]...), add...), rules[at:]...)
	for i := range out {
		out[i].Order = i + 1
	}
	return out
}

// apiProxyTargets are the upstream hosts of the providers that have a key.
func apiProxyTargets(c *config.Config) []string {
	k, t := c.APIProxy.Keys, c.APIProxy.Targets
	pick := func(v, def string) string {
		if v != "" {
			return v
		}
		return def
	}
	var out []string
	if k.OpenAI != "" {
		out = append(out, pick(t.OpenAI, config.DefaultOpenAITarget))
	}
	if k.Anthropic != "" {
		out = append(out, pick(t.Anthropic, config.DefaultAnthropicTarget))
	}
	if k.Copilot() {
		out = append(out, config.CopilotTarget(t.Copilot, c.HostEnv["GITHUB_SERVER_URL"]))
	}
	if k.Gemini != "" {
		out = append(out, pick(t.Gemini, config.DefaultGeminiTarget))
	}
	return out
}

// hostManifest is the manifest's description of host access and the CLI proxy.
func hostManifest(c *config.Config) logs.ManifestOptions {
	p := c.HostAccess
	o := logs.ManifestOptions{HostAccess: p.Host, AllowHostPorts: p.AllowHostPorts}
	if p.Active() {
		h := &logs.HostAccessInfo{Name: p.Name, EnabledBy: p.Why}
		for _, a := range p.Addrs {
			h.Addresses = append(h.Addresses, a.String())
		}
		for _, r := range p.Ports {
			h.Ports = append(h.Ports, r.String()+" ("+r.Source+")")
		}
		if p.ServicePorts != "" {
			s := p.ServicePorts
			h.ServicePorts = &s
		}
		o.HostInfo = h
	}
	if cp := c.CLIProxy; cp.Enabled {
		o.CLIProxy = &logs.CLIProxyInfo{URL: cliProxyURL(), DIFCProxy: net.JoinHostPort(cp.Host, fmt.Sprint(cp.Port)),
			CACert: cp.CACert != "", AccessLog: filepath.Join(CLIProxyLogDir(c), cliproxy.LogFile)}
	}
	return o
}
