package egress

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/domains"
)

func TestParsePorts(t *testing.T) {
	cases := []struct {
		in   string
		want []uint16
		err  string
	}{
		{"80,443", []uint16{80, 443}, ""},
		{" 443 , 80,80", []uint16{80, 443}, ""},
		{"3000-3002", []uint16{3000, 3001, 3002}, ""},
		{"22", nil, "Port 22 is blocked for security reasons"},
		{"6000-6400", nil, "Port range 6000-6400 includes dangerous port 6379"},
		{"0", nil, "Invalid port: 0. Must be a number between 1 and 65535"},
		{"70000", nil, "Invalid port: 70000"},
		{"http", nil, "Invalid port: http"},
		{"10-5", nil, "Invalid port range: 10-5"},
	}
	for _, c := range cases {
		got, err := ParsePorts(c.in)
		if c.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), c.err) {
				t.Errorf("ParsePorts(%q) err = %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("ParsePorts(%q) = %v, %v", c.in, got, err)
		}
	}
}

func TestDangerousPortsMatchDomains(t *testing.T) {
	var ours []int
	for _, p := range DangerousPorts {
		ours = append(ours, int(p))
	}
	if !slices.Equal(ours, domains.DangerousPorts()) {
		t.Errorf("egress %v != domains %v", ours, domains.DangerousPorts())
	}
}

func TestParseDNSServers(t *testing.T) {
	if got, err := ParseDNSServers("8.8.8.8, 2001:4860:4860::8888"); err != nil || len(got) != 2 {
		t.Errorf("valid list: %v %v", got, err)
	}
	for in, msg := range map[string]string{
		"":            "At least one DNS server must be specified",
		" , ":         "At least one DNS server must be specified",
		"8.8.8.8,dns": "Invalid DNS server IP address: dns",
		"999.1.1.1":   "Invalid DNS server IP address: 999.1.1.1",
	} {
		if _, err := ParseDNSServers(in); err == nil || err.Error() != msg {
			t.Errorf("ParseDNSServers(%q) = %v, want %q", in, err, msg)
		}
	}
}

func TestValidate(t *testing.T) {
	p := mustPolicy(t, "example.com", "")
	if err := (Config{Policy: p}).Validate(); err != nil {
		t.Error(err)
	}
	if err := (Config{}).Validate(); err == nil {
		t.Error("no policy accepted")
	}
	if err := (Config{Policy: p, Ports: []uint16{443, 3306}}).Validate(); err == nil {
		t.Error("dangerous port accepted")
	}
}

func TestClassify(t *testing.T) {
	cases := map[string]bool{ // address -> admitted without AllowPrivate
		"198.51.100.7": true, "203.0.113.9": true, "2001:db8::1": true, "140.82.116.5": true,
		"127.0.0.1": false, "127.9.9.9": false, "::1": false, "0.0.0.0": false, "::": false,
		"0.1.2.3": false, "169.254.169.254": false, "fe80::1": false, "224.0.0.1": false,
		"ff02::1": false, "255.255.255.255": false, "10.0.0.1": false, "172.16.0.1": false,
		"172.31.255.255": false, "192.168.1.1": false, "100.64.0.1": false, "fd00::1": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "64:ff9b::a9fe:a9fe": false,
		"64:ff9b::c633:6401": true, "172.32.0.1": true, "100.128.0.1": true,
		"::7f00:1": false, "::a9fe:a9fe": false, "::c633:6401": false, // IPv4-compatible (::/96)
	}
	for a, want := range cases {
		if got := destAllowed(netip.MustParseAddr(a), false); got != want {
			t.Errorf("destAllowed(%s) = %v, want %v", a, got, want)
		}
	}
	for _, a := range []string{"10.0.0.1", "192.168.1.1", "fd00::1", "100.64.0.1"} {
		if !destAllowed(netip.MustParseAddr(a), true) {
			t.Errorf("AllowPrivate refused %s", a)
		}
	}
	for _, a := range []string{"127.0.0.1", "169.254.169.254", "0.0.0.0", "224.0.0.1"} {
		if destAllowed(netip.MustParseAddr(a), true) {
			t.Errorf("AllowPrivate admitted %s", a)
		}
	}
}

func TestIsRawIP(t *testing.T) {
	for h, want := range map[string]bool{
		"1.2.3.4": true, "[::1]": true, "::1": true, "2001:db8::1": true, "3405803796": true,
		"0xcb.0.113.20": true, "203.0.28948": true, "0300.0250.1.1": true, "1.2.3.4.": true,
		"example.com": false, "a1.b2": false, "x.0xz": false, "github.com": false,
	} {
		if got := isRawIP(h); got != want {
			t.Errorf("isRawIP(%q) = %v, want %v", h, got, want)
		}
	}
}

func TestFormats(t *testing.T) {
	e := &Entry{
		Start: time.UnixMilli(1700000000123), Client: netip.MustParseAddrPort("172.30.0.20:40000"),
		HostHeader: "api.github.com:443", Dest: netip.MustParseAddrPort("140.82.116.5:443"), Version: "1.1",
		Method: "CONNECT", Status: 200, Code: codeTunnel, Hier: hierDirect, URL: "api.github.com:443",
		UserAgent: `curl/7.81.0 "x"`, BytesIn: 10, BytesOut: 20, Duration: 1500 * time.Millisecond, Rule: "allow-both-plain",
	}
	want := `1700000000.123 172.30.0.20:40000 api.github.com:443 140.82.116.5:443 1.1 CONNECT 200 TCP_TUNNEL:HIER_DIRECT api.github.com:443 "curl/7.81.0 %22x%22"` + "\n"
	if got := FormatAccess(e); got != want {
		t.Errorf("access:\n got %q\nwant %q", got, want)
	}
	wantJSON := `{"ts":1700000000.123,"client":"172.30.0.20","host":"api.github.com:443","dest":"140.82.116.5:443","method":"CONNECT","status":200,"decision":"TCP_TUNNEL","url":"api.github.com:443","bytes_in":10,"bytes_out":20,"duration_ms":1500,"rule":"allow-both-plain"}` + "\n"
	if got := FormatAudit(e); got != wantJSON {
		t.Errorf("audit:\n got %s\nwant %s", got, wantJSON)
	}
	d := &Entry{Start: time.UnixMilli(1700000000005), Client: netip.MustParseAddrPort("172.30.0.20:1"), HostHeader: "evil.com:443",
		Method: "CONNECT", Status: 403, Code: codeDenied, Hier: hierNone, URL: "evil.com:443"}
	if got := FormatAccess(d); got != `1700000000.005 172.30.0.20:1 evil.com:443 -:- - CONNECT 403 TCP_DENIED:HIER_NONE evil.com:443 "-"`+"\n" {
		t.Errorf("denied access line %q", got)
	}
	// A hostile URL cannot break the line.
	d.URL = "http://x/a b\nc"
	if l := FormatAccess(d); strings.Count(l, "\n") != 1 || len(strings.Fields(l)) != 10 {
		t.Errorf("unsafe line %q", l)
	}
}

func TestSniffHello(t *testing.T) {
	for _, sni := range []string{"api.github.com", "API.GitHub.com", ""} {
		a, b := net.Pipe()
		go func() {
			tls.Client(a, &tls.Config{ServerName: sni, InsecureSkipVerify: true}).Handshake()
			a.Close()
		}()
		h := sniffHello(b, b)
		b.Close()
		want := strings.ToLower(sni)
		if !h.tls || h.sni != want || len(h.data) < 100 || h.data[0] != 0x16 {
			t.Errorf("sni %q: got tls=%v sni=%q %d bytes", sni, h.tls, h.sni, len(h.data))
		}
	}
	a, b := net.Pipe()
	go func() { a.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); a.Close() }()
	if h := sniffHello(b, b); h.tls || !strings.HasPrefix(string(h.data), "GET /") {
		t.Errorf("plain HTTP: tls=%v data %q", h.tls, h.data)
	}
}

func TestPeekHeader(t *testing.T) {
	req := "GET http://a.test/ HTTP/1.1\r\nhOsT: a.test\r\nX: y\r\n\r\nbody"
	br := bufio.NewReaderSize(strings.NewReader(req), 64)
	hosts, err := peekHeader(br)
	if err != nil || len(hosts) != 1 || hosts[0] != "a.test" || br.Buffered() == 0 {
		t.Errorf("hosts %v err %v", hosts, err)
	}
	br = bufio.NewReaderSize(strings.NewReader("GET / HTTP/1.1\r\nX: "+strings.Repeat("a", 100)+"\r\n\r\n"), 64)
	if _, err := peekHeader(br); err != errHeaderTooLarge {
		t.Errorf("too large: %v", err)
	}
}

type countingResolver struct {
	n     int
	addrs []netip.Addr
	err   error
}

func (c *countingResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	c.n++
	return c.addrs, c.err
}

func TestCachingResolver(t *testing.T) {
	next := &countingResolver{addrs: []netip.Addr{netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("2001:db8::1")}}
	now := time.Unix(1000, 0)
	c := newCachingResolver(next)
	c.now = func() time.Time { return now }
	ctx := context.Background()
	for range 3 {
		if a, _ := c.LookupNetIP(ctx, "ip", "a.test"); len(a) != 2 {
			t.Fatalf("ip: %v", a)
		}
	}
	if a, _ := c.LookupNetIP(ctx, "ip6", "a.test"); len(a) != 1 || !a[0].Is6() {
		t.Errorf("ip6 filter: %v", a)
	}
	if next.n != 1 {
		t.Errorf("%d lookups for one name within the TTL", next.n)
	}
	now = now.Add(11 * time.Second)
	c.LookupNetIP(ctx, "ip", "a.test")
	if next.n != 2 {
		t.Errorf("expired entry not refreshed: %d lookups", next.n)
	}
	next.err = errors.New("nxdomain")
	c.LookupNetIP(ctx, "ip", "b.test")
	if _, err := c.LookupNetIP(ctx, "ip", "b.test"); err == nil || next.n != 3 {
		t.Errorf("negative answer: err %v, %d lookups", err, next.n)
	}
	now = now.Add(3 * time.Second)
	c.LookupNetIP(ctx, "ip", "b.test")
	if next.n != 4 {
		t.Errorf("negative entry kept too long: %d lookups", next.n)
	}
}
