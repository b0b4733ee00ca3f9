package egress

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/awf-dev/awf/internal/domains"
)

// recorder is a net.Conn for crypto/tls that reads from r, keeps every
// byte it read, and swallows writes: the handshake never gets further than
// the ClientHello, and the alert it sends on the way out goes nowhere.
type recorder struct {
	net.Conn
	r   io.Reader
	buf bytes.Buffer
}

func (c *recorder) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.buf.Write(p[:n])
	return n, err
}

func (c *recorder) Write(p []byte) (int, error) { return len(p), nil }
func (c *recorder) Close() error                { return nil }

var errHelloSeen = errors.New("egress: client hello seen")

// hello is what sniffing the start of a tunnel found.
type hello struct {
	tls  bool   // a well-formed TLS ClientHello
	sni  string // its server name, canonical, "" if none
	ech  bool   // it carries Encrypted Client Hello (or the older ESNI)
	data []byte // every byte consumed from the client, to forward first
}

// TLS extensions that hide the real server name inside the handshake: with
// them the SNI the proxy judges is only a cover name (the ECH "outer" name,
// often a CDN's shared front), so such hellos are refused.
const (
	extECH  = 0xfe0d
	extESNI = 0xffce
)

// sniffHello reads a TLS ClientHello from r without terminating TLS: it
// lets crypto/tls parse the hello and aborts from GetConfigForClient, so
// the parsing is the standard library's, fragmentation included. conn
// supplies addresses only; the caller sets the read deadline.
func sniffHello(conn net.Conn, r io.Reader) hello {
	rec := &recorder{Conn: conn, r: r}
	var h hello
	cfg := &tls.Config{GetConfigForClient: func(chi *tls.ClientHelloInfo) (*tls.Config, error) {
		h.tls = true
		h.sni = canonicalHost(chi.ServerName)
		for _, x := range chi.Extensions {
			h.ech = h.ech || x == extECH || x == extESNI
		}
		return nil, errHelloSeen
	}}
	_ = tls.Server(rec, cfg).HandshakeContext(context.Background())
	h.data = rec.buf.Bytes()
	return h
}

// canonicalHost is the form names are compared in (domains.Canonical):
// ASCII, lower case, no trailing dot. Addresses and invalid names come
// back marked, so they never compare equal to an admitted name.
func canonicalHost(h string) string {
	if h == "" {
		return ""
	}
	c, err := domains.Canonical(h)
	if err != nil {
		return "!" + strings.ToLower(h)
	}
	return c
}
