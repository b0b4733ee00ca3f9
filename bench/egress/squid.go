package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// squidConf is the original's generated squid.conf reduced to what this
// benchmark exercises: the same log formats (both logs written), the same
// port, raw-IP, allowlist and default-deny rules, timeouts and no cache.
func squidConf(dir, listen string, allow []string) string {
	var dst []string
	for _, a := range allow {
		dst = append(dst, "."+a)
	}
	return fmt.Sprintf(`pinger_enable off
pid_filename %[1]s/squid.pid
logformat firewall_detailed %%ts.%%03tu %%>a:%%>p %%{Host}>h %%<a:%%<p %%rv %%rm %%>Hs %%Ss:%%Sh %%ru "%%{User-Agent}>h"
logformat audit_jsonl {"ts":%%ts.%%03tu,"client":"%%>a","host":"%%{Host}>h","dest":"%%<a:%%<p","method":"%%rm","status":%%>Hs,"decision":"%%Ss","url":"%%ru"}
access_log stdio:%[1]s/access.log firewall_detailed
access_log stdio:%[1]s/audit.jsonl audit_jsonl
cache_log %[1]s/cache.log
cache deny all
acl allowed_domains dstdomain %[3]s
http_port %[2]s
acl SSL_ports port 443
acl Safe_ports port 80
acl Safe_ports port 443
acl CONNECT method CONNECT
http_access deny !Safe_ports
http_access deny CONNECT !Safe_ports
acl dst_ipv4 dstdom_regex ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$
http_access deny dst_ipv4
acl dst_ipv6 dstdom_regex ^\[?[0-9a-fA-F:]+\]?$
http_access deny dst_ipv6
http_access deny !allowed_domains
acl localnet src 127.0.0.0/8
http_access allow localnet
http_access allow localhost
http_access deny all
dns_nameservers 203.0.113.250
forwarded_for delete
via off
cache_mem 64 MB
maximum_object_size 0 KB
read_timeout 30 minutes
connect_timeout 30 seconds
request_timeout 2 minutes
persistent_request_timeout 2 minutes
pconn_timeout 2 minutes
client_lifetime 8 hours
half_closed_clients on
shutdown_lifetime 0 seconds
coredump_dir %[1]s
visible_hostname awf-bench
`, dir, listen, strings.Join(dst, " "))
}

// startSquid runs Debian's squid in the foreground (-N: one process, no
// kids) with the generated config.
func startSquid(listen string, allow []string) (*exec.Cmd, string, error) {
	dir, err := os.MkdirTemp("", "awf-bench-squid-")
	if err != nil {
		return nil, "", err
	}
	os.Chmod(dir, 0o777) // squid drops to the proxy user for its logs
	conf := filepath.Join(dir, "squid.conf")
	if err := os.WriteFile(conf, []byte(squidConf(dir, listen, allow)), 0o644); err != nil {
		return nil, "", err
	}
	cmd := exec.Command("squid", "-N", "-f", conf)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	return cmd, dir, nil
}
