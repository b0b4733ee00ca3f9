package runner

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/awf-dev/awf/internal/testnet"
)

// dlpRecorder is an upstream that keeps every request line and body it got.
type dlpRecorder struct {
	mu  sync.Mutex
	got strings.Builder
}

func (rc *dlpRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	fmt.Fprintf(&rc.got, "%s %s %s %v\n%s\n", r.Method, r.Host, r.RequestURI, r.Header, b)
	rc.mu.Unlock()
	fmt.Fprint(w, "up ok")
}

func (rc *dlpRecorder) String() string { rc.mu.Lock(); defer rc.mu.Unlock(); return rc.got.String() }

// TestDLPBlocksPlantedToken: --enable-dlp refuses a credential in a plain
// HTTP URL, body and host name, and with --ssl-bump in an HTTPS query,
// header and body; the upstream never receives any part of it, and no log,
// artifact or stderr line holds it.
func TestDLPBlocksPlantedToken(t *testing.T) {
	testnet.Require(t)
	tok := "ghp_" + strings.Repeat("Q7x", 12) // built here: no credential literal in the source
	rec := &dlpRecorder{}
	up := testnet.NewUpstream(t, rec)
	plain := testnet.NewPlainUpstream(t, rec)
	testCA := readableCA(t)
	type probe struct{ name, curl, want string }
	runs := []struct {
		name   string
		flags  []string
		probes []probe
	}{
		{"plain", nil, []probe{
			{"http query", "http://" + plain.Name + "/x?token=" + tok, "403"},
			{"http encoded", "http://" + plain.Name + "/x?token=" + strings.Replace(tok, "p", "%70", 1), "403"},
			{"http body", "-d key=" + tok + " http://" + plain.Name + "/post", "403"},
			{"http host", "http://" + strings.ToLower(tok) + "." + plain.Name + "/", "403"},
			{"http clean", "http://" + plain.Name + "/clean?q=1", "200"},
			{"https not inspected", "--cacert " + testCA + " https://" + up.Name + "/clean", "200"},
		}},
		{"ssl-bump", []string{"--ssl-bump"}, []probe{
			{"https query", "https://" + up.Name + "/x?token=" + tok, "403"},
			{"https header", "-H 'X-Note: " + tok + "' https://" + up.Name + "/h", "403"},
			{"https body", "--data-binary @big https://" + up.Name + "/post", "403"},
			{"https clean post", "-d hello=world https://" + up.Name + "/post2", "200"},
			{"https host", "https://" + strings.ToLower(tok) + "." + up.Name + "/", "000"},
		}},
	}
	for _, run := range runs {
		t.Run(run.name, func(t *testing.T) {
			var script strings.Builder
			// A body with the token after 100 kB: it must be stopped mid-stream.
			fmt.Fprintf(&script, "d=$(mktemp -d); trap 'rm -rf $d' EXIT; cd $d; head -c 100000 /dev/zero | tr '\\0' a > big; printf '&k=%s&rest=' >> big; head -c 5000 /dev/zero | tr '\\0' b >> big\n", tok)
			for i, p := range run.probes {
				fmt.Fprintf(&script, "echo \"case %d $(curl -s -m 10 -o b%d -w '%%{http_code}' %s)\"; cat b%d; echo\n", i, i, p.curl, i)
			}
			logs, audit := t.TempDir(), t.TempDir()
			args := append([]string{"-d", up.Name + "," + plain.Name, "--enable-dlp", "--proxy-logs-dir", logs, "--audit-dir", audit}, run.flags...)
			r := awf(t, nil, append(args, "--", script.String())...)
			if r.code != 0 {
				t.Fatalf("code %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			for i, p := range run.probes {
				m := regexp.MustCompile(fmt.Sprintf(`(?m)^case %d (\d+)\n(.*)$`, i)).FindStringSubmatch(r.stdout)
				if m == nil || m[1] != p.want {
					t.Errorf("%s: got %v, want %s\n%s", p.name, m, p.want, r.stdout)
					continue
				}
				if p.want == "403" && !strings.Contains(m[2], "DLP") {
					t.Errorf("%s: 403 body does not say DLP: %q", p.name, m[2])
				}
			}
			if strings.Contains(r.stdout, tok) || strings.Contains(strings.ToLower(r.stdout), strings.ToLower(tok)) {
				t.Errorf("a refusal echoed the token to the agent:\n%s", r.stdout)
			}
			assertNoSecret(t, tok, r.stderr, logs, audit)
			access, _ := os.ReadFile(filepath.Join(logs, "access.log"))
			if !strings.Contains(string(access), "TCP_DENIED") {
				t.Errorf("no denial in access.log:\n%s", access)
			}
			manifest, _ := os.ReadFile(filepath.Join(audit, "policy-manifest.json"))
			if !strings.Contains(string(manifest), `"deny-dlp"`) || !strings.Contains(string(manifest), `"dlpEnabled": true`) {
				t.Errorf("manifest lacks DLP:\n%s", manifest)
			}
		})
	}
	got := rec.String()
	for _, part := range []string{tok[:12], tok[len(tok)-12:], strings.ToLower(tok[:12])} {
		if strings.Contains(got, part) || strings.Contains(got, strings.Replace(part, "p", "%70", 1)) {
			t.Errorf("the upstream received part of the token (%q):\n%.2000s", part, got)
		}
	}
	if !strings.Contains(got, "/clean?q=1") || !strings.Contains(got, "hello=world") {
		t.Errorf("clean requests did not arrive:\n%.2000s", got)
	}
}

// assertNoSecret greps stderr and every file under dirs for secret in any case.
func assertNoSecret(t *testing.T, secret, stderr string, dirs ...string) {
	t.Helper()
	low := strings.ToLower(secret)
	if strings.Contains(strings.ToLower(stderr), low) {
		t.Errorf("stderr holds the secret:\n%s", stderr)
	}
	for _, d := range dirs {
		filepath.Walk(d, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return nil
			}
			b, _ := os.ReadFile(p)
			if strings.Contains(strings.ToLower(string(b)), low) {
				t.Errorf("%s holds the secret", p)
			}
			return nil
		})
	}
}
