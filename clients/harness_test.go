package clients

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/agentenv"
	"github.com/awf-dev/awf/internal/fakeprovider"
	"github.com/awf-dev/awf/internal/testnet"
)

// binDir caches the awf binary across runs, like the sandbox e2e tests: the
// process exits inside testnet.Main, so a temporary dir would leak.
var binDir = filepath.Join(os.TempDir(), "awf-clients-bin")

func TestMain(m *testing.M) {
	if os.Geteuid() == 0 && !testnet.Inside() {
		if _, err := testnet.BuildBinary(binDir, "awf", "github.com/awf-dev/awf/cmd/awf"); err != nil {
			fmt.Fprintln(os.Stderr, "build awf:", err)
			os.Exit(2)
		}
	}
	testnet.Main(m)
}

// clientsDir is this package's folder: package.json, the scripts and
// node_modules. It is bound read-only into each sandbox at the same path.
func clientsDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// requireClients skips unless the network and the npm install are there.
func requireClients(t *testing.T) {
	t.Helper()
	testnet.Require(t)
	if _, err := os.Stat(filepath.Join(clientsDir(t), "node_modules", ".bin", "node")); err != nil {
		msg := "clients/node_modules is missing: run `cd clients && npm ci` first (see clients/README.md)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg) // CI installs them: a skip there would hide the whole suite
		}
		t.Skip(msg)
	}
}

// provider describes how awf and the fake meet for one provider.
type provider struct {
	name    string // as in token-usage.jsonl
	host    string // upstream host name (testnet.Providers)
	keyEnv  string // host variable holding the real key
	keyPfx  string // makes generated keys look real
	newFake func(fakeprovider.Reply) *fakeprovider.Fake
	// credential extracts the key the upstream received.
	credential func(h http.Header) string
	// injected are headers the api-proxy adds besides the credential.
	injected []string
}

var (
	openAI = provider{name: "openai", host: "api.openai.com", keyEnv: "OPENAI_API_KEY", keyPfx: "sk-proj-",
		newFake: fakeprovider.NewOpenAI, credential: bearerOf, injected: []string{"X-Request-Id"}}
	anthropic = provider{name: "anthropic", host: "api.anthropic.com", keyEnv: "ANTHROPIC_API_KEY", keyPfx: "sk-ant-api03-",
		newFake:    fakeprovider.NewAnthropic,
		credential: func(h http.Header) string { return h.Get("X-Api-Key") }, injected: []string{"X-Request-Id", "Anthropic-Version"}}
	gemini = provider{name: "gemini", host: "generativelanguage.googleapis.com", keyEnv: "GEMINI_API_KEY", keyPfx: "AIzaSy",
		newFake:    fakeprovider.NewGemini,
		credential: func(h http.Header) string { return h.Get("X-Goog-Api-Key") }, injected: []string{"X-Request-Id"}}
	copilot = provider{name: "copilot", host: "api.githubcopilot.com", keyEnv: "COPILOT_API_KEY", keyPfx: "sk-byok-",
		newFake: fakeprovider.NewCopilot, credential: bearerOf, injected: []string{"X-Request-Id"}}
)

func bearerOf(h http.Header) string { return strings.TrimPrefix(h.Get("Authorization"), "Bearer ") }

// clientCase is one client run: a shell command run in the sandbox from
// the clients folder.
type clientCase struct {
	name   string
	prov   provider
	cmd    string
	stream bool
	// env are -e settings for the command (not credentials).
	env []string
	// noWebSocket makes the fake refuse WebSocket upgrades; wantWS asserts
	// the turn ran over the Responses API WebSocket mode.
	noWebSocket, wantWS bool
	// wantGen is the path suffix of the generation request the fake must see.
	wantGen string
}

// placeholders the command may legitimately hold: awf's contract table.
var placeholders = agentenv.Placeholders()

// credentialEnvs are printed from inside the sandbox, so the test sees
// every credential the command could have used.
var credentialEnvs = []string{
	"OPENAI_API_KEY", "CODEX_API_KEY", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "GEMINI_API_KEY",
	"GOOGLE_API_KEY", "COPILOT_API_KEY", "COPILOT_PROVIDER_API_KEY", "COPILOT_TOKEN", "COPILOT_GITHUB_TOKEN",
}

func secret(prefix string) string {
	b := make([]byte, 20)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// run is what one client run left behind.
type run struct {
	code           int
	stdout, stderr string
	fake           *fakeprovider.Fake
	decoy          *decoy
	decoyHost      string
	key            string
	logs           string
	usage          []map[string]any
	access         string   // the egress proxy's access.log
	homeFiles      int      // files the client left in its home
	keyInHome      []string // those holding the real key
	script         string
}

// decoy is an upstream that is not on the allowlist: it must see nothing.
type decoy struct {
	mu sync.Mutex
	n  int
}

func (d *decoy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	d.n++
	d.mu.Unlock()
	w.Write([]byte("decoy reached"))
}

func (d *decoy) hits() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// runClient starts the fake upstream and a decoy, then runs the client in
// awf with a fresh real-looking key on the host side only.
func runClient(t *testing.T, c clientCase) *run {
	t.Helper()
	privateHome(t)
	dir := clientsDir(t)
	reply := fakeprovider.Reply{
		Text:         fmt.Sprintf("Hello from the fake %s upstream, token %s.", c.prov.name, secret("")[:8]),
		InputTokens:  10 + mrand.IntN(900),
		OutputTokens: 5 + mrand.IntN(90),
	}
	reply.CachedTokens = reply.InputTokens / 3
	r := &run{fake: c.prov.newFake(reply), decoy: &decoy{}, key: secret(c.prov.keyPfx), logs: t.TempDir()}
	r.fake.NoWebSocket = c.noWebSocket
	testnet.NewUpstreamFor(t, c.prov.host, r.fake)
	dUp := testnet.NewUpstream(t, r.decoy)
	r.decoyHost = dUp.Name

	var sh strings.Builder
	fmt.Fprintf(&sh, "cd %s || exit 97\n", dir)
	fmt.Fprintf(&sh, "export PATH=%s/node_modules/.bin:$PATH\n", dir)
	for _, n := range credentialEnvs {
		fmt.Fprintf(&sh, "echo \"AWF_ENV %s=${%s-<unset>}\"\n", n, n)
	}
	fmt.Fprintf(&sh, "%s\necho \"AWF_CLIENT_EXIT=$?\"\n", c.cmd)
	// What the client stored in its home lives only in the run (tool dirs
	// are overlays), so the key scan happens inside: the key comes in
	// reversed, so nothing the client could read holds it.
	sh.WriteString(`k=; r="$AWF_TEST_KEY_REV"; for ((i=${#r}-1;i>=0;i--)); do k+="${r:i:1}"; done` + "\n")
	sh.WriteString(`echo "AWF_HOME_FILES=$(find ~ -type f 2>/dev/null | wc -l)"` + "\n")
	sh.WriteString(`grep -rlF -e "$k" ~ 2>/dev/null | sed 's/^/AWF_KEY_IN_HOME /'; unset k r` + "\n")
	// The same run then tries a host that is not allowed, through the
	// proxy as curl uses it and directly (the transparent path).
	fmt.Fprintf(&sh, "curl -sS -m 10 -o /dev/null -w 'AWF_DENIED proxied connect=%%{http_connect} http=%%{http_code}\\n' https://%s/ 2>&1\n", dUp.Name)
	fmt.Fprintf(&sh, "curl -sS -m 10 --noproxy '*' -o /dev/null -w 'AWF_DENIED direct http=%%{http_code}\\n' https://%s/ 2>&1\n", dUp.Name)
	fmt.Fprintf(&sh, "true\n")
	r.script = sh.String()

	args := []string{"--enable-api-proxy", "--allow-domains", c.prov.host, "--proxy-logs-dir", r.logs,
		"-v", dir + ":" + dir + ":ro", "-e", "AWF_TEST_KEY_REV=" + reverse(r.key)}
	for _, e := range c.env {
		args = append(args, "-e", e)
	}
	args = append(args, "--", r.script)
	cmd := exec.Command(filepath.Join(binDir, "awf"), args...)
	cmd.Dir = workspace(t)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "TMPDIR=" + t.TempDir(), "HOME=/root", "AWF_TESTNET=1",
		"SSL_CERT_FILE=" + os.Getenv("SSL_CERT_FILE"), c.prov.keyEnv + "=" + r.key,
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(150 * time.Second):
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		t.Errorf("awf did not finish in time")
	}
	r.code, r.stdout, r.stderr = cmd.ProcessState.ExitCode(), out.String(), errb.String()
	r.usage = readUsage(filepath.Join(r.logs, "api-proxy-logs", "token-usage.jsonl"))
	for _, l := range strings.Split(r.stdout, "\n") {
		if v, ok := strings.CutPrefix(l, "AWF_HOME_FILES="); ok {
			r.homeFiles, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		if v, ok := strings.CutPrefix(l, "AWF_KEY_IN_HOME "); ok {
			r.keyInHome = append(r.keyInHome, v)
		}
	}
	access, _ := os.ReadFile(filepath.Join(r.logs, "access.log"))
	r.access = string(access)
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("AWF_CLIENTS_KEEP") != "" {
			t.Logf("transcript kept at %s", r.keepTranscript(t, dir))
		}
	})
	return r
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

// workspace is the command's working dir; the sandbox user (uid 1000)
// must be able to write there.
func workspace(t *testing.T) string {
	d := t.TempDir()
	os.Chmod(d, 0o777)
	os.Chmod(filepath.Dir(d), 0o755)
	return d
}

func readUsage(path string) []map[string]any {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// keepTranscript writes everything about the run to transcripts/, with the
// real key redacted so the artefact can be shared.
func (r *run) keepTranscript(t *testing.T, dir string) string {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	p := filepath.Join(dir, "transcripts", name+".txt")
	os.MkdirAll(filepath.Dir(p), 0o755)
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\nexit code: %d\n\n## script\n%s\n## stdout\n%s\n## stderr\n%s\n## upstream requests\n%s\n## token usage\n",
		t.Name(), r.code, r.script, r.stdout, r.stderr, r.fake.Summary())
	for _, u := range r.usage {
		j, _ := json.Marshal(u)
		b.Write(j)
		b.WriteByte('\n')
	}
	// The egress log shows what else the client tried to reach.
	filepath.WalkDir(r.logs, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".log") {
			data, _ := os.ReadFile(p)
			fmt.Fprintf(&b, "\n## %s\n%s", strings.TrimPrefix(p, r.logs+"/"), lastLines(string(data), 60))
		}
		return nil
	})
	for _, req := range r.fake.Requests() {
		fmt.Fprintf(&b, "\n## %s\n", req)
		for k, v := range req.Header {
			fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(v, ", "))
		}
		body := req.Body
		if len(body) > 4000 {
			body = append(body[:4000:4000], "..."...)
		}
		fmt.Fprintf(&b, "\n%s\n", body)
		for i, f := range req.Frames {
			if len(f) > 2000 {
				f = f[:2000] + "..."
			}
			fmt.Fprintf(&b, "frame %d: %s\n", i, f)
		}
	}
	os.WriteFile(p, []byte(strings.ReplaceAll(b.String(), r.key, "<REAL-KEY>")), 0o644)
	return p
}
