package egress

import (
	"errors"
	"net/http"
	"strings"

	"github.com/awf-dev/awf/internal/inspect"
)

// Hooks that work without TLS inspection (DLP): they judge every admitted
// host name (DNS, CONNECT, SNI, Host) and every plain http:// request.
// Inspect.Hooks holds them; no CA is needed for these two uses.

// scanHost asks the hooks that judge names; the first refusal wins.
func (s *Server) scanHost(host string) *inspect.Block {
	for _, h := range s.cfg.Inspect.Hooks {
		if hs, ok := h.(inspect.HostScanner); ok {
			if b := hs.ScanHost(host); b != nil {
				return b
			}
		}
	}
	return nil
}

// scanPlain runs the plain-HTTP hooks on out (the request about to go
// upstream); they may wrap its body.
func (s *Server) scanPlain(out *http.Request, host string) *inspect.Block {
	for _, h := range s.cfg.Inspect.Hooks {
		if p, ok := h.(inspect.PlainHTTP); ok && p.PlainHTTP() {
			if b := h.Request(out, host); b != nil {
				return b
			}
		}
	}
	return nil
}

// blockOf is the hook refusal behind a body read error, if any.
func blockOf(err error) *inspect.Block {
	var b *inspect.Block
	if errors.As(err, &b) {
		return b
	}
	return nil
}

// redacted stands for a name or URL that carried a credential.
const redacted = "[redacted-by-dlp]"

// denyBlock answers a hook's refusal of a plain HTTP request with 403;
// the log shows the hook's masked URL, never what it found.
func (s *Server) denyBlock(c *clientConn, e *Entry, host string, b *inspect.Block) {
	if b.LogURL != "" {
		e.URL = b.LogURL
	}
	s.deny(c, e, host, b.Rule, b.Reason)
}

// scrub masks, as a last line of defence, a host or URL in which a
// name-judging hook (DLP) finds a credential, before e is logged: the
// refused CONNECT, SNI or Host line would otherwise carry it.
func (s *Server) scrub(e *Entry) {
	for _, h := range s.cfg.Sensitive {
		e.URL, e.HostHeader = maskHost(e.URL, h), maskHost(e.HostHeader, h)
	}
	if len(s.cfg.Inspect.Hooks) == 0 {
		return
	}
	if e.URL != "" && e.URL != redacted && s.scanHost(e.URL) != nil {
		e.URL = redacted
	}
	if e.HostHeader != "" && s.scanHost(e.HostHeader) != nil {
		e.HostHeader = redacted
	}
}

// maskHost replaces host (case-insensitively) in s with [REDACTED].
func maskHost(s, host string) string {
	if host == "" || s == "" {
		return s
	}
	low := strings.ToLower(s)
	for i := strings.Index(low, host); i >= 0; i = strings.Index(low, host) {
		s = s[:i] + "[REDACTED]" + s[i+len(host):]
		low = low[:i] + "[redacted]" + low[i+len(host):]
	}
	return s
}
