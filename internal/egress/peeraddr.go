package egress

import (
	"net"
	"net/netip"
	"sync/atomic"
)

// WithClientAddr wraps ln (a unix-socket listener, whose peers have no IP
// address) so that every accepted connection reports ip and a port of its
// own as its remote address. awf's api-proxy reaches the egress proxy
// through such a socket; without this its requests would be logged with
// client "-:-", which the original's access.log parser (and gh-aw's
// scripts built on the same format) cannot read. With it they carry the
// api-proxy's address, as in the original where the sidecar connects from
// 172.30.0.30. Ports cycle through the Linux ephemeral range so that
// concurrent tunnels stay distinguishable in the log.
func WithClientAddr(ln net.Listener, ip netip.Addr) net.Listener {
	return &addrListener{Listener: ln, ip: ip}
}

const (
	ephemeralLow  = 32768
	ephemeralSpan = 60999 - ephemeralLow + 1
)

type addrListener struct {
	net.Listener
	ip   netip.Addr
	next atomic.Uint32
}

func (l *addrListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	port := ephemeralLow + int(l.next.Add(1)-1)%ephemeralSpan
	return &addrConn{Conn: c, remote: net.TCPAddrFromAddrPort(netip.AddrPortFrom(l.ip, uint16(port)))}, nil
}

type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c *addrConn) RemoteAddr() net.Addr { return c.remote }

// CloseWrite keeps the half-close a tunnel relies on (see tunnel.go).
func (c *addrConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}
