package egress

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"net"
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
			prefix, plainHTTP, rule, _ := s.checkTunnel(c, bufio.NewReader(b), "allowed.test", port)
			if rule != "" {
				continue
			}
			if !bytes.HasPrefix(data, prefix) {
				t.Fatalf("port %d: forwarded bytes are not the client's", port)
			}
			h := sniffHello(b, bytes.NewReader(data))
			if h.tls && h.sni != "allowed.test" {
				t.Fatalf("port %d: admitted a hello for %q", port, h.sni)
			}
			if !h.tls && port == 443 {
				t.Fatalf("admitted non-TLS bytes on 443: %q", data)
			}
			if h.tls && h.ech {
				t.Fatalf("port %d: admitted an encrypted client hello", port)
			}
			if !h.tls && !plainHTTP {
				t.Fatalf("port %d: non-TLS bytes not handed to the per-request HTTP check: %q", port, data)
			}
		}
	})
}

// withExtension returns a ClientHello record with one more extension
// (type, body) appended, lengths fixed up.
func withExtension(t testing.TB, rec []byte, typ uint16, body []byte) []byte {
	t.Helper()
	h := rec[5:] // handshake message
	p := 4 + 2 + 32
	p += 1 + int(h[p])                    // session id
	p += 2 + (int(h[p])<<8 | int(h[p+1])) // cipher suites
	p += 1 + int(h[p])                    // compression methods
	extLen := int(h[p])<<8 | int(h[p+1])  // extensions
	if p+2+extLen != len(h) {
		t.Fatalf("unexpected ClientHello layout")
	}
	ext := append([]byte{byte(typ >> 8), byte(typ), byte(len(body) >> 8), byte(len(body))}, body...)
	out := append(bytes.Clone(h), ext...)
	extLen += len(ext)
	out[p], out[p+1] = byte(extLen>>8), byte(extLen)
	bodyLen := len(out) - 4
	out[1], out[2], out[3] = byte(bodyLen>>16), byte(bodyLen>>8), byte(bodyLen)
	return append([]byte{rec[0], rec[1], rec[2], byte(len(out) >> 8), byte(len(out))}, out...)
}

// An Encrypted Client Hello names a cover host in its SNI and hides the
// real one: the tunnel is refused even though the SNI matches.
func TestTunnelRefusesEncryptedClientHello(t *testing.T) {
	s := &Server{cfg: Config{HelloTimeout: time.Second}.withDefaults()}
	plain := clientHello(t, "allowed.test")
	for _, typ := range []uint16{extECH, extESNI} {
		data := withExtension(t, plain, typ, []byte{0x01}) // ECH "inner" marker
		b := &readConn{Reader: bytes.NewReader(data)}
		_, _, rule, _ := s.checkTunnel(&clientConn{Conn: b}, bufio.NewReader(b), "allowed.test", 443)
		if rule != "deny-ech" {
			t.Errorf("extension %#x: rule %q, want deny-ech", typ, rule)
		}
	}
	b := &readConn{Reader: bytes.NewReader(plain)}
	if _, _, rule, _ := s.checkTunnel(&clientConn{Conn: b}, bufio.NewReader(b), "allowed.test", 443); rule != "" {
		t.Errorf("plain hello refused: %s", rule)
	}
}
