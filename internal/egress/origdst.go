package egress

import (
	"errors"
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// originalDst is where a connection redirected by nftables (redirect or
// dnat) was headed, read from conntrack through SO_ORIGINAL_DST. For a
// connection that was not redirected the kernel answers with the local
// address, which is the listener itself.
func originalDst(c net.Conn) (netip.AddrPort, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return netip.AddrPort{}, errors.New("egress: not a TCP connection")
	}
	local, _ := netip.ParseAddrPort(c.LocalAddr().String())
	raw, err := tc.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, err
	}
	var ap netip.AddrPort
	var serr error
	err = raw.Control(func(fd uintptr) {
		if local.Addr().Unmap().Is4() {
			// sockaddr_in fits in the 16 bytes of an ipv6_mreq.
			m, err := unix.GetsockoptIPv6Mreq(int(fd), unix.SOL_IP, unix.SO_ORIGINAL_DST)
			if err != nil {
				serr = err
				return
			}
			b := m.Multiaddr
			ap = netip.AddrPortFrom(netip.AddrFrom4([4]byte{b[4], b[5], b[6], b[7]}), uint16(b[2])<<8|uint16(b[3]))
			return
		}
		// sockaddr_in6 fits in an ip6_mtuinfo.
		m, err := unix.GetsockoptIPv6MTUInfo(int(fd), unix.SOL_IPV6, ip6tSoOriginalDst)
		if err != nil {
			serr = err
			return
		}
		p := (*[2]byte)(unsafe.Pointer(&m.Addr.Port))
		ap = netip.AddrPortFrom(netip.AddrFrom16(m.Addr.Addr), uint16(p[0])<<8|uint16(p[1]))
	})
	if err == nil {
		err = serr
	}
	return ap, err
}

// ip6tSoOriginalDst is IP6T_SO_ORIGINAL_DST (linux/netfilter_ipv6/ip6_tables.h),
// which x/sys does not export; it shares SO_ORIGINAL_DST's value.
const ip6tSoOriginalDst = 80
