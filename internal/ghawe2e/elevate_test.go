package ghawe2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/testnet"
)

// testUser creates a throwaway user with a home (removed after the test).
func testUser(t *testing.T) (name, uid, gid, home string) {
	t.Helper()
	name = fmt.Sprintf("awfel%d", os.Getpid()%1000000)
	base := t.TempDir()
	os.Chmod(base, 0o755)
	home = filepath.Join(base, name)
	if out, err := exec.Command("useradd", "-m", "-d", home, "-s", "/bin/sh", "-U", name).CombinedOutput(); err != nil {
		t.Skipf("useradd: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", "-r", name).Run() })
	id := func(flag string) string {
		b, err := exec.Command("id", flag, name).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	return name, id("-u"), id("-g"), home
}

// sudoers installs a sudoers.d rule (removed after the test).
func sudoers(t *testing.T, name, rule string) string {
	t.Helper()
	p := "/etc/sudoers.d/awf-e2e-" + name
	if err := os.WriteFile(p, []byte(rule+"\n"), 0o440); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(p) })
	if out, err := exec.Command("visudo", "-cf", p).CombinedOutput(); err != nil {
		t.Fatalf("visudo: %v %s", err, out)
	}
	return p
}

// asUser runs the real binary as uid:gid with env, as a CI step runs `awf`.
func asUser(t *testing.T, uid, gid, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command("setpriv", append([]string{"--reuid", uid, "--regid", gid, "--init-groups", "--", testnet.AWFBinary(t)}, args...)...)
	cmd.Dir = dir
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := testnet.Run(t, cmd, 90*time.Second)
	return result{code, out.String(), errb.String()}
}

// TestPlainAWFAsRunnerUser: gh-aw v0.28 runs `awf ...` as the runner user,
// who has passwordless sudo. awf re-executes itself through `sudo -n -E`;
// the command runs as that user, with the caller's environment (keys for
// the api-proxy, --env-all variables) and PATH (not sudo's secure_path),
// in a working sandbox. Where sudo refuses or is missing, awf says what to
// do, and the rule it prints is the one installed here.
func TestPlainAWFAsRunnerUser(t *testing.T) {
	needE2E(t)
	if _, err := exec.LookPath("sudo"); err != nil {
		t.Skip("sudo is not installed (.ci/run installs it)")
	}
	awfBin := testnet.AWFBinary(t)
	name, uid, gid, home := testUser(t)
	site := testnet.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("site-ok")) }))
	var gotKey string
	testnet.NewUpstreamFor(t, "api.anthropic.com", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey = r.Header.Get("X-Api-Key")
		fmt.Fprint(w, `{"model":"m","usage":{"input_tokens":1,"output_tokens":1}}`)
	}))
	// What gh-aw's step writes as the runner user before calling awf.
	mcp := filepath.Join(home, ".copilot", "mcp-config.json")
	os.MkdirAll(filepath.Dir(mcp), 0o755)
	os.WriteFile(mcp, []byte(`{"mcpServers":{"e2e":{}}}`), 0o644)
	exec.Command("chown", "-R", uid+":"+gid, filepath.Join(home, ".copilot")).Run()
	ws, ca := workspace(t)
	tools := filepath.Join(ws, "tools")
	os.Mkdir(tools, 0o755)
	os.WriteFile(filepath.Join(tools, "awf-e2e-tool"), []byte("#!/bin/sh\necho TOOL_OK\n"), 0o755)
	key := "sk-ant-elevate-e2e-0123456789"
	tmp := t.TempDir() // the loader strips TMPDIR from sudo's environment; awf carries it
	env := []string{"PATH=" + tools + ":" + os.Getenv("PATH"), "HOME=" + home, "USER=" + name, "TMPDIR=" + tmp,
		"AWF_TESTNET=1", "SSL_CERT_FILE=" + os.Getenv("SSL_CERT_FILE"), "AWF_RUN_DIR=" + filepath.Join(t.TempDir(), "runs"),
		"ANTHROPIC_API_KEY=" + key, "STEP_MARKER=kept-through-sudo"}
	denied := testnet.HostName(173)
	script := strings.Join([]string{
		"echo UID=$(id -u)",
		"echo MARKER=$STEP_MARKER",
		"echo HOME=$HOME",
		`cat "$HOME/.copilot/mcp-config.json" || exit 6`,
		"echo",
		"awf-e2e-tool || exit 2",
		"curl -fsS -m 10 --cacert " + ca + " https://" + site.Name + "/ || exit 3",
		"curl -fsS -m 5 --cacert " + ca + " -o /dev/null https://" + denied + "/ 2>/dev/null && exit 4",
		`curl -fsS -m 10 -o /dev/null -X POST "$ANTHROPIC_BASE_URL/v1/messages" -d '{}' || exit 5`,
		"echo DONE",
	}, "\n")
	args := []string{"--env-all", "--enable-api-proxy", "-d", site.Name + ",api.anthropic.com", "--", script}

	rule := fmt.Sprintf("%s ALL=(root) NOPASSWD:SETENV: %s", name, awfBin)
	p := sudoers(t, name, rule)
	r := asUser(t, uid, gid, ws, env, args...)
	if r.code != 0 || !strings.Contains(r.stdout, "DONE") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"UID=" + uid + "\n", "MARKER=kept-through-sudo\n", "TOOL_OK\n", "site-ok", "HOME=" + home + "\n", `{"mcpServers":{"e2e":{}}}`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "Using work directory: "+tmp+"/awf-") {
		t.Errorf("TMPDIR was lost through sudo:\n%s", r.stderr)
	}
	if gotKey != key {
		t.Errorf("the api-proxy did not get the key through sudo: %q", gotKey)
	}
	if strings.Contains(r.stdout, key) {
		t.Error("the real key reached the command")
	}

	// sudo refuses (no rule): awf explains and prints the rule to install.
	os.Remove(p)
	r = asUser(t, uid, gid, ws, env, args...)
	if r.code != 1 || !strings.Contains(r.stderr, "was refused") || !strings.Contains(r.stderr, rule) ||
		!strings.Contains(r.stderr, "/etc/sudoers.d/awf") || strings.Contains(r.stdout, "UID=") {
		t.Errorf("refused: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("sudo refused:\n%s", r.stderr)

	// No sudo on PATH.
	noSudo := append([]string{"PATH=" + tools}, env[1:]...) // env[0] is PATH
	r = asUser(t, uid, gid, ws, noSudo, args...)
	if r.code != 1 || !strings.Contains(r.stderr, "sudo was not found") || !strings.Contains(r.stderr, rule) {
		t.Errorf("no sudo: exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	t.Logf("no sudo:\n%s", r.stderr)
}
