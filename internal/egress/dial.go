package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"
)

var (
	errPrivateDest = errors.New("destination not allowed (private address)")
	errResolve     = errors.New("could not resolve host")
	errConnect     = errors.New("could not connect to host")
)

// guardDialer resolves a name once, drops every address the SSRF guard
// refuses, and dials the survivors in the resolver's order. The address it
// connects to is the one it checked: nothing resolves the name again.
type guardDialer struct {
	res          Resolver
	allowPrivate bool
	timeout      time.Duration
	net          net.Dialer
}

func newResolver(servers []string) Resolver {
	if len(servers) == 0 {
		return net.DefaultResolver
	}
	var next atomic.Uint32
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			s := servers[int(next.Add(1))%len(servers)]
			var d net.Dialer
			return d.DialContext(ctx, network, net.JoinHostPort(s, "53"))
		},
	}
}

// resolve returns the admitted addresses of host, or errResolve /
// errPrivateDest.
// fqdn makes a name absolute, so the resolver's search list cannot turn an
// admitted name into another one (x.allowed.test -> x.allowed.test.corp).
func fqdn(host string) string {
	if strings.HasSuffix(host, ".") {
		return host
	}
	return host + "."
}

func (d *guardDialer) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	addrs, err := d.res.LookupNetIP(ctx, "ip", fqdn(host))
	if err != nil || len(addrs) == 0 {
		return nil, fmt.Errorf("%w: %v", errResolve, err)
	}
	ok := addrs[:0:0]
	for _, a := range addrs {
		if destAllowed(a, d.allowPrivate) {
			ok = append(ok, a.Unmap())
		}
	}
	if len(ok) == 0 {
		return nil, errPrivateDest
	}
	return ok, nil
}

// dial connects to host:port through the guard.
func (d *guardDialer) dial(ctx context.Context, host string, port uint16) (net.Conn, netip.AddrPort, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	addrs, err := d.resolve(ctx, host)
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	var last error
	for _, a := range addrs {
		ap := netip.AddrPortFrom(a, port)
		c, err := d.net.DialContext(ctx, "tcp", ap.String())
		if err == nil {
			return c, ap, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, netip.AddrPort{}, fmt.Errorf("%w: %v", errConnect, last)
}
