package egress

import (
	"net/netip"
	"os"
	"strings"
)

// resolvConfPaths are read in order by DetectDNSServers, as the original.
var resolvConfPaths = []string{"/run/systemd/resolve/resolv.conf", "/etc/resolv.conf"}

// FallbackDNSServers are the original's servers when nothing is detected.
var FallbackDNSServers = []string{"8.8.8.8", "8.8.4.4"}

// DetectDNSServers is the original's auto-detection (for the policy
// manifest and for runtimes whose resolver cannot use the host's loopback
// stub): the nameserver lines of the first resolv.conf that has usable ones,
// loopback addresses dropped. It returns the file they came from, or ""
// and FallbackDNSServers. readFile is os.ReadFile outside tests.
func DetectDNSServers(readFile func(string) ([]byte, error)) (servers []string, source string) {
	if readFile == nil {
		readFile = os.ReadFile
	}
	for _, p := range resolvConfPaths {
		b, err := readFile(p)
		if err != nil {
			continue
		}
		var found []string
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 || f[0] != "nameserver" {
				continue
			}
			a, err := netip.ParseAddr(strings.SplitN(f[1], "%", 2)[0])
			if err != nil || a.Unmap().IsLoopback() {
				continue
			}
			found = append(found, a.Unmap().String())
		}
		if len(found) > 0 {
			return found, p
		}
	}
	return append([]string(nil), FallbackDNSServers...), ""
}
