package hostaccess

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/awf-dev/awf/internal/sandbox"
)

func TestBuildErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"host ports without host access", Options{AllowHostPorts: "8080"}, "--allow-host-ports requires --enable-host-access to be set"},
		{"allowlist entry is not the flag", Options{AllowHostPorts: "8080", AllowDomains: []string{Name}}, "--allow-host-ports requires --enable-host-access to be set"},
		{"dangerous", Options{EnableHostAccess: true, AllowHostPorts: "80,22"}, "Port 22 is blocked for security reasons. Dangerous ports (SSH:22, MySQL:3306, PostgreSQL:5432, etc.) cannot be allowed even with --allow-host-ports."},
		{"dangerous in range", Options{EnableHostAccess: true, AllowHostPorts: "5000-5500"}, "Port range 5000-5500 includes dangerous port 5432 which is blocked for security reasons. Dangerous ports (SSH, databases, etc.) cannot be allowed even with --allow-host-ports."},
		{"not a number", Options{EnableHostAccess: true, AllowHostPorts: "http"}, "Invalid port: http. Must be a number between 1 and 65535"},
		{"zero", Options{EnableHostAccess: true, AllowHostPorts: "0"}, "Invalid port: 0. Must be a number between 1 and 65535"},
		{"too big", Options{EnableHostAccess: true, AllowHostPorts: "70000"}, "Invalid port: 70000. Must be a number between 1 and 65535"},
		{"reversed range", Options{EnableHostAccess: true, AllowHostPorts: "3010-3000"}, "Invalid port range: 3010-3000. Must be in format START-END where 1 <= START <= END <= 65535"},
		{"service not numeric", Options{ServicePorts: "5432,abc"}, "Invalid port in --allow-host-service-ports: abc. Must be a numeric value"},
		{"service range refused", Options{ServicePorts: "5432-5433"}, "Invalid port in --allow-host-service-ports: 5432-5433. Must be a numeric value"},
		{"service out of range", Options{ServicePorts: "99999"}, "Invalid port in --allow-host-service-ports: 99999. Must be a number between 1 and 65535"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Build(tc.o)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestBuildPorts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		o        Options
		host     bool
		open     []uint16
		closed   []uint16
		api      []uint16
		naddrs   int
		noticeIn string
	}{
		{name: "off", o: Options{}, closed: []uint16{80, 443, 8080}},
		{name: "flag: 80 and 443", o: Options{EnableHostAccess: true}, host: true, open: []uint16{80, 443}, closed: []uint16{8080, 22, 10000}, naddrs: 2},
		{name: "ports and ranges", o: Options{EnableHostAccess: true, AllowHostPorts: "80,443,8080, 3000-3010"}, host: true,
			open: []uint16{80, 443, 8080, 3000, 3005, 3010}, closed: []uint16{2999, 3011, 8081, 5432}, naddrs: 2},
		{name: "service ports skip the dangerous list and enable host access", o: Options{ServicePorts: "5432,6379"}, host: true,
			open: []uint16{80, 443, 5432, 6379}, closed: []uint16{22, 3306}, naddrs: 2, noticeIn: "automatically enabling host access"},
		{name: "exact allowlist entry", o: Options{AllowDomains: []string{"github.com", "https://HOST.docker.internal"}}, host: true,
			open: []uint16{80, 443}, closed: []uint16{8080}, naddrs: 2},
		{name: "wildcard entry does not count", o: Options{AllowDomains: []string{"*.docker.internal"}}, closed: []uint16{80}},
		{name: "api proxy alone", o: Options{APIProxy: true}, api: []uint16{10000, 10003, 10004}, closed: []uint16{80, 443, 10005, 8080}, naddrs: 1},
		{name: "api ports win over host ports", o: Options{APIProxy: true, EnableHostAccess: true, AllowHostPorts: "9400-10001"}, host: true,
			open: []uint16{80, 9400, 9999}, api: []uint16{10000, 10001, 10002}, naddrs: 2, noticeIn: "overlaps the api proxy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, notes, err := Build(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if p.Host != tc.host || len(p.Addrs) != tc.naddrs {
				t.Fatalf("Host=%v addrs=%v, want %v/%d", p.Host, p.Addrs, tc.host, tc.naddrs)
			}
			for _, port := range tc.open {
				if r, ok := p.Lookup(port); !ok || r.Route != RouteHost {
					t.Errorf("port %d: %+v %v, want host", port, r, ok)
				}
			}
			for _, port := range tc.api {
				if r, ok := p.Lookup(port); !ok || r.Route != RouteAPIProxy {
					t.Errorf("port %d: %+v %v, want api-proxy", port, r, ok)
				}
			}
			for _, port := range tc.closed {
				if r, ok := p.Lookup(port); ok {
					t.Errorf("port %d open: %+v", port, r)
				}
			}
			if tc.noticeIn != "" {
				found := false
				for _, n := range notes {
					found = found || strings.Contains(n.Msg, tc.noticeIn)
				}
				if !found {
					t.Errorf("no notice containing %q in %v", tc.noticeIn, notes)
				}
			}
		})
	}
}

func TestIsHost(t *testing.T) {
	p, _, _ := Build(Options{EnableHostAccess: true})
	for host, want := range map[string]bool{
		"host.docker.internal": true, "HOST.Docker.Internal.": true, "172.17.0.1": true, "[::ffff:172.17.0.1]": true,
		"172.30.0.1": true, "x.host.docker.internal": false, "127.0.0.1": false, "169.254.169.254": false, "localhost": false,
	} {
		if got := p.IsHost(host); got != want {
			t.Errorf("IsHost(%q) = %v", host, got)
		}
	}
	var off Plan
	if off.IsHost(Name) {
		t.Error("zero plan admits the host")
	}
}

func TestDenyReason(t *testing.T) {
	if r := DenyReason(22); !strings.HasPrefix(r, "Port 22 is blocked for security reasons. Dangerous ports") {
		t.Error(r)
	}
	if r := DenyReason(9999); r != "port 9999 not allowed on host.docker.internal (not in --allow-host-ports)" {
		t.Error(r)
	}
}

func TestNetExtra(t *testing.T) {
	eg, ap := netip.MustParseAddr("172.30.0.10"), netip.MustParseAddr("172.30.0.30")
	p, _, err := Build(Options{EnableHostAccess: true, AllowHostPorts: "3000-3010", APIProxy: true})
	if err != nil {
		t.Fatal(err)
	}
	x := p.NetExtra(eg, ap)
	if len(x.Loopback) != 2 || x.Hosts[0] != "172.17.0.1\thost.docker.internal" {
		t.Fatalf("%+v", x)
	}
	n := sandbox.Network{EgressIP: eg, APIProxyIP: ap, APIProxy: true, ExplicitPort: 3128, TransparentHTTP: 3129, TransparentTLS: 3130, DNSPort: 53, APIPortMin: 10000, APIPortMax: 10004, Extra: x}
	text := sandbox.BuildRuleset(n).Render()
	for _, want := range []string{
		"ip daddr 172.17.0.1/32 tcp dport 10000-10004 dnat ip to 172.30.0.30\n",
		"ip daddr 172.17.0.1/32 tcp dport 80 dnat ip to 172.30.0.10:3131\n",
		"ip daddr 172.30.0.1/32 tcp dport 3000-3010 dnat ip to 172.30.0.10:3131\n",
		"ip daddr 172.17.0.1/32 return\n",
		"ip daddr 172.30.0.10/32 tcp dport 3131 accept\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, text)
		}
	}
	// The host redirects come before the generic 80/443 ones.
	if strings.Index(text, "172.17.0.1/32 tcp dport 80 ") > strings.Index(text, "meta nfproto ipv4 tcp dport 80 ") {
		t.Errorf("host redirect after the generic one:\n%s", text)
	}
	if strings.Contains(text, "172.17.0.1/32 accept") || strings.Contains(text, "172.17.0.1/32 tcp dport 22") {
		t.Errorf("host address accepted wholesale:\n%s", text)
	}
	var off Plan
	if x := off.NetExtra(eg, ap); len(x.Loopback)+len(x.PreRedirects)+len(x.Hosts) != 0 {
		t.Errorf("zero plan adds %+v", x)
	}
}

func TestLocalhostKeyword(t *testing.T) {
	for _, tc := range []struct {
		o     Options
		list  string
		ports string
	}{
		{Options{AllowDomains: []string{"localhost", "github.com"}}, "github.com,host.docker.internal", DevPorts},
		{Options{AllowDomains: []string{"https://localhost"}, EnableHostAccess: true, AllowHostPorts: "3000"}, "https://host.docker.internal", "3000"},
		{Options{AllowDomains: []string{"http://localhost"}}, "http://host.docker.internal", DevPorts},
	} {
		p, notes, err := Build(tc.o)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Host || !p.Localhost || strings.Join(p.AllowDomains, ",") != tc.list || p.AllowHostPorts != tc.ports {
			t.Errorf("%+v: %+v", tc.o, p)
		}
		if _, ok := p.Lookup(5173); ok != (tc.ports == DevPorts) {
			t.Errorf("%+v: 5173 open %v", tc.o, ok)
		}
		last := notes[len(notes)-1].Msg
		_ = last
		x := p.NetExtra(netip.MustParseAddr("172.30.0.10"), netip.MustParseAddr("172.30.0.30"))
		if x.Localhost != HostGateway {
			t.Errorf("localhost -> %v", x.Localhost)
		}
	}
	p, _, _ := Build(Options{AllowDomains: []string{"localhost.example.com", "mylocalhost"}})
	if p.Localhost || p.Host {
		t.Errorf("not the keyword: %+v", p)
	}
}
