package egress

import (
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// The original's access.log parser (src/logs/log-parser.ts LOG_PATTERN),
// as data: the client must be ip:port for a line to be read at all.
var originalLogPattern = regexp.MustCompile(`^(\d+\.\d+)\s+([^:]+):(\d+)\s+(\S+)\s+([^:]+):(\S+)\s+(\S+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s+"([^"]*)"`)

func TestUnixPeersGetTheAPIProxyAddress(t *testing.T) {
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("172.30.0.30")
	wl := WithClientAddr(ln, ip)
	defer wl.Close()
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		c, err := net.Dial("unix", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := wl.Accept()
		if err != nil {
			t.Fatal(err)
		}
		ap, err := netip.ParseAddrPort(s.RemoteAddr().String())
		if err != nil || ap.Addr() != ip || ap.Port() < 32768 || seen[ap.String()] {
			t.Fatalf("remote %v %v", s.RemoteAddr(), err)
		}
		seen[ap.String()] = true
		line := FormatAccess(&Entry{Start: time.Unix(1700000000, 0), Client: ap, HostHeader: "api.anthropic.com:443", Method: "CONNECT", Status: 200,
			Code: "TCP_TUNNEL", Hier: "HIER_DIRECT", URL: "api.anthropic.com:443", Version: "1.1"})
		if !originalLogPattern.MatchString(line) {
			t.Errorf("the original's parser drops %q", line)
		}
		if _, ok := s.(interface{ CloseWrite() error }); !ok {
			t.Error("half-close lost")
		}
		s.Close()
		c.Close()
	}
	// Without the wrapper the line is unreadable for the original's parser:
	// the regression this guards against.
	if originalLogPattern.MatchString(FormatAccess(&Entry{Start: time.Unix(1700000000, 0), HostHeader: "x:443", Method: "CONNECT", Status: 200, Code: "TCP_TUNNEL", Hier: "HIER_DIRECT", URL: "x:443"})) {
		t.Error("pattern translation is too lax: a -:- client matched")
	}
}
