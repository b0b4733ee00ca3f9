package egress

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// clientHello records the bytes a TLS client sends first.
func clientHello(t testing.TB, sni string) []byte {
	a, b := net.Pipe()
	go func() {
		tls.Client(a, &tls.Config{ServerName: sni, InsecureSkipVerify: true}).Handshake()
		a.Close()
	}()
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16<<10)
	n, _ := b.Read(buf)
	b.Close()
	return buf[:n]
}

// readConn is a net.Conn that reads a fixed input, then EOF.
type readConn struct {
	net.Conn // nil: only the methods below are used
	*bytes.Reader
}

func (c *readConn) Read(p []byte) (int, error)         { return c.Reader.Read(p) }
func (c *readConn) Write(p []byte) (int, error)        { return len(p), nil }
func (c *readConn) SetReadDeadline(time.Time) error    { return nil }
func (c *readConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (c *readConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (c *readConn) SetDeadline(t time.Time) error      { return nil }
func (c *readConn) SetWriteDeadline(t time.Time) error { return nil }

// FuzzTunnelCheck feeds arbitrary first bytes into a tunnel to
// allowed.test:443 and checks that nothing but a well-formed ClientHello
// naming exactly allowed.test is admitted, and that what is admitted is
// forwarded unchanged.
func FuzzTunnelCheck(f *testing.F) {
	f.Add(clientHello(f, "allowed.test"))
	f.Add(clientHello(f, "evil.test"))
	f.Add(clientHello(f, "ALLOWED.test"))
	f.Add(clientHello(f, ""))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n"))
	f.Add([]byte{0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00})
	s := &Server{cfg: Config{HelloTimeout: time.Second}.withDefaults()}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, port := range []uint16{443, 80} {
			b := &readConn{Reader: bytes.NewReader(data)}
			c := &clientConn{Conn: b}
			prefix, rule, _ := s.checkTunnel(c, bufio.NewReader(b), "allowed.test", port)
			if rule != "" {
				continue
			}
			got := bytes.Join(prefix, nil)
			if !bytes.HasPrefix(data, got) {
				t.Fatalf("port %d: forwarded bytes are not the client's", port)
			}
			h := sniffHello(b, bytes.NewReader(data))
			if h.tls && h.sni != "allowed.test" {
				t.Fatalf("port %d: admitted a hello for %q", port, h.sni)
			}
			if !h.tls && port == 443 {
				t.Fatalf("admitted non-TLS bytes on 443: %q", data)
			}
			if !h.tls && !strings.Contains(strings.ToLower(string(data)), "allowed.test") {
				t.Fatalf("admitted HTTP without the host: %q", data)
			}
		}
	})
}
