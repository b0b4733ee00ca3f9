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
//	nat output:    daddr in NATSkip -> return; each Redirect -> dnat
//	filter output: ct established,related -> accept; each Accept -> accept;
//	               tcp -> reject with tcp reset; anything else -> reject
//	               (icmpx port-unreachable), IPv6 included.
type Ruleset struct {
	Table     string         `json:"table"`
	NATSkip   []netip.Prefix `json:"natSkip"`
	Redirects []Redirect     `json:"redirects"`
	Accepts   []Accept       `json:"accepts"`
}

// Redirect sends new connections to Proto/Port (any address) to To.
type Redirect struct {
	Proto string         `json:"proto"` // "tcp" or "udp"
	Port  uint16         `json:"port"`
	To    netip.AddrPort `json:"to"`
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
		{"tcp", 80, netip.AddrPortFrom(eg, n.TransparentHTTP)},
		{"tcp", 443, netip.AddrPortFrom(eg, n.TransparentTLS)},
		// Any resolver the agent names ends up at the allowlist DNS.
		{"udp", 53, netip.AddrPortFrom(eg, n.DNSPort)},
		{"tcp", 53, netip.AddrPortFrom(eg, n.DNSPort)},
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
	return rs
}

// Render prints the ruleset in nft syntax (nft -f accepts it).
func (rs Ruleset) Render() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", rs.Table)
	b.WriteString("\tchain nat_output {\n\t\ttype nat hook output priority -100; policy accept;\n")
	for _, p := range rs.NATSkip {
		fmt.Fprintf(&b, "\t\tip daddr %s return\n", p)
	}
	for _, r := range rs.Redirects {
		fmt.Fprintf(&b, "\t\tmeta nfproto ipv4 %s dport %d dnat ip to %s\n", r.Proto, r.Port, r.To)
	}
	b.WriteString("\t}\n")
	b.WriteString("\tchain filter_output {\n\t\ttype filter hook output priority 0; policy accept;\n")
	b.WriteString("\t\tct state established,related accept\n")
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
