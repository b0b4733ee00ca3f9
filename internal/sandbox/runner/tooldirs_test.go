package runner

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/awf-dev/awf/internal/sandbox/native"
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
	// Outside /tmp, which the sandbox shows: a real home is not there.
	home, err := os.MkdirTemp("/var/tmp", "awf-tooldirs-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(home)
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

	os.MkdirAll(filepath.Join(home, ".config", "gh"), 0o755)
	os.WriteFile(filepath.Join(home, ".config", "gh", "hosts.yml"), []byte("oauth_token: gho_HOSTSECRET\n"), 0o600)
	// ~/.cache: one entry over the fallback's copy bound (10 MiB with
	// --memory-limit 400m), one small.
	os.MkdirAll(filepath.Join(home, ".cache", "big"), 0o755)
	os.MkdirAll(filepath.Join(home, ".cache", "small"), 0o755)
	os.WriteFile(filepath.Join(home, ".cache", "small", "keep"), []byte("kept\n"), 0o644)
	f, _ := os.Create(filepath.Join(home, ".cache", "big", "blob"))
	f.Truncate(12 << 20) // sparse: apparent size is what counts
	f.Close()
	filepath.WalkDir(filepath.Join(home), func(p string, _ os.DirEntry, _ error) error { return os.Lchown(p, 1000, 1000) })

	script := strings.Join([]string{
		`echo "seen: $(cat ~/.config/tool.conf)"`,
		`echo agent > ~/.config/tool.conf && echo "wrote: $(cat ~/.config/tool.conf)"`,
		`mkdir -p ~/.local/bin && echo 'evil' > ~/.local/bin/git && echo planted`,
		`echo "gh-hosts: [$(cat ~/.config/gh/hosts.yml 2>&1)]"`,
		`grep -rsl HOSTSECRET ~ /tmp /etc /.awf* 2>/dev/null | head -3 | sed 's/^/secret-at: /'`,
		`echo "key-helper: $(/usr/local/bin/get-claude-key.sh 2>/dev/null)"`,
		`touch /usr/local/bin/planted 2>/dev/null && echo usr-local-bin-writable`,
		`echo x >> /usr/local/bin/get-claude-key.sh 2>/dev/null && echo helper-writable`,
		`echo "usr-local-bin: $(ls /usr/local/bin | wc -l)"`,
		`echo "cache: big=$(ls ~/.cache/big | wc -l) small=$(cat ~/.cache/small/keep)"`,
		`echo "fs: usr-local-bin=$(grep ' /usr/local/bin ' /proc/self/mounts | tail -1 | cut -d' ' -f3) config=$(grep " $HOME/.config " /proc/self/mounts | tail -1 | cut -d' ' -f3)"`,
	}, "\n")
	hostBin, _ := os.ReadDir("/usr/local/bin")
	// stacked: /usr/local/bin and the home are each two read-only overlays
	// deep (in a mount namespace of awf's own), so the kernel refuses awf's
	// overlays (stacking limit, EINVAL) as on a runner whose root is
	// already an overlay of an overlay.
	stacked := func(dirs ...string) string {
		sh := "set -e; s=$(mktemp -d -p /var/tmp); mount -t tmpfs t $s; n=0\n"
		for _, d := range dirs {
			sh += fmt.Sprintf(`n=$((n+1)); mkdir $s/e$n $s/a$n $s/b$n
mount -t overlay o -o lowerdir=%[1]s:$s/e$n $s/a$n
mount -t overlay o -o lowerdir=$s/a$n:$s/e$n $s/b$n
mount --bind $s/b$n %[1]s
`, d)
		}
		return sh + `exec "$0" "$@"`
	}
	for _, mode := range []struct {
		name, env string
		stack     bool
	}{{"overlayfs", "", false}, {"forced fallback", native.ForceNoOverlayEnv + "=1", false}, {"overlay refused by the kernel", "", true}} {
		t.Run(mode.name, func(t *testing.T) {
			env := []string{"SUDO_UID=1000", "SUDO_GID=1000"}
			if mode.env != "" {
				env = append(env, mode.env)
			}
			cmd, out, errb := awfCmd(t, env, "--memory-limit", "400m", "--", script)
			if mode.stack {
				cmd.Args = append([]string{"unshare", "-m", "--propagation", "private", "sh", "-c", stacked("/usr/local/bin", u.HomeDir), cmd.Path}, cmd.Args[1:]...)
				cmd.Path, _ = exec.LookPath("unshare")
			}
			t0 := time.Now()
			code := testnet.Run(t, cmd, 60*time.Second)
			t.Logf("%s: exit %d in %v", mode.name, code, time.Since(t0).Round(time.Millisecond))
			r := result{code: code, stdout: out.String(), stderr: errb.String()}
			fallback := mode.env != "" || mode.stack
			big := "cache: big=1 small=kept"
			if fallback {
				big = "cache: big=0 small=kept"
			}
			want := []string{"seen: host", "wrote: agent", "planted", "gh-hosts: []", "key-helper: sk-ant-placeholder-key-for-credential-isolation",
				fmt.Sprintf("usr-local-bin: %d", len(hostBin)+1), big}
			if fallback {
				want = append(want, "fs: usr-local-bin=tmpfs config=tmpfs")
			} else {
				want = append(want, "fs: usr-local-bin=overlay config=overlay")
			}
			for _, w := range want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s\n%s", w, r.stdout, r.stderr)
				}
			}
			for _, bad := range []string{"secret-at:", "usr-local-bin-writable", "helper-writable"} {
				if strings.Contains(r.stdout, bad) {
					t.Errorf("stdout has %q:\n%s", bad, r.stdout)
				}
			}
			warn := "overlayfs unavailable ("
			if mode.stack {
				warn = "overlayfs unavailable (mount overlay (lower /usr/local/bin): invalid argument)"
			}
			if fallback {
				for _, w := range []string{warn, u.HomeDir + "/.cache is a copy limited to 10.0 MiB and 20000 entries; left out (dirs shown empty): big (12.0 MiB, 2 entries)"} {
					if strings.Count(r.stderr, w) != 1 {
						t.Errorf("stderr should say %q once:\n%s", w, r.stderr)
					}
				}
			} else if strings.Contains(r.stderr, "overlayfs unavailable") {
				t.Errorf("fallback taken with overlayfs:\n%s", r.stderr)
			}
			if b, _ := os.ReadFile(filepath.Join(home, ".config", "tool.conf")); string(b) != "host\n" {
				t.Errorf("the agent changed the host's tool config: %q", b)
			}
			if _, err := os.Stat(filepath.Join(home, ".local", "bin", "git")); err == nil {
				t.Errorf("the agent planted a file in the host's ~/.local/bin")
			}
		})
	}
}
