package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ParseDNSServers validates a comma-separated list of IPv4/IPv6 addresses.
func ParseDNSServers(s string) ([]string, error) {
	var out []string
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("Invalid DNS server IP address: %s", e)
		}
		out = append(out, a.String())
	}
	if len(out) == 0 {
		return nil, errors.New("At least one DNS server must be specified")
	}
	return out, nil
}

// ResolvConfFiles are read in order by DetectDNSServers.
var ResolvConfFiles = []string{"/run/systemd/resolve/resolv.conf", "/etc/resolv.conf"}

// FallbackDNSServers are used when nothing usable is configured.
var FallbackDNSServers = []string{"8.8.8.8", "8.8.4.4"}

// DetectDNSServers reads the nameserver lines of the first resolv.conf in
// ResolvConfFiles that yields any. Loopback resolvers (systemd-resolved's
// 127.0.0.53) are kept only when keepLoopback is set: the native runtime
// forwards DNS from the host namespace where they work, while containers
// cannot reach them. It returns the file used, "" for the fallback.
func DetectDNSServers(read func(string) ([]byte, error), keepLoopback bool) ([]string, string) {
	for _, f := range ResolvConfFiles {
		data, err := read(f)
		if err != nil {
			continue
		}
		var out []string
		for _, line := range strings.Split(string(data), "\n") {
			fields := strings.Fields(line)
			if len(fields) < 2 || fields[0] != "nameserver" {
				continue
			}
			a, err := netip.ParseAddr(fields[1])
			if err != nil || a.Zone() != "" || (a.IsLoopback() && !keepLoopback) {
				continue
			}
			if s := a.String(); !contains(out, s) {
				out = append(out, s)
			}
		}
		if len(out) > 0 {
			return out, f
		}
	}
	return append([]string(nil), FallbackDNSServers...), ""
}
