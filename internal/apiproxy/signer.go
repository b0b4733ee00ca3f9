package apiproxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/awf-dev/awf/internal/cloudauth"
)

// buildDynamic turns the OIDC spec into run-time credentials that reach
// their token endpoints through the same transport (the egress proxy) as
// the providers, and starts the first exchange.
func (s *Server) buildDynamic() error {
	a := &s.cfg.Auth
	if a.Dynamic == nil {
		a.Dynamic = map[string]DynamicCredential{}
	}
	if a.OIDC == nil {
		return nil
	}
	cred, err := a.OIDC.Build(cloudauth.Options{Client: &http.Client{Transport: s.transport}})
	if err != nil {
		return err
	}
	dc, ok := cred.(DynamicCredential)
	if !ok {
		return fmt.Errorf("credential %T is not usable", cred)
	}
	for name := range a.OIDCRequested {
		a.Dynamic[name] = dc
	}
	s.log.Info("oidc_configured", "auth_type", dc.AuthType(), "providers", len(a.OIDCRequested), "token_hosts", fmt.Sprint(dc.Hosts()))
	cred.Prime()
	return nil
}

// transportFor is the provider's upstream transport: the shared one, or
// one that signs each request when the provider's credential is a signer.
func (s *Server) transportFor(p *Provider) http.RoundTripper {
	if sg, ok := s.cfg.Auth.Dynamic[p.Name].(RequestSigner); ok {
		return &signingTransport{base: s.transport, signer: sg}
	}
	if c := s.cfg.Auth.Copilot; p.Name == "copilot" && c.BYOKKey != "" && len(c.ExtraBody) > 0 {
		return &bodyFieldsTransport{base: s.transport, fields: c.ExtraBody}
	}
	return s.transport
}

// bodyFieldsTransport adds the configured BYOK body fields (and session_id)
// to JSON-object request bodies that lack them, as the original does for
// BYOK requests; other bodies pass unchanged.
type bodyFieldsTransport struct {
	base   http.RoundTripper
	fields map[string]string
}

func (t *bodyFieldsTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody || !strings.Contains(r.Header.Get("Content-Type"), "json") {
		return t.base.RoundTrip(r)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	if len(b) > MaxBodyBytes {
		return nil, errBodyTooLarge
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(b, &obj) == nil && obj != nil {
		changed := false
		for k, v := range t.fields {
			if _, ok := obj[k]; !ok {
				obj[k], _ = json.Marshal(v)
				changed = true
			}
		}
		if changed {
			if nb, err := json.Marshal(obj); err == nil {
				b = nb
			}
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	r.Header.Del("Transfer-Encoding")
	r.TransferEncoding = nil
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return t.base.RoundTrip(r)
}

// signingTransport buffers the body (SigV4 signs its hash; bodies are
// already limited to MaxBodyBytes) and signs the request.
type signingTransport struct {
	base   http.RoundTripper
	signer RequestSigner
}

var errSign = errors.New("request signing failed")

func (t *signingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		if len(b) > MaxBodyBytes {
			return nil, errBodyTooLarge
		}
		body = b
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	if err := t.signer.Sign(r.Context(), r, body); err != nil {
		return nil, fmt.Errorf("%w: %v", errSign, err)
	}
	return t.base.RoundTrip(r)
}
