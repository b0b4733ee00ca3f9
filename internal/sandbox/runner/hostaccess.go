package runner

import (
	"context"
	"fmt"
	"net"
	"net/netip"

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
		x = x.Merge(cliProxyNetExtra())
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
