package native

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/sandbox"
	"github.com/awf-dev/awf/internal/testnet"
)

func TestMain(m *testing.M) {
	Preflight = func(env map[string]string) error {
		if env["AWF_TEST_PREFLIGHT_FAIL"] != "" {
			return errors.New("placeholder mismatch")
		}
		return nil
	}
	if len(os.Args) > 1 && os.Args[1] == InitArg {
		InitMain()
	}
	testnet.Main(m)
}

func testNetwork() sandbox.Network {
	n := sandbox.Network{
		EgressIP: sandbox.DefaultEgressIP, APIProxyIP: sandbox.DefaultAPIProxyIP,
		ExplicitPort: 3128, TransparentHTTP: 3129, TransparentTLS: 3130, DNSPort: 53,
		APIPortMin: 10000, APIPortMax: 10004, APIProxy: true, DisableIPv6: true,
		ServiceAddrsOnLoop: []string{"172.30.0.10/32", "172.30.0.30/32"},
	}
	n.Rules = sandbox.BuildRuleset(n)
	return n
}

// acceptOnce answers each connection with the address it was accepted on.
func serveAddr(t *testing.T, l net.Listener) {
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(c.LocalAddr().String()))
			c.Close()
		}
	}()
}

func TestNetnsFirewall(t *testing.T) {
	testnet.Require(t)
	ns, err := NewNetns()
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	start := time.Now()
	if err := ns.Setup(testNetwork()); err != nil {
		t.Fatal(err)
	}
	t.Logf("netns setup took %v", time.Since(start))
	for _, a := range []string{"172.30.0.10:3128", "172.30.0.10:3129", "172.30.0.10:3130", "172.30.0.30:10001"} {
		l, err := ns.Listen("tcp4", a)
		if err != nil {
			t.Fatal(err)
		}
		serveAddr(t, l)
	}
	// A host-namespace service that the sandbox must not reach directly.
	host, err := net.Listen("tcp4", testnet.HostAddr(7).String()+":80")
	if err != nil {
		t.Fatal(err)
	}
	serveAddr(t, host)

	tests := []struct {
		name, network, addr string
		wantLocal           string // listener that answers; "" = must fail
	}{
		{"explicit proxy", "tcp4", "172.30.0.10:3128", "172.30.0.10:3128"},
		{"transparent http", "tcp4", testnet.HostAddr(7).String() + ":80", "172.30.0.10:3129"},
		{"transparent tls", "tcp4", "203.0.113.1:443", "172.30.0.10:3130"},
		{"api proxy", "tcp4", "172.30.0.30:10001", "172.30.0.30:10001"},
		{"other port", "tcp4", testnet.HostAddr(7).String() + ":8080", ""},
		{"service ip other port", "tcp4", "172.30.0.10:22", ""},
		{"ipv6", "tcp6", "[2001:db8::1]:443", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			t0 := time.Now()
			err := ns.Do(func() error {
				c, err := net.DialTimeout(tc.network, tc.addr, 3*time.Second)
				if err != nil {
					return err
				}
				defer c.Close()
				b := make([]byte, 64)
				n, _ := c.Read(b)
				got = string(b[:n])
				return nil
			})
			el := time.Since(t0)
			if tc.wantLocal == "" {
				if err == nil {
					t.Fatalf("dial %s succeeded (%q), want refused", tc.addr, got)
				}
				if el > 200*time.Millisecond {
					t.Fatalf("refusal took %v", el)
				}
				return
			}
			if err != nil || got != tc.wantLocal {
				t.Fatalf("dial %s: %v, answered by %q, want %q", tc.addr, err, got, tc.wantLocal)
			}
		})
	}
	t.Run("udp refused", func(t *testing.T) {
		err := ns.Do(func() error {
			c, err := net.Dial("udp4", testnet.HostAddr(7).String()+":9999")
			if err != nil {
				return err
			}
			defer c.Close()
			// A rejected datagram fails the send itself (EPERM).
			if _, err := c.Write([]byte("x")); err != nil {
				return err
			}
			c.SetReadDeadline(time.Now().Add(time.Second))
			_, err = c.Read(make([]byte, 10))
			return err
		})
		if !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("udp: %v, want refused at once", err)
		}
	})
	t.Run("ruleset visible to nft", func(t *testing.T) {
		var out []byte
		err := ns.Do(func() (err error) {
			out, err = exec.Command("nft", "list", "ruleset").CombinedOutput()
			return err
		})
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if !strings.Contains(string(out), "dnat ip to 172.30.0.10:3130") {
			t.Fatalf("ruleset:\n%s", out)
		}
	})
	_ = netip.Addr{}
}
