package cliproxy

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/inspect"
)

func TestSwapToken(t *testing.T) {
	const tok = "ghs_realtoken"
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct{ in, want string }{
		{"token " + PlaceholderToken, "token " + tok},
		{"Bearer " + PlaceholderToken, "Bearer " + tok},
		{"Basic " + b64("x-access-token:"+PlaceholderToken), "Basic " + b64("x-access-token:"+tok)},
		{"basic " + b64(PlaceholderToken+":x-oauth-basic"), "basic " + b64(tok+":x-oauth-basic")},
		{"token something-else", "token something-else"},           // not ours: unchanged
		{"Basic " + b64("user:pass"), "Basic " + b64("user:pass")}, // no placeholder inside
		{"Basic !!!not-base64", "Basic !!!not-base64"},
		{"", ""},
	} {
		if got := SwapToken(tc.in, tok); got != tc.want {
			t.Errorf("SwapToken(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestRelay: a real TLS DIFC proxy on loopback with its own CA; the relay
// verifies it for "localhost", swaps the token in, keeps gh's Host and
// streams the response (each line arrives before the next is written).
func TestRelay(t *testing.T) {
	const tok = "ghs_relaytoken"
	next := make(chan struct{})
	difc := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "auth=%s host=%s path=%s\n", r.Header.Get("Authorization"), r.Host, r.URL.Path)
		w.(http.Flusher).Flush()
		<-next
		io.WriteString(w, "second\n")
	}))
	difc.StartTLS() // httptest's certificate names example.com, 127.0.0.1 and ::1
	defer difc.Close()
	roots := x509.NewCertPool()
	roots.AddCert(difc.Certificate())
	var errs []error
	relay := httptest.NewServer(RelayHandler(RelayConfig{
		Target: difc.Listener.Addr().String(), ServerName: "example.com", Roots: roots, Token: tok,
		OnError: func(err error) { errs = append(errs, err) },
	}))
	defer relay.Close()

	req, _ := http.NewRequest("GET", relay.URL+"/api/v3/user", nil)
	req.Host = "localhost:18443"
	req.Header.Set("Authorization", "token "+PlaceholderToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if want := "auth=token " + tok + " host=localhost:18443 path=/api/v3/user\n"; first != want {
		t.Errorf("DIFC saw %q, want %q", first, want)
	}
	close(next) // the second line is written only now: the first was streamed
	if rest, _ := io.ReadAll(br); string(rest) != "second\n" {
		t.Errorf("rest %q", rest)
	}

	// A DIFC proxy that the CA does not vouch for is refused: 502, the
	// cause reported, never the token.
	other, err := inspect.NewCA(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := other.Leaf("localhost")
	if err != nil {
		t.Fatal(err)
	}
	bad := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the untrusted DIFC proxy got a request (auth %q)", r.Header.Get("Authorization"))
	}))
	bad.TLS = &tls.Config{Certificates: []tls.Certificate{*leaf}}
	bad.StartTLS()
	defer bad.Close()
	relay2 := httptest.NewServer(RelayHandler(RelayConfig{
		Target: bad.Listener.Addr().String(), ServerName: "localhost", Roots: roots, Token: tok,
		OnError: func(err error) { errs = append(errs, err) },
	}))
	defer relay2.Close()
	req, _ = http.NewRequest("GET", relay2.URL+"/x", nil)
	req.Header.Set("Authorization", "token "+PlaceholderToken)
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusBadGateway || strings.Contains(string(body), tok) {
		t.Errorf("untrusted DIFC proxy: %d %s", resp2.StatusCode, body)
	}
	if len(errs) == 0 || !strings.Contains(fmt.Sprint(errs), "certificate") {
		t.Errorf("errors reported: %v", errs)
	}
}
