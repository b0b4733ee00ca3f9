package sandbox

import (
	"fmt"
	"net/netip"
	"strings"
)

// Ruleset is the agent namespace's firewall as data. Native code translates
// it to netlink messages; Render prints the same thing as nft text for the
// audit artifact. Evaluation order:
//
//	nat output:    each PreRedirect -> dnat; daddr in NATSkip -> return;
//	               each Redirect -> dnat
//	filter output: ct established,related -> accept; each Guard, each
//	               Confine (its Allow -> accept, else reject); each Accept -> accept;
//	               tcp -> reject with tcp reset; anything else -> reject
//	               (icmpx port-unreachable), IPv6 included.
type Ruleset struct {
	Table string `json:"table"`
	// PreRedirects come first: address-specific redirects (host access)
	// that the generic port redirects must not shadow.
	PreRedirects []Redirect     `json:"preRedirects,omitempty"`
	NATSkip      []netip.Prefix `json:"natSkip"`
	Redirects    []Redirect     `json:"redirects"`
	Accepts      []Accept       `json:"accepts"`
	// Guards are checked right after established traffic (NetExtra).
	Guards []Guard `json:"guards,omitempty"`
	// Confines follow the guards (NetExtra).
	Confines []Confine `json:"confines,omitempty"`
}

// Confine limits the new connections of one helper user to Allow, every
// other one rejected: gh holds the GitHub token and would send it to any
// host it is pointed at (`gh api http://127.0.0.1:<agent's port>/`), so
// it may reach the DIFC relay and the egress proxy only.
type Confine struct {
	UID   uint32   `json:"uid"`
	Allow []Accept `json:"allow"`
}

// Guard rejects new TCP connections to Dst:Port from every user but UID:
// a port inside the sandbox meant for one helper process only.
type Guard struct {
	Dst  netip.Prefix `json:"dst"`
	Port uint16       `json:"port"`
	UID  uint32       `json:"uid"`
}

// Redirect sends new connections to Proto/Port..PortMax (to Dst, or any
// address when Dst is unset) to To; a To port of 0 keeps the port.
type Redirect struct {
	Proto   string         `json:"proto"` // "tcp" or "udp"
	Port    uint16         `json:"port"`
	To      netip.AddrPort `json:"to"`
	Dst     netip.Prefix   `json:"dst,omitzero"`
	PortMax uint16         `json:"portMax,omitempty"`
}

// Ports is the redirect's port range.
func (r Redirect) Ports() (uint16, uint16) { return r.Port, max(r.Port, r.PortMax) }

// NetExtra are additions to the network that other packages plan (host
// access, the CLI proxy): more addresses on lo, redirects evaluated before
// the generic ones, addresses exempt from those, accepted destinations and
// /etc/hosts lines.
type NetExtra struct {
	Loopback     []netip.Addr   `json:"loopback,omitempty"`
	PreRedirects []Redirect     `json:"preRedirects,omitempty"`
	Skip         []netip.Prefix `json:"skip,omitempty"`
	Accepts      []Accept       `json:"accepts,omitempty"`
	Guards       []Guard        `json:"guards,omitempty"`
	Confines     []Confine      `json:"confines,omitempty"`
	Hosts        []string       `json:"hosts,omitempty"`
	// Localhost, when set, is what `localhost` means in /etc/hosts
	// (the original's localhost keyword: the host).
	Localhost netip.Addr `json:"localhost,omitzero"`
}

// Merge appends o to x.
func (x NetExtra) Merge(o NetExtra) NetExtra {
	x.Loopback = append(x.Loopback, o.Loopback...)
	x.PreRedirects = append(x.PreRedirects, o.PreRedirects...)
	x.Skip = append(x.Skip, o.Skip...)
	x.Accepts = append(x.Accepts, o.Accepts...)
	x.Guards = append(x.Guards, o.Guards...)
	x.Confines = append(x.Confines, o.Confines...)
	x.Hosts = append(x.Hosts, o.Hosts...)
	if o.Localhost.IsValid() {
		x.Localhost = o.Localhost
	}
	return x
}

// Accept lets packets to Dst (and, when Proto is set, ports Min..Max) out.
type Accept struct {
	Dst   netip.Prefix `json:"dst"`
	Proto string       `json:"proto,omitempty"`
	Min   uint16       `json:"min,omitempty"`
	Max   uint16       `json:"max,omitempty"`
}

// BuildRuleset derives the firewall from the service addresses. Loopback
// stays open because it only reaches the agent's own namespace; everything
// routed "out" (there is no link out: the default route is lo) is either
// redirected to a listener or rejected at once.
func BuildRuleset(n Network) Ruleset {
	eg := n.EgressIP
	rs := Ruleset{Table: "awf"}
	lo := netip.MustParsePrefix("127.0.0.0/8")
	rs.NATSkip = []netip.Prefix{lo, netip.PrefixFrom(eg, 32)}
	if n.APIProxy {
		rs.NATSkip = append(rs.NATSkip, netip.PrefixFrom(n.APIProxyIP, 32))
	}
	rs.Redirects = []Redirect{
		{Proto: "tcp", Port: 80, To: netip.AddrPortFrom(eg, n.TransparentHTTP)},
		{Proto: "tcp", Port: 443, To: netip.AddrPortFrom(eg, n.TransparentTLS)},
		// DNS is not redirected: the only resolver is the allowlist DNS in
		// resolv.conf, and a query to any other server (dig @9.9.9.9) is
		// refused at once by the final reject, as the original blocks direct
		// DNS (its dns-servers integration tests expect the failure).
	}
	egp := netip.PrefixFrom(eg, 32)
	rs.Accepts = []Accept{
		{Dst: lo},
		{Dst: egp, Proto: "tcp", Min: n.ExplicitPort, Max: n.ExplicitPort},
		{Dst: egp, Proto: "tcp", Min: n.TransparentHTTP, Max: n.TransparentHTTP},
		{Dst: egp, Proto: "tcp", Min: n.TransparentTLS, Max: n.TransparentTLS},
		{Dst: egp, Proto: "tcp", Min: n.DNSPort, Max: n.DNSPort},
		{Dst: egp, Proto: "udp", Min: n.DNSPort, Max: n.DNSPort},
	}
	if n.APIProxy {
		rs.Accepts = append(rs.Accepts, Accept{Dst: netip.PrefixFrom(n.APIProxyIP, 32), Proto: "tcp", Min: n.APIPortMin, Max: n.APIPortMax})
	}
	rs.PreRedirects = append(rs.PreRedirects, n.Extra.PreRedirects...)
	rs.NATSkip = append(rs.NATSkip, n.Extra.Skip...)
	rs.Accepts = append(rs.Accepts, n.Extra.Accepts...)
	rs.Guards = append(rs.Guards, n.Extra.Guards...)
	rs.Confines = append(rs.Confines, n.Extra.Confines...)
	return rs
}

// Render prints the ruleset in nft syntax (nft -f accepts it).
func (rs Ruleset) Render() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", rs.Table)
	b.WriteString("\tchain nat_output {\n\t\ttype nat hook output priority -100; policy accept;\n")
	redirect := func(r Redirect) {
		b.WriteString("\t\tmeta nfproto ipv4 ")
		if r.Dst.IsValid() {
			fmt.Fprintf(&b, "ip daddr %s ", r.Dst)
		}
		to := r.To.String()
		if r.To.Port() == 0 {
			to = r.To.Addr().String()
		}
		fmt.Fprintf(&b, "%s dport %s dnat ip to %s\n", r.Proto, portSpec(r.Ports()), to)
	}
	for _, r := range rs.PreRedirects {
		redirect(r)
	}
	for _, p := range rs.NATSkip {
		fmt.Fprintf(&b, "\t\tip daddr %s return\n", p)
	}
	for _, r := range rs.Redirects {
		redirect(r)
	}
	b.WriteString("\t}\n")
	b.WriteString("\tchain filter_output {\n\t\ttype filter hook output priority 0; policy accept;\n")
	b.WriteString("\t\tct state established,related accept\n")
	for _, g := range rs.Guards {
		fmt.Fprintf(&b, "\t\tip daddr %s tcp dport %d meta skuid != %d reject with tcp reset\n", g.Dst, g.Port, g.UID)
	}
	for _, c := range rs.Confines {
		for _, a := range c.Allow {
			fmt.Fprintf(&b, "\t\tmeta skuid %d ip daddr %s", c.UID, a.Dst)
			if a.Proto != "" {
				fmt.Fprintf(&b, " %s dport %s", a.Proto, portSpec(a.Min, a.Max))
			}
			b.WriteString(" accept\n")
		}
		fmt.Fprintf(&b, "\t\tmeta skuid %d meta l4proto tcp reject with tcp reset\n", c.UID)
		fmt.Fprintf(&b, "\t\tmeta skuid %d reject with icmpx type port-unreachable\n", c.UID)
	}
	for _, a := range rs.Accepts {
		fmt.Fprintf(&b, "\t\tip daddr %s", a.Dst)
		if a.Proto != "" {
			fmt.Fprintf(&b, " %s dport %s", a.Proto, portSpec(a.Min, a.Max))
		}
		b.WriteString(" accept\n")
	}
	b.WriteString("\t\tmeta l4proto tcp reject with tcp reset\n")
	b.WriteString("\t\treject with icmpx type port-unreachable\n")
	b.WriteString("\t}\n}\n")
	return b.String()
}

func portSpec(min, max uint16) string {
	if min == max {
		return fmt.Sprint(min)
	}
	return fmt.Sprintf("%d-%d", min, max)
}
