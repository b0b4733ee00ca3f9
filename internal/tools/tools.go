//go:build tools

// Package tools pins dependencies that packages adopt over time.
package tools

import (
	_ "github.com/andybalholm/brotli"
	_ "github.com/coder/websocket"
	_ "github.com/elastic/go-seccomp-bpf"
	_ "github.com/google/nftables"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/miekg/dns"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/spf13/cobra"
	_ "github.com/vishvananda/netlink"
	_ "golang.org/x/net/idna"
	_ "golang.org/x/net/publicsuffix"
	_ "golang.org/x/sys/unix"
)
