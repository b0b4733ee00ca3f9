package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// stacked returns a view of dir that is already two overlays deep (the
// top one writable, its changes in a dir of its own), so any overlay awf
// stacks on it exceeds the kernel's limit and is refused (EINVAL): the
// case of a runner container whose root or volumes are overlays of
// overlays, and a stand-in for runtimes that forbid overlay mounts.
// The mounts live in the host's mount namespace (the engine must see
// them) under the test's temp dir, and are detached at cleanup.
func stacked(t *testing.T, dir string) (view, changes string) {
	t.Helper()
	d := t.TempDir()
	for _, s := range []string{"e", "a", "u", "w", "b"} {
		if err := os.Mkdir(filepath.Join(d, s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var st unix.Stat_t
	unix.Stat(dir, &st)
	os.Chown(filepath.Join(d, "u"), int(st.Uid), int(st.Gid)) // the top's root takes the upper's owner
	mount := func(target, opts string) {
		if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
			t.Fatalf("overlay %s: %v", opts, err)
		}
		t.Cleanup(func() { unix.Unmount(target, unix.MNT_DETACH) })
	}
	mount(d+"/a", "lowerdir="+dir+":"+d+"/e")
	mount(d+"/b", "lowerdir="+d+"/a,upperdir="+d+"/u,workdir="+d+"/w")
	return d + "/b", d + "/u"
}

// TestAWFInContainerWithoutOverlay: in a container where the kernel
// refuses awf's overlays, selftest reports the fallback as a degradation
// and passes; a run shows the container's /usr/local/bin shims with awf's
// helper on top (read-only), a writable tool dir whose writes never reach
// the container's home, and the credential files still empty.
func TestAWFInContainerWithoutOverlay(t *testing.T) {
	engine(t)
	images(t)
	bin, home := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(bin, "mytool"), []byte("#!/bin/sh\necho shim-ok\n"), 0o755)
	// The image's entrypoint is /usr/local/bin/awf: the runner image's
	// /usr/local/bin holds it too.
	if b, err := os.ReadFile(built.awf); err != nil || os.WriteFile(filepath.Join(bin, "awf"), b, 0o755) != nil {
		t.Fatalf("copy awf: %v", err)
	}
	for p, data := range map[string]string{".config/tool.conf": "host\n", ".config/gh/hosts.yml": "oauth_token: gho_CONTAINERSECRET\n", ".cache/x/keep": "kept\n"} {
		os.MkdirAll(filepath.Join(home, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(home, p), []byte(data), 0o644)
	}
	filepath.WalkDir(home, func(p string, _ os.DirEntry, _ error) error { return os.Lchown(p, 1000, 1000) })
	os.Chmod(filepath.Dir(home), 0o755)
	binView, _ := stacked(t, bin)
	homeView, homeChanges := stacked(t, home)
	etc := t.TempDir()
	os.WriteFile(filepath.Join(etc, "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nrunner:x:1000:1000:runner:/home/runner:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(etc, "group"), []byte("root:x:0:\nrunner:x:1000:\n"), 0o644)
	extra := []string{"-v", binView + ":/usr/local/bin:ro", "-v", homeView + ":/home/runner",
		"-v", etc + "/passwd:/etc/passwd:ro", "-v", etc + "/group:/etc/group:ro", "-e", "SUDO_UID=1000", "-e", "SUDO_GID=1000"}

	t.Run("selftest reports the fallback and passes", func(t *testing.T) {
		out, code := runAWF(t, ContainerCaps, extra, "selftest")
		if code != 0 || !strings.Contains(out, "all checks passed") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		if want := "! overlayfs (tool dirs, /usr/local/bin helpers): degraded: overlay mounts refused here (mount overlay (lower /usr/local/bin): invalid argument)"; !strings.Contains(out, want) {
			t.Errorf("selftest output lacks %q:\n%s", want, out)
		}
	})

	t.Run("shims, writable tool dir discarded, credentials hidden", func(t *testing.T) {
		script := strings.Join([]string{
			`echo "shim: $(mytool)"`,
			`echo "helper: $(/usr/local/bin/get-claude-key.sh 2>/dev/null)"`,
			`touch /usr/local/bin/planted 2>/dev/null && echo bin-writable`,
			`echo "seen: $(cat ~/.config/tool.conf)" && echo agent > ~/.config/tool.conf && echo "wrote: $(cat ~/.config/tool.conf)"`,
			`echo "cache: $(cat ~/.cache/x/keep)"`,
			`echo "gh: [$(cat ~/.config/gh/hosts.yml)]"`,
			`grep -rsl CONTAINERSECRET ~ /tmp /etc /.awf 2>/dev/null | sed 's/^/secret-at: /'`,
			`echo "fs: $(grep ' /usr/local/bin ' /proc/self/mounts | tail -1 | cut -d' ' -f3) $(grep " $HOME/.config " /proc/self/mounts | tail -1 | cut -d' ' -f3)"`,
		}, "\n")
		out, code := runAWF(t, ContainerCaps, extra, "--", script)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		for _, want := range []string{"shim: shim-ok", "helper: sk-ant-placeholder-key-for-credential-isolation",
			"seen: host", "wrote: agent", "cache: kept", "gh: []", "fs: tmpfs tmpfs",
			"[WARN] overlayfs unavailable (mount overlay (lower /usr/local/bin): invalid argument)"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		for _, bad := range []string{"bin-writable", "secret-at:"} {
			if strings.Contains(out, bad) {
				t.Errorf("output has %q:\n%s", bad, out)
			}
		}
		if b, _ := os.ReadFile(filepath.Join(homeView, ".config", "tool.conf")); string(b) != "host\n" {
			t.Errorf("the agent's write reached the container's home: %q", b)
		}
		if ents, _ := os.ReadDir(homeChanges); len(ents) != 0 {
			t.Errorf("the run changed the container's home: %v", ents)
		}
	})
}
