package hostaccess

import (
	"net/netip"

	"github.com/awf-dev/awf/internal/sandbox"
)

// NetExtra is the plan as sandbox network data: the host addresses on the
// sandbox's lo, the name in its /etc/hosts, and nftables rules that send a
// connection to an open host port either to the one host-access listener
// (egress:ListenPort, which dials the host) or, for the api proxy's ports,
// to the api proxy itself. Every other port of a host address matches no
// redirect, is exempt from the generic 80/443/53 redirects (Skip) and is
// therefore rejected by the filter chain like any other destination.
func (p Plan) NetExtra(egress, apiProxy netip.Addr) sandbox.NetExtra {
	var x sandbox.NetExtra
	if !p.Active() {
		return x
	}
	toHost := false
	for _, a := range p.Addrs {
		dst := netip.PrefixFrom(a, 32)
		x.Loopback = append(x.Loopback, a)
		for _, r := range p.Ports {
			rd := sandbox.Redirect{Proto: "tcp", Port: r.Min, PortMax: r.Max, Dst: dst}
			switch r.Route {
			case RouteAPIProxy:
				rd.To = netip.AddrPortFrom(apiProxy, 0)
			default:
				rd.To = netip.AddrPortFrom(egress, ListenPort)
				toHost = true
			}
			if rd.PortMax == rd.Port {
				rd.PortMax = 0
			}
			x.PreRedirects = append(x.PreRedirects, rd)
		}
		x.Skip = append(x.Skip, dst)
	}
	if toHost {
		x.Accepts = append(x.Accepts, sandbox.Accept{Dst: netip.PrefixFrom(egress, 32), Proto: "tcp", Min: ListenPort, Max: ListenPort})
	}
	x.Hosts = append(x.Hosts, p.Addrs[0].String()+"\t"+p.Name)
	if p.Localhost {
		x.Localhost = p.Addrs[0]
	}
	return x
}
