package cliproxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"
)

// PlaceholderToken is the only token gh holds. The DIFC relay swaps it
// for the real one on requests to the DIFC proxy; anywhere else gh is
// pointed at (`gh api https://<allowed host>/`, `--hostname`, a
// redirect) receives this worthless string. gh sends a token for any
// host but github.com, so a gh that held the real one could be steered
// into handing it to an allowlisted host.
const PlaceholderToken = "awf-placeholder-gh-token-injected-by-difc-relay"

// RelayConfig is the DIFC relay: a TLS listener for gh inside the sandbox
// (its certificate from a per-run CA that only gh trusts) that forwards
// each request to the DIFC proxy over TLS, verified against the DIFC CA,
// with the placeholder replaced by the token.
type RelayConfig struct {
	// Target is the DIFC proxy's host:port, dialled from the host.
	Target string
	// ServerName is the name its certificate is checked for ("localhost":
	// the name gh used when it dialled the proxy itself).
	ServerName string
	// Roots verify the DIFC proxy (its --difc-proxy-ca-cert); nil: the
	// host's roots.
	Roots *x509.CertPool
	Token string
	// OnError reports an upstream failure (never with the token).
	OnError func(error)
}

// RelayHandler forwards gh's requests to the DIFC proxy, streaming both
// ways, and puts the token where gh put the placeholder.
func RelayHandler(rc RelayConfig) http.Handler {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: 30 * time.Second}).DialContext(ctx, network, rc.Target)
		},
		TLSClientConfig:     &tls.Config{RootCAs: rc.Roots, ServerName: rc.ServerName, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "https"
			pr.Out.URL.Host = pr.In.Host // gh's Host (localhost:<port>), as the DIFC proxy saw it before
			pr.Out.Host = pr.In.Host
			if vs := pr.Out.Header.Values("Authorization"); len(vs) > 0 {
				pr.Out.Header.Del("Authorization")
				for _, v := range vs {
					pr.Out.Header.Add("Authorization", SwapToken(v, rc.Token))
				}
			}
		},
		Transport:     tr,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if rc.OnError != nil {
				rc.OnError(err)
			}
			http.Error(w, `{"message":"awf DIFC relay: the DIFC proxy cannot be reached"}`, http.StatusBadGateway)
		},
	}
}

// SwapToken replaces the placeholder in one Authorization value: in clear
// (`token P`, `Bearer P`) and inside Basic credentials (git's
// `x-access-token:P`, from gh's credential helper). Values without the
// placeholder pass unchanged.
func SwapToken(v, token string) string {
	if strings.Contains(v, PlaceholderToken) {
		return strings.ReplaceAll(v, PlaceholderToken, token)
	}
	scheme, cred, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "basic") {
		return v
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil || !strings.Contains(string(raw), PlaceholderToken) {
		return v
	}
	return scheme + " " + base64.StdEncoding.EncodeToString([]byte(strings.ReplaceAll(string(raw), PlaceholderToken, token)))
}
