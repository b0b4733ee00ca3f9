package native

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// hideOptions are the empty tmpfs's options.
var hideOptions = [][2]string{{"mode", "0755"}, {"size", "4k"}, {"nr_inodes", "16"}}

// emptyTmpfs makes a detached, read-only, empty tmpfs mount.
func emptyTmpfs() (int, error) {
	fs, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, err
	}
	defer unix.Close(fs)
	for _, kv := range hideOptions {
		if err := unix.FsconfigSetString(fs, kv[0], kv[1]); err != nil {
			return -1, fmt.Errorf("tmpfs %s: %w", kv[0], err)
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return -1, err
	}
	return unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC,
		unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
}

// initTemplate is the init's one empty tmpfs, cloned over every hidden dir
// (a clone costs far less than a new tmpfs; a run may hide hundreds).
var initTemplate = -1

// hide mounts an empty read-only tmpfs over target if, resolved inside
// root (symlinks cannot lead out of it, nor is the last one followed), it
// is a directory. The mount is attached to the opened descriptor itself
// (move_mount), so what was checked is what gets covered, and no /proc
// is needed (there may be none of ours). With tmpl (a detached empty
// tmpfs, made on first use) the mount is a clone of it.
func hide(root, target string, tmpl *int) error {
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil // no such root here (a sandbox that has pivoted already)
	}
	if err != nil {
		return err
	}
	defer unix.Close(rfd)
	fd, err := unix.Openat2(rfd, strings.TrimPrefix(filepath.Clean("/"+target), "/"), &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
		return nil // nothing there to hide
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var mfd int
	if tmpl == nil {
		if mfd, err = emptyTmpfs(); err != nil {
			return err
		}
	} else {
		if *tmpl < 0 {
			if *tmpl, err = emptyTmpfs(); err != nil {
				*tmpl = -1
				return err
			}
		}
		mfd, err = unix.OpenTree(*tmpl, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
		if errors.Is(err, unix.EINVAL) {
			// Older kernels refuse to clone a detached mount (EINVAL;
			// Debian 12's 6.1, found by vmtest; 6.18 allows it): a
			// fresh empty tmpfs each time instead.
			mfd, err = emptyTmpfs()
		}
		if err != nil {
			return err
		}
	}
	defer unix.Close(mfd)
	return unix.MoveMount(mfd, "", fd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
}

// inCgroup reports whether process pid is in the cgroup named path (in
// any hierarchy).
func inCgroup(pid, path string) bool {
	b, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if _, p, ok := strings.Cut(l[strings.IndexByte(l, ':')+1:], ":"); ok && p == path {
			return true
		}
	}
	return false
}

// hideInNS enters the mount namespace behind f on a thread of its own and
// hides dirs there: at their path from the namespace's root (the sandbox's
// once the init has pivoted; before that, the host's, where the init's
// later recursive bind of /tmp carries the new mount along) and under the
// sandbox root being built in state/root. The thread never returns to the
// pool: Go ends a goroutine's locked thread with it (the main thread it
// parks for good instead).
func hideInNS(f *os.File, state string, dirs []string) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// A thread sharing its fs attributes with others cannot change
		// its mount namespace.
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			done <- err
			return
		}
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNS); err != nil {
			done <- fmt.Errorf("setns: %w", err)
			return
		}
		var errs []error
		for _, d := range dirs {
			errs = append(errs, hide("/", d, nil), hide(filepath.Join(state, "root"), d, nil))
		}
		done <- errors.Join(errs...)
	}()
	return <-done
}
