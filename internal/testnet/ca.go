package testnet

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// CA is the test certificate authority. Its certificate is exported via
// SSL_CERT_FILE, so Go's system pool (and Node with NODE_EXTRA_CA_CERTS)
// trusts it while nothing else does.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
	path string
}

var (
	caOnce sync.Once
	ca     *CA
	caErr  error
)

// TestCA returns the process's test CA, creating it on first use.
func TestCA() *CA {
	caOnce.Do(func() { ca, caErr = newCA() })
	if caErr != nil {
		panic(caErr)
	}
	return ca
}

func newCA() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "awf test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// NewCA makes a further CA, trusted by nothing (a service with its own
// CA, such as a DIFC proxy).
func NewCA() (*CA, error) { return newCA() }

// PEM is the CA certificate in PEM form.
func (c *CA) PEM() []byte { return c.pem }

// File is the path of the CA certificate file ("" before export).
func (c *CA) File() string { return c.path }

// Certificate is the CA certificate; Signer its key (tests that mint with
// it, such as the egress suite run with TLS inspection on).
func (c *CA) Certificate() *x509.Certificate { return c.cert }

// Signer is the CA's private key.
func (c *CA) Signer() crypto.Signer { return c.key }

// Pool returns a pool holding only the test CA.
func (c *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}

var serial struct {
	sync.Mutex
	n int64
}

// Leaf issues a server certificate for the given DNS names and IPs.
func (c *CA) Leaf(names ...string) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	serial.Lock()
	serial.n++
	sn := serial.n + 1
	serial.Unlock()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(sn),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		panic(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// exportCA writes the CA to dir and points the TLS environment at it.
func exportCA(dir string) error {
	c := TestCA()
	c.path = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(c.path, c.pem, 0o644); err != nil {
		return err
	}
	for _, v := range []string{"SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"} {
		os.Setenv(v, c.path)
	}
	return nil
}
