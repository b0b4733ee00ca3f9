package dlp

import (
	"io"
	"net/http"
	"sort"

	"github.com/awf-dev/awf/internal/inspect"
)

// Rule is the policy-manifest rule id of a DLP refusal (the original's).
const Rule = "deny-dlp"

// Hook is DLP as an inspection hook. Without TLS inspection it sees plain
// HTTP requests and host names only (what the original's Squid ACL saw);
// with it (inspectHTTPS) every admitted HTTPS host is terminated so URLs,
// headers and bodies are scanned.
type Hook struct{ inspectHTTPS bool }

// New returns the DLP hook; inspectHTTPS is --ssl-bump.
func New(inspectHTTPS bool) *Hook { return &Hook{inspectHTTPS: inspectHTTPS} }

func (h *Hook) Name() string { return "dlp" }

// Inspects every host when HTTPS is inspected at all: a credential can go
// to any admitted host.
func (h *Hook) Inspects(string) bool { return h.inspectHTTPS }

// InspectedHosts is nil without --ssl-bump, so DLP alone mints no CA.
func (h *Hook) InspectedHosts() []string {
	if h.inspectHTTPS {
		return []string{"*"}
	}
	return nil
}

// PlainHTTP: DLP also judges plain http:// requests.
func (h *Hook) PlainHTTP() bool { return true }

// ScanHost refuses a host name that carries a credential (a subdomain of
// an admitted name leaks through DNS, SNI and CONNECT before any request).
func (h *Hook) ScanHost(host string) *inspect.Block {
	if det, ok := ScanURL(host); ok {
		return block(det, "host name", "")
	}
	return nil
}

// Request scans the URL and headers, and wraps the body in a streaming
// scan that never passes on a byte of a credential.
func (h *Hook) Request(req *http.Request, host string) *inspect.Block {
	scheme := req.URL.Scheme
	if scheme == "" {
		scheme = "http"
	}
	masked := scheme + "://" + host + "/[redacted-by-dlp]"
	if det, ok := ScanURL(host + req.URL.RequestURI()); ok {
		return block(det, "URL", masked)
	}
	names := make([]string, 0, len(req.Header))
	for k := range req.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range req.Header[k] {
			if det, ok := scanDecoded(k + ": " + v); ok {
				return block(det, "header "+k, "")
			}
		}
	}
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = &bodyScan{r: req.Body}
	}
	return nil
}

func scanDecoded(s string) (Detector, bool) {
	if det, ok := scanText(s); ok {
		return det, true
	}
	if dec := percentDecode(s); dec != s {
		return scanText(dec)
	}
	return Detector{}, false
}

func block(det Detector, where, logURL string) *inspect.Block {
	return &inspect.Block{Status: http.StatusForbidden, Rule: Rule, LogURL: logURL,
		Reason: "credential detected by DLP (" + det.Name + ") in the " + where}
}

// bodyScan passes the body on with a lag of maxMatch bytes: every byte is
// released only after the bytes that could complete a match with it were
// scanned, so a refused body never gets any part of the credential
// upstream. Memory: one 32 KiB chunk plus the lag.
type bodyScan struct {
	r    io.ReadCloser
	pend []byte // scanned; pend[:ready] may be released
	off  int    // released so far from pend
	eof  bool
	err  error
}

func (b *bodyScan) Read(p []byte) (int, error) {
	for {
		if b.err != nil { // first: after a hit nothing more is released
			return 0, b.err
		}
		if ready := b.ready(); b.off < ready {
			n := copy(p, b.pend[b.off:ready])
			b.off += n
			return n, nil
		}
		if b.eof {
			return 0, io.EOF
		}
		b.fill()
	}
}

// ready is how much of pend has been cleared for release.
func (b *bodyScan) ready() int {
	if b.eof {
		return len(b.pend)
	}
	return max(0, len(b.pend)-maxMatch)
}

func (b *bodyScan) fill() {
	// Keep only the unreleased tail, which the next scan covers again.
	b.pend = append(b.pend[:0], b.pend[b.off:]...)
	b.off = 0
	if cap(b.pend)-len(b.pend) < 32<<10 {
		b.pend = append(make([]byte, 0, len(b.pend)+32<<10), b.pend...)
	}
	n, err := b.r.Read(b.pend[len(b.pend) : len(b.pend)+32<<10])
	b.pend = b.pend[:len(b.pend)+n]
	if det, ok := scanDecoded(string(b.pend)); ok {
		b.err = block(det, "request body", "")
		return
	}
	switch {
	case err == io.EOF:
		b.eof = true
	case err != nil:
		b.err = err
	}
}

func (b *bodyScan) Close() error { return b.r.Close() }
