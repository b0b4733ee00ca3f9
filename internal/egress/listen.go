package egress

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Addrs are the listen addresses ListenAndServe opens; empty ones are
// skipped. DNS opens UDP and TCP on the same address.
type Addrs struct {
	Proxy           string
	TransparentHTTP string
	TransparentTLS  string
	DNS             string
}

// ShutdownGrace is how long ListenAndServe lets tunnels finish after ctx ends.
const ShutdownGrace = 5 * time.Second

// ListenAndServe runs the proxy on the given addresses until ctx ends,
// then shuts down gracefully. It is the standalone command's loop; the
// sandbox instead hands listeners it made to the Serve methods.
func ListenAndServe(ctx context.Context, cfg Config, a Addrs) error {
	s, err := New(cfg)
	if err != nil {
		return err
	}
	var serves []func() error
	var closers []func() error
	fail := func(err error) error {
		for _, c := range closers {
			c()
		}
		s.Close()
		return err
	}
	for _, l := range []struct {
		addr, what string
		serve      func(net.Listener) error
	}{
		{a.Proxy, "proxy", s.ServeProxy},
		{a.TransparentHTTP, "transparent http", s.ServeTransparentHTTP},
		{a.TransparentTLS, "transparent tls", s.ServeTransparentTLS},
		{a.DNS, "dns tcp", s.ServeDNSStream},
	} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fail(fmt.Errorf("listen %s on %s: %w", l.what, l.addr, err))
		}
		closers = append(closers, ln.Close)
		serve := l.serve
		serves = append(serves, func() error { return serve(ln) })
		slog.Info("egress proxy listening", "listener", l.what, "addr", ln.Addr().String())
	}
	if a.DNS != "" {
		pc, err := net.ListenPacket("udp", a.DNS)
		if err != nil {
			return fail(fmt.Errorf("listen dns udp on %s: %w", a.DNS, err))
		}
		closers = append(closers, pc.Close)
		serves = append(serves, func() error { return s.ServeDNSPacket(pc) })
		slog.Info("egress proxy listening", "listener", "dns udp", "addr", pc.LocalAddr().String())
	}
	if len(serves) == 0 {
		return fail(errors.New("egress: no listen address"))
	}
	errs := make(chan error, len(serves))
	for _, f := range serves {
		go func() { errs <- f() }()
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errs:
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	s.Shutdown(sctx)
	if errors.Is(serveErr, ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}
