// Package native runs a sandbox.Plan with Linux namespaces, nftables and
// cgroups, from the one static binary. It is the thin, kernel-touching half
// of the sandbox; everything it applies was computed by package sandbox.
package native

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/awf-dev/awf/internal/sandbox"
)

// Netns is the agent's network namespace. One goroutine, locked to an OS
// thread that has joined the namespace, lives as long as the Netns: every
// socket made through Listen and every process started through Start is
// created on that thread and so belongs to the namespace. The thread never
// returns to the scheduler's pool (it exits when the Netns is closed), so
// no other goroutine ever runs inside the namespace by accident, and a
// child's parent-death signal stays tied to a thread that outlives it.
type Netns struct {
	reqs chan func()
	done chan struct{}
}

var errClosed = errors.New("native: network namespace closed")

// NewNetns creates an empty network namespace (only lo, down).
func NewNetns() (*Netns, error) {
	ns := &Netns{reqs: make(chan func()), done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Deliberately no UnlockOSThread: the thread is in another
		// namespace and must die with this goroutine.
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			started <- fmt.Errorf("unshare network namespace: %w", err)
			return
		}
		started <- nil
		for {
			select {
			case f := <-ns.reqs:
				f()
			case <-ns.done:
				return
			}
		}
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return ns, nil
}

// Do runs fn on the thread inside the namespace.
func (ns *Netns) Do(fn func() error) error {
	errc := make(chan error, 1)
	select {
	case ns.reqs <- func() { errc <- fn() }:
	case <-ns.done:
		return errClosed
	}
	return <-errc
}

// Close ends the namespace's thread. The namespace itself disappears when
// the last socket and process in it are gone.
func (ns *Netns) Close() error {
	select {
	case <-ns.done:
	default:
		close(ns.done)
	}
	return nil
}

// Listen creates a listening socket inside the namespace.
func (ns *Netns) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := ns.Do(func() (err error) { l, err = net.Listen(network, addr); return })
	return l, err
}

// ListenPacket creates a packet socket inside the namespace.
func (ns *Netns) ListenPacket(network, addr string) (net.PacketConn, error) {
	var c net.PacketConn
	err := ns.Do(func() (err error) { c, err = net.ListenPacket(network, addr); return })
	return c, err
}

// Setup brings lo up, puts the service addresses on it with a default route
// through lo (so a connection to any address is routed and meets the
// firewall), turns IPv6 off and installs the ruleset.
func (ns *Netns) Setup(n sandbox.Network) error {
	return ns.Do(func() error {
		// rtnetlink only: a bare NewHandle also opens XFRM and netfilter
		// sockets, and XFRM needs xfrm_user, which a kernel without
		// module autoloading (or a minimal one) lacks.
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("netlink: %w", err)
		}
		defer h.Close()
		lo, err := h.LinkByName("lo")
		if err != nil {
			return fmt.Errorf("find lo: %w", err)
		}
		if n.DisableIPv6 {
			// Before lo goes up, so ::1 is never configured.
			for _, p := range []string{"/proc/sys/net/ipv6/conf/all/disable_ipv6", "/proc/sys/net/ipv6/conf/default/disable_ipv6", "/proc/sys/net/ipv6/conf/lo/disable_ipv6"} {
				err := os.WriteFile(p, []byte("1"), 0)
				if errors.Is(err, syscall.EROFS) {
					// A container's read-only /proc/sys (degrade.go):
					// IPv6 stays on, the ruleset rejects every IPv6 packet.
					break
				}
				if err != nil && !errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("disable IPv6: %w", err)
				}
			}
		}
		if err := h.LinkSetUp(lo); err != nil {
			return fmt.Errorf("lo up: %w", err)
		}
		for _, a := range n.ServiceAddrsOnLoop {
			p, err := netip.ParsePrefix(a)
			if err != nil {
				return err
			}
			ipn := &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}
			if err := h.AddrAdd(lo, &netlink.Addr{IPNet: ipn}); err != nil {
				return fmt.Errorf("add %s to lo: %w", a, err)
			}
		}
		def := &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
		if err := h.RouteAdd(&netlink.Route{LinkIndex: lo.Attrs().Index, Dst: def, Scope: netlink.SCOPE_LINK}); err != nil {
			return fmt.Errorf("default route via lo: %w", err)
		}
		return applyRuleset(n.Rules)
	})
}
