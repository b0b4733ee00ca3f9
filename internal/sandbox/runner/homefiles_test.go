package runner

import (
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/awf-dev/awf/internal/sandbox"
	"github.com/awf-dev/awf/internal/testnet"
)

// TestCredentialFilesEmptyAndToolCacheShown: every credential path of the
// original is present and empty in the sandbox (whether or not the user
// has the file), nothing is created in the user's real home, and the
// runner tool cache is shown read-only: $RUNNER_TOOL_CACHE when it names a
// directory, else ~/work/_tool, which the fresh home would hide.
func TestCredentialFilesEmptyAndToolCacheShown(t *testing.T) {
	testnet.Require(t)
	u, err := user.LookupId("1000")
	if err != nil || u.HomeDir == "" {
		t.Skip("needs a user with uid 1000 and a home directory")
	}
	if _, err := os.Stat(u.HomeDir); err != nil {
		t.Skip("uid 1000's home does not exist")
	}
	// A private stand-in for that home (this test's mount namespace is its
	// own): a tool dir, one real credential, and a tool cache.
	home := t.TempDir()
	os.Chmod(filepath.Dir(home), 0o755)
	mk := func(rel, body string) {
		p := filepath.Join(home, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o755)
	}
	mk(".config/tool.conf", "x\n")
	mk(".ssh/id_ed25519", "PRIVATE KEY\n")
	mk("work/_tool/hello/1.0/x64/bin/hello", "#!/bin/sh\necho hello-from-tool-cache\n")
	filepath.Walk(home, func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, 1000, 1000) })
	if err := unix.Mount(home, u.HomeDir, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind a private home: %v", err)
	}
	defer unix.Unmount(u.HomeDir, unix.MNT_DETACH)
	before := listTree(home)

	var script strings.Builder
	for _, c := range sandbox.CredentialFiles {
		// Writes vanish (it is /dev/null, as in the original) or fail.
		script.WriteString(`f="$HOME/` + c + `"; (echo x > "$f") 2>/dev/null; if test -e "$f" && test "$(wc -c < "$f")" = 0; then echo "empty: ` + c + `"; else echo "NOT EMPTY OR ABSENT: ` + c + `"; fi` + "\n")
	}
	script.WriteString(`"$HOME/work/_tool/hello/1.0/x64/bin/hello"` + "\n")
	script.WriteString(`touch "$HOME/work/_tool/planted" 2>/dev/null && echo tool-cache-writable` + "\n")
	script.WriteString(`mkdir -p "$HOME/work/mine" && echo home-work-writable` + "\n")
	r := awf(t, []string{"SUDO_UID=1000", "SUDO_GID=1000"}, "--", script.String())
	for _, c := range sandbox.CredentialFiles {
		if !strings.Contains(r.stdout, "empty: "+c+"\n") {
			t.Errorf("%s is not present and empty in the sandbox", c)
		}
	}
	for _, w := range []string{"hello-from-tool-cache", "home-work-writable"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("stdout lacks %q:\n%s\n%s", w, r.stdout, r.stderr)
		}
	}
	if strings.Contains(r.stdout, "tool-cache-writable") {
		t.Error("the tool cache is writable")
	}
	if after := listTree(home); after != before {
		t.Errorf("the real home changed:\nbefore %s\nafter  %s", before, after)
	}

	// RUNNER_TOOL_CACHE wins, even outside anything the sandbox shows.
	tc, err := os.MkdirTemp("/var/tmp", "awf-toolcache-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tc)
	os.Chmod(tc, 0o755)
	os.WriteFile(filepath.Join(tc, "marker"), []byte("from-runner-tool-cache\n"), 0o644)
	r = awf(t, []string{"SUDO_UID=1000", "SUDO_GID=1000", "RUNNER_TOOL_CACHE=" + tc}, "--", "cat "+tc+"/marker; test -e $HOME/work/_tool || echo fallback-not-shown")
	if !strings.Contains(r.stdout, "from-runner-tool-cache") || !strings.Contains(r.stdout, "fallback-not-shown") {
		t.Errorf("RUNNER_TOOL_CACHE not shown (or the fallback too):\n%s\n%s", r.stdout, r.stderr)
	}
}

func listTree(dir string) string {
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			out = append(out, strings.TrimPrefix(p, dir)+":"+fi.Mode().String())
		}
		return nil
	})
	return strings.Join(out, " ")
}
