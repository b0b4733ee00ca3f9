package native

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/awf-dev/awf/internal/sandbox"
)

// applyRuleset installs rs in the calling thread's network namespace, in
// one netlink batch.
func applyRuleset(rs sandbox.Ruleset) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := c.AddTable(&nftables.Table{Name: rs.Table, Family: nftables.TableFamilyINet})
	accept := nftables.ChainPolicyAccept
	natChain := c.AddChain(&nftables.Chain{Name: "nat_output", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest, Policy: &accept})
	filter := c.AddChain(&nftables.Chain{Name: "filter_output", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter, Policy: &accept})

	add := func(ch *nftables.Chain, es ...[]expr.Any) {
		var all []expr.Any
		for _, e := range es {
			all = append(all, e...)
		}
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: all})
	}
	redirect := func(r sandbox.Redirect) {
		to := r.To.Addr().As4()
		match := [][]expr.Any{ipv4()}
		if r.Dst.IsValid() {
			match = append(match, daddr(r.Dst))
		}
		match = append(match, l4(r.Proto), dport(r.Ports()))
		nat := []expr.Any{&expr.Immediate{Register: 1, Data: to[:]}}
		if r.To.Port() == 0 { // keep the port: address only
			nat = append(nat, &expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1})
		} else {
			nat = append(nat,
				&expr.Immediate{Register: 2, Data: be16(r.To.Port())},
				&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true})
		}
		add(natChain, append(match, nat)...)
	}
	for _, r := range rs.PreRedirects {
		redirect(r)
	}
	for _, p := range rs.NATSkip {
		add(natChain, ipv4(), daddr(p), verdict(expr.VerdictReturn))
	}
	for _, r := range rs.Redirects {
		redirect(r)
	}
	zero := []byte{0, 0, 0, 0}
	est := make([]byte, 4)
	binary.NativeEndian.PutUint32(est, expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED)
	add(filter, []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: est, Xor: zero},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: zero},
	}, verdict(expr.VerdictAccept))
	for _, g := range rs.Guards {
		uid := make([]byte, 4)
		binary.NativeEndian.PutUint32(uid, g.UID)
		add(filter, ipv4(), daddr(g.Dst), l4("tcp"), dport(g.Port, g.Port), []expr.Any{
			&expr.Meta{Key: expr.MetaKeySKUID, Register: 1},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: uid},
			&expr.Reject{Type: unix.NFT_REJECT_TCP_RST},
		})
	}
	for _, cf := range rs.Confines {
		uid := make([]byte, 4)
		binary.NativeEndian.PutUint32(uid, cf.UID)
		is := []expr.Any{&expr.Meta{Key: expr.MetaKeySKUID, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: uid}}
		for _, a := range cf.Allow {
			es := [][]expr.Any{is, ipv4(), daddr(a.Dst)}
			if a.Proto != "" {
				es = append(es, l4(a.Proto), dport(a.Min, a.Max))
			}
			add(filter, append(es, verdict(expr.VerdictAccept))...)
		}
		add(filter, is, l4("tcp"), []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_TCP_RST}})
		add(filter, is, []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH}})
	}
	for _, a := range rs.Accepts {
		es := [][]expr.Any{ipv4(), daddr(a.Dst)}
		if a.Proto != "" {
			es = append(es, l4(a.Proto), dport(a.Min, a.Max))
		}
		es = append(es, verdict(expr.VerdictAccept))
		add(filter, es...)
	}
	add(filter, l4("tcp"), []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_TCP_RST}})
	add(filter, []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH}})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("install nftables ruleset: %w", err)
	}
	return nil
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func ipv4() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
	}
}

func daddr(p netip.Prefix) []expr.Any {
	p = p.Masked()
	a := p.Addr().As4()
	mask := make([]byte, 4)
	binary.BigEndian.PutUint32(mask, ^uint32(0)<<(32-p.Bits()))
	if p.Bits() == 0 {
		mask = []byte{0, 0, 0, 0}
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]},
	}
}

func l4(proto string) []expr.Any {
	n := byte(unix.IPPROTO_TCP)
	if proto == "udp" {
		n = unix.IPPROTO_UDP
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{n}},
	}
}

func dport(min, max uint16) []expr.Any {
	load := &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}
	if min == max {
		return []expr.Any{load, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: be16(min)}}
	}
	return []expr.Any{load, &expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: be16(min), ToData: be16(max)}}
}

func verdict(k expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: k}} }
