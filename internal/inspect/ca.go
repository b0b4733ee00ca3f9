package inspect

import (
	"container/list"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"sync"
	"time"
)

// CA is a run's certificate authority. Its private key exists only in this
// process's memory: it is never encoded, written or passed to a child, so
// nothing in the sandbox (or on disk) can read it. Only the certificate
// leaves, as PEM, for the sandbox's trust bundle.
type CA struct {
	cert    *x509.Certificate
	key     crypto.Signer
	pem     []byte
	leafKey *ecdsa.PrivateKey // one key for every leaf: minting is one signature

	mu    sync.Mutex
	cache map[string]*list.Element
	lru   *list.List
	max   int
	// Minted counts leaf certificates made (cache misses), for tests.
	minted int
}

type leafEntry struct {
	name string
	cert *tls.Certificate
}

// DefaultValidity is how long a run's CA lives: long enough for any run,
// short enough that a leaked certificate is soon worthless (the original's
// is valid for a day).
const DefaultValidity = 24 * time.Hour

// DefaultCacheSize bounds the leaf cache (least recently used goes first).
const DefaultCacheSize = 1024

// NewCA makes a fresh ECDSA P-256 CA valid from an hour ago (clock skew
// inside the sandbox is the host's, but a client may compare against a
// slightly different clock) for validity.
func NewCA(validity time.Duration) (*CA, error) {
	if validity <= 0 {
		validity = DefaultValidity
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	ski := sha256.Sum256(elliptic.MarshalCompressed(elliptic.P256(), key.X, key.Y))
	tmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{CommonName: "AWF Session CA", Organization: []string{"awf"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true, // it signs leaves only
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		SubjectKeyId:          ski[:20],
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{
		cert: cert, key: key, leafKey: leafKey,
		pem:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		cache: map[string]*list.Element{}, lru: list.New(), max: DefaultCacheSize,
	}, nil
}

// NewCAFrom uses an existing CA certificate and key (tests: a CA every
// test client already trusts, so whole suites run with inspection on).
func NewCAFrom(cert *x509.Certificate, key crypto.Signer) (*CA, error) {
	if !cert.IsCA {
		return nil, errors.New("inspect: not a CA certificate")
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &CA{cert: cert, key: key, leafKey: leafKey,
		pem:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		cache: map[string]*list.Element{}, lru: list.New(), max: DefaultCacheSize}, nil
}

func randSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n.Add(n, big.NewInt(1))
}

// PEM is the CA certificate (never the key).
func (c *CA) PEM() []byte { return c.pem }

// Certificate is the parsed CA certificate.
func (c *CA) Certificate() *x509.Certificate { return c.cert }

// SetCacheSize bounds the number of cached leaves (tests).
func (c *CA) SetCacheSize(n int) {
	c.mu.Lock()
	c.max = max(n, 1)
	c.mu.Unlock()
}

// Minted reports how many leaves were made so far.
func (c *CA) Minted() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.minted
}

// Leaf returns the certificate for name (a DNS name or an IP literal),
// from the cache or freshly signed.
func (c *CA) Leaf(name string) (*tls.Certificate, error) {
	if name == "" {
		return nil, errors.New("inspect: no server name")
	}
	c.mu.Lock()
	if el, ok := c.cache[name]; ok {
		c.lru.MoveToFront(el)
		cert := el.Value.(*leafEntry).cert
		c.mu.Unlock()
		return cert, nil
	}
	c.mu.Unlock()
	cert, err := c.mint(name)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.cache[name]; ok { // minted concurrently: keep the first
		return el.Value.(*leafEntry).cert, nil
	}
	c.minted++
	c.cache[name] = c.lru.PushFront(&leafEntry{name, cert})
	for c.lru.Len() > c.max {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.cache, old.Value.(*leafEntry).name)
	}
	return cert, nil
}

func (c *CA) mint(name string) (*tls.Certificate, error) {
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     c.cert.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{name}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &c.leafKey.PublicKey, c.key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der, c.cert.Raw}, PrivateKey: c.leafKey, Leaf: leaf}, nil
}
