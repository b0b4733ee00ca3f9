package dlp

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/awf-dev/awf/internal/inspect"
)

// Samples are built at run time so no credential-shaped literal sits in
// the source (push protection, and grep for the real thing stays clean).
var samples = map[string]string{
	"github_pat_classic":      "ghp_" + strings.Repeat("A1b2", 9),
	"github_oauth":            "gho_" + strings.Repeat("Z", 36),
	"github_app_installation": "ghs_" + strings.Repeat("A", 170) + "." + strings.Repeat("b", 170),
	"github_app_user":         "ghu_" + strings.Repeat("x9", 18),
	"github_pat_fine_grained": "github_pat_" + strings.Repeat("a", 22) + "_" + strings.Repeat("B", 59),
	"openai_key":              "sk-" + strings.Repeat("a", 20) + "T3BlbkFJ" + strings.Repeat("b", 20),
	"openai_project_key":      "sk-proj-" + strings.Repeat("p_-", 14),
	"anthropic_key":           "sk-ant-" + strings.Repeat("api03-", 8),
	"aws_access_key_id":       "AKIA" + "IOSFODNN7EXAMPLE",
	"google_api_key":          "AIza" + strings.Repeat("S", 35),
	"slack_bot_token":         "xoxb-" + "1234567890-1234567890-" + strings.Repeat("a", 24),
	"slack_user_token":        "xoxp-" + "1234567890-1234567890-1234567890-" + strings.Repeat("f", 32),
	"bearer_in_url":           "?bearer=" + strings.Repeat("t", 24),
	"authorization_in_url":    "&authorization=" + strings.Repeat("t", 24),
	"private_key_marker":      "BEGIN%20RSA%20PRIVATE%20KEY",
}

func TestEveryDetectorFires(t *testing.T) {
	if len(samples) != len(Detectors) {
		t.Fatalf("%d samples for %d detectors", len(samples), len(Detectors))
	}
	for _, det := range Detectors {
		s, ok := samples[det.ID]
		if !ok {
			t.Errorf("no sample for %s", det.ID)
			continue
		}
		got, ok := ScanURL("https://example.test/x?q=" + s)
		if !ok || got.ID != det.ID {
			t.Errorf("%s: got %q %v", det.ID, got.ID, ok)
		}
	}
}

func TestNearMissesPass(t *testing.T) {
	for _, u := range []string{
		"https://api.github.com/repos/o/r/pulls?state=open&per_page=100",
		"/ghp_tooshort",
		"/" + "AKIA" + "short",
		"/sk-ant-" + "abc",
		"/search?q=private-keys",                // "private+key" is flagged, as by the original (Squid -i)
		"/ghp_" + strings.Repeat("a", 35) + "-", // 35 chars
	} {
		if det, ok := ScanURL(u); ok {
			t.Errorf("%q flagged as %s", u, det.ID)
		}
	}
}

func TestEncodedURLsAreDecoded(t *testing.T) {
	tok := samples["github_pat_classic"]
	enc := strings.ReplaceAll(tok, "p", "%70")      // gh%70_...
	double := strings.ReplaceAll(tok, "_", "%255F") // %25 5F -> %5F -> _
	for _, u := range []string{"/x?t=" + enc, "/x?t=" + double, "/" + strings.ToUpper(tok[:4]) + tok[4:]} {
		if _, ok := ScanURL(u); !ok {
			t.Errorf("%q not caught", u)
		}
	}
}

func TestRequestURLHeaderBody(t *testing.T) {
	tok := samples["aws_access_key_id"]
	h := New(true)
	req := httptest.NewRequest("GET", "https://up.test/a?k="+tok, nil)
	b := h.Request(req, "up.test")
	if b == nil || b.Rule != Rule || strings.Contains(b.Reason+b.LogURL+b.Error(), tok) {
		t.Fatalf("URL: %+v", b)
	}
	if b.LogURL != "https://up.test/[redacted-by-dlp]" {
		t.Errorf("LogURL %q", b.LogURL)
	}
	req = httptest.NewRequest("GET", "https://up.test/", nil)
	req.Header.Set("X-Leak", "v="+tok)
	if b := h.Request(req, "up.test"); b == nil || !strings.Contains(b.Reason, "header X-Leak") {
		t.Fatalf("header: %+v", b)
	}
	if b := h.ScanHost(strings.ToLower(tok) + ".allowed.test"); b == nil {
		t.Errorf("host name not scanned")
	}
	if h.ScanHost("api.github.com") != nil {
		t.Errorf("plain host refused")
	}
}

// The body is released with a lag, so no byte of a credential that
// straddles any chunk boundary reaches the upstream.
func TestBodyNeverLeaksAnyPartOfTheSecret(t *testing.T) {
	tok := samples["github_pat_fine_grained"]
	for _, at := range []int{0, 1, 100, 32<<10 - 50, 32<<10 - 1, 32 << 10, 100_000} {
		body := strings.Repeat("x", at) + tok + strings.Repeat("y", 1000)
		req := httptest.NewRequest("POST", "https://up.test/", &oneByteChunks{r: strings.NewReader(body), n: 7000})
		if b := New(true).Request(req, "up.test"); b != nil {
			t.Fatal(b)
		}
		got, err := io.ReadAll(req.Body)
		var blk *inspect.Block
		if !errors.As(err, &blk) || blk.Rule != Rule {
			t.Fatalf("at %d: err %v", at, err)
		}
		if bytes.Contains(got, []byte(tok[:12])) || len(got) > at {
			t.Errorf("at %d: %d bytes released, secret prefix passed: %v", at, len(got), bytes.Contains(got, []byte(tok[:12])))
		}
	}
	// A clean body passes whole and unchanged.
	clean := strings.Repeat("abc123 ", 50_000)
	req := httptest.NewRequest("POST", "https://up.test/", strings.NewReader(clean))
	New(true).Request(req, "up.test")
	got, err := io.ReadAll(req.Body)
	if err != nil || string(got) != clean {
		t.Errorf("clean body: %v, %d/%d bytes", err, len(got), len(clean))
	}
}

func TestPEMInBody(t *testing.T) {
	req := httptest.NewRequest("POST", "https://up.test/", strings.NewReader("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn"))
	New(true).Request(req, "up.test")
	if _, err := io.ReadAll(req.Body); err == nil {
		t.Error("PEM private key in body passed")
	}
}

func TestInspectsOnlyWithSSLBump(t *testing.T) {
	if New(false).Inspects("a.test") || New(false).InspectedHosts() != nil {
		t.Error("DLP without --ssl-bump inspects")
	}
	if !New(true).Inspects("a.test") {
		t.Error("DLP with --ssl-bump does not inspect")
	}
	var _ inspect.Hook = New(true)
	var _ http.Handler = nil
}

// oneByteChunks returns reads of at most n bytes.
type oneByteChunks struct {
	r io.Reader
	n int
}

func (o *oneByteChunks) Read(p []byte) (int, error) {
	if len(p) > o.n {
		p = p[:o.n]
	}
	return o.r.Read(p)
}
