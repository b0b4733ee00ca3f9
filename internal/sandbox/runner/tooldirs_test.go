package runner

import (
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/awf-dev/awf/internal/testnet"
)

// TestToolDirWritesStayInTheRun: the agent sees the user's tool dirs but
// cannot change them on the host, so it cannot plant code (a git config
// hook, a script on PATH) that the user later runs outside the sandbox.
func TestToolDirWritesStayInTheRun(t *testing.T) {
	testnet.Require(t)
	u, err := user.LookupId("1000")
	if err != nil || u.HomeDir == "" {
		t.Skip("needs a user with uid 1000 and a home directory")
	}
	if _, err := os.Stat(u.HomeDir); err != nil {
		t.Skip("uid 1000's home does not exist")
	}
	// A private stand-in for that home (this test's mount namespace is
	// its own): the real one is never touched.
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".config"), 0o755)
	os.WriteFile(filepath.Join(home, ".config", "tool.conf"), []byte("host\n"), 0o644)
	os.Chown(home, 1000, 1000)
	os.Chown(filepath.Join(home, ".config"), 1000, 1000)
	os.Chown(filepath.Join(home, ".config", "tool.conf"), 1000, 1000)
	os.Chmod(filepath.Dir(home), 0o755)
	if err := unix.Mount(home, u.HomeDir, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind a private home: %v", err)
	}
	defer unix.Unmount(u.HomeDir, unix.MNT_DETACH)

	script := strings.Join([]string{
		`echo "seen: $(cat ~/.config/tool.conf)"`,
		`echo agent > ~/.config/tool.conf && echo "wrote: $(cat ~/.config/tool.conf)"`,
		`mkdir -p ~/.local/bin && echo 'evil' > ~/.local/bin/git && echo planted`,
	}, "\n")
	r := awf(t, []string{"SUDO_UID=1000", "SUDO_GID=1000"}, "--", script)
	for _, want := range []string{"seen: host", "wrote: agent", "planted"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s\n%s", want, r.stdout, r.stderr)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(home, ".config", "tool.conf")); string(b) != "host\n" {
		t.Errorf("the agent changed the host's tool config: %q", b)
	}
	if _, err := os.Stat(filepath.Join(home, ".local", "bin", "git")); err == nil {
		t.Errorf("the agent planted a file in the host's ~/.local/bin")
	}
}
