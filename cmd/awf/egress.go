package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/awf-dev/awf/internal/domains"
	"github.com/awf-dev/awf/internal/egress"
)

func init() { subcommands = append(subcommands, newEgressCmd) }

type egressFlags struct {
	listen, listenHTTP, listenTLS, listenDNS string
	allow, block, allowFile, blockFile       string
	dnsServers, logDir, ports, logLevel      string
	allowPrivate                             bool
	inspect                                  egressInspectFlags // egress_inspect.go
}

func newEgressCmd() *cobra.Command {
	var f egressFlags
	cmd := &cobra.Command{
		Use:   "egress-proxy",
		Short: "Run the domain-allowlist egress proxy alone (the role Squid plays)",
		Long: `Runs the egress proxy: an explicit HTTP/CONNECT proxy, optional transparent HTTP and TLS
listeners for redirected traffic, and an optional allowlist-only DNS server. The allowlist
language and its validation are the main command's. Access logs go to --log-dir.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config(cmd)
			if err != nil {
				return err
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel(f.logLevel)})))
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return egress.ListenAndServe(ctx, cfg, egress.Addrs{
				Proxy: f.listen, TransparentHTTP: f.listenHTTP, TransparentTLS: f.listenTLS, DNS: f.listenDNS,
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:3128", "address of the explicit proxy (HTTP and CONNECT)")
	fl.StringVarP(&f.allow, "allow-domains", "d", "", "comma-separated allowlist; wildcards and http:// or https:// prefixes")
	fl.StringVar(&f.block, "block-domains", "", "comma-separated blocklist; wins over the allowlist")
	fl.StringVar(&f.allowFile, "allow-domains-file", "", "file of allowlist entries (one per line or comma-separated, # comments)")
	fl.StringVar(&f.blockFile, "block-domains-file", "", "file of blocklist entries")
	fl.StringVar(&f.dnsServers, "dns-servers", "", "comma-separated upstream DNS servers (default: the host's resolvers)")
	fl.StringVar(&f.logDir, "log-dir", "", "directory for access.log, audit.jsonl and dns.jsonl (default: no access log)")
	fl.StringVar(&f.listenHTTP, "listen-http-transparent", "", "address of the transparent HTTP listener (Host header decides)")
	fl.StringVar(&f.listenTLS, "listen-tls-transparent", "", "address of the transparent TLS listener (SNI decides)")
	fl.StringVar(&f.listenDNS, "listen-dns", "", "address of the allowlist-only DNS server (UDP and TCP)")
	fl.StringVar(&f.ports, "allow-ports", "80,443", "ports requests may target: list and ranges; dangerous ports are refused")
	fl.BoolVar(&f.allowPrivate, "allow-private", false, "admit private destinations (10/8, 172.16/12, 192.168/16, fc00::/7, 100.64/10)")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	f.inspect.register(fl) // egress_inspect.go
	return cmd
}

// config turns the flags into an egress.Config with the main command's
// messages.
func (f *egressFlags) config(cmd *cobra.Command) (egress.Config, error) {
	allow := domains.SplitList(f.allow)
	block := domains.SplitList(f.block)
	for _, file := range []struct {
		path string
		into *[]string
	}{{f.allowFile, &allow}, {f.blockFile, &block}} {
		if file.path == "" {
			continue
		}
		entries, err := domains.ReadFile(file.path)
		if err != nil {
			return egress.Config{}, fmt.Errorf("Failed to read domains file: %w", err)
		}
		*file.into = append(*file.into, entries...)
	}
	policy, err := domains.Compile(allow, block)
	if err != nil {
		return egress.Config{}, err
	}
	for _, n := range policy.Notices() { // ignored or broadened entries, shared suffixes
		slog.Warn(n.String())
	}
	if len(allow) == 0 {
		slog.Debug("no allowed domains: all egress is blocked")
	}
	cfg := egress.Config{Policy: policy, AllowPrivate: f.allowPrivate, LogDir: f.logDir}
	if cmd.Flags().Changed("dns-servers") {
		if cfg.DNSServers, err = egress.ParseDNSServers(f.dnsServers); err != nil {
			return egress.Config{}, err
		}
	}
	if cfg.Ports, err = egress.ParsePorts(f.ports); err != nil {
		return egress.Config{}, err
	}
	if cfg.Inspect, err = f.inspect.build(); err != nil {
		return egress.Config{}, err
	}
	return cfg, cfg.Validate()
}
