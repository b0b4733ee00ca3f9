package runner

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/awf-dev/awf/internal/credinject"
	"github.com/awf-dev/awf/internal/testnet"
)

// TestInjectCredentialGitPushAndGhAPI: with --inject-credential, git
// clones and pushes over HTTPS to a git server that demands the token,
// and gh api reaches an API that demands it, while the sandbox holds only
// a placeholder: the token is in no variable, /proc environ, file the
// agent can read, log, artifact or stderr line.
func TestInjectCredentialGitPushAndGhAPI(t *testing.T) {
	testnet.Require(t)
	backend := "/usr/lib/git-core/git-http-backend"
	if _, err := os.Stat(backend); err != nil {
		t.Skip("git-http-backend not installed")
	}
	if _, err := exec.LookPath("gh"); err != nil {
		t.Skip("gh not installed")
	}
	secret := "ghs_" + strings.Repeat("Inj3ct", 7) // built here, never a literal
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+secret))

	// A bare repository served by the real git-http-backend, behind auth.
	root := t.TempDir()
	repo := filepath.Join(root, "repo.git")
	for _, args := range [][]string{{"init", "-q", "--bare", repo}, {"-C", repo, "config", "http.receivepack", "true"}} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	var gitDenied, pushed atomic.Int64
	git := &cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=awf"}}
	testnet.NewUpstreamFor(t, "github.com", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != basic {
			gitDenied.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "auth required", http.StatusUnauthorized)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			pushed.Add(1)
		}
		git.ServeHTTP(w, r)
	}))
	var apiSeen atomic.Value
	testnet.NewUpstreamFor(t, "api.github.com", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apiSeen.Store(r.Header.Get("Authorization"))
		if r.Header.Get("Authorization") != "Bearer "+secret {
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"login":"octo-injected"}`)
	}))

	script := strings.Join([]string{
		`set -e`,
		`d=$(mktemp -d) && trap 'rm -rf $d' EXIT && git clone -q https://github.com/repo.git $d/r`,
		`cd $d/r && git -c user.email=a@example.test -c user.name=a commit -q --allow-empty -m injected`,
		`git push -q origin HEAD:refs/heads/main && echo pushed-ok`,
		`gh api /user --jq .login`,
		`echo "gh-token=$GH_TOKEN list=$AWF_INJECTED_CREDENTIALS"`,
		// Where the token could hide: every environment, the home, /tmp, git's config.
		`n=$(cat /proc/[0-9]*/environ 2>/dev/null | tr '\0' '\n' | grep -c "` + secret + `" || true); echo "environ-hits=$n"`,
		`n=$(grep -rl "` + secret + `" "$HOME" /tmp /etc 2>/dev/null | wc -l); echo "file-hits=$n"`,
	}, "\n")
	logs, audit := t.TempDir(), t.TempDir()
	r := awf(t, []string{"GH_TOKEN=" + secret},
		"-d", "github.com", "--proxy-logs-dir", logs, "--audit-dir", audit,
		"--inject-credential", "api.github.com:Authorization=Bearer $GH_TOKEN",
		"--inject-credential", "github.com:Authorization=Basic base64(x-access-token:$GH_TOKEN)",
		"--", script)
	if r.code != 0 {
		t.Fatalf("code %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"pushed-ok", "octo-injected", "gh-token=" + credinject.Placeholder + " list=GH_TOKEN", "environ-hits=0", "file-hits=0"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s\n%s", want, r.stdout, r.stderr)
		}
	}
	if pushed.Load() == 0 {
		t.Error("the git server saw no push")
	}
	if out, err := exec.Command("git", "-C", repo, "log", "--format=%s", "main").Output(); err != nil || !strings.Contains(string(out), "injected") {
		t.Errorf("the pushed commit is not in the server's repository: %v %s", err, out)
	}
	if strings.Contains(r.stdout, secret) {
		t.Error("the agent printed the token")
	}
	assertNoSecret(t, secret, r.stderr, logs, audit)
	assertNoSecret(t, base64.StdEncoding.EncodeToString([]byte("x-access-token:"+secret)), r.stderr, logs, audit)
	access, _ := os.ReadFile(filepath.Join(logs, "access.log"))
	if !strings.Contains(string(access), "https://github.com/repo.git/git-receive-pack") {
		t.Errorf("the inspected push is not in access.log:\n%s", access)
	}
	manifest, _ := os.ReadFile(filepath.Join(audit, "policy-manifest.json"))
	if !strings.Contains(string(manifest), "inject-credential") || !strings.Contains(string(manifest), `"api.github.com"`) {
		t.Errorf("manifest lacks the injection hosts:\n%s", manifest)
	}
}
