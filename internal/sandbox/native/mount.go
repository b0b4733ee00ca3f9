package native

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/awf-dev/awf/internal/sandbox"
)

// applyMounts builds the sandbox filesystem under root (a fresh tmpfs in
// the init's private mount namespace). Nothing here is visible outside it.
func applyMounts(root string, ms []sandbox.Mount, u sandbox.User) error {
	for _, m := range ms {
		if err := applyMount(root, m, u); err != nil {
			return fmt.Errorf("mount %s %s: %w", m.Kind, m.Target, err)
		}
	}
	return nil
}

// mkdirOwned creates dir and any missing parents; with owned they belong to
// the sandbox user, so a tool can write next to a file awf placed for it
// (~/.codex/config.toml: codex keeps its sessions in ~/.codex).
func mkdirOwned(dir string, owned bool, u sandbox.User) error {
	var created []string
	for d := dir; !exists(d); d = filepath.Dir(d) {
		created = append(created, d)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if owned {
		for _, d := range created {
			if err := os.Chown(d, u.UID, u.GID); err != nil {
				return err
			}
		}
	}
	return nil
}

func inRoot(root, p string) string { return filepath.Join(root, filepath.Clean("/"+p)) }

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func applyMount(root string, m sandbox.Mount, u sandbox.User) error {
	t := inRoot(root, m.Target)
	switch m.Kind {
	case sandbox.KindBind:
		if m.Glob {
			matches, err := filepath.Glob(m.Source)
			if err != nil {
				return err
			}
			for _, src := range matches {
				one := m
				one.Glob, one.Source, one.Target = false, src, src
				if err := bind(root, one, inRoot(root, src), u); err != nil {
					return err
				}
			}
			return nil
		}
		return bind(root, m, t, u)
	case sandbox.KindTmpfs:
		if m.Optional && !exists(t) {
			return nil
		}
		if err := os.MkdirAll(t, 0o755); err != nil {
			return err
		}
		flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV)
		if m.NoExec {
			flags |= unix.MS_NOEXEC
		}
		if err := unix.Mount("tmpfs", t, "tmpfs", flags, m.Options); err != nil {
			return err
		}
		if m.Owned {
			return os.Chown(t, u.UID, u.GID)
		}
		return nil
	case sandbox.KindFile:
		if err := mkdirOwned(filepath.Dir(t), m.Owned, u); err != nil {
			return err
		}
		if err := os.WriteFile(t, m.Data, os.FileMode(m.Mode)); err != nil {
			return err
		}
		if err := os.Chmod(t, os.FileMode(m.Mode)); err != nil {
			return err
		}
		if m.Owned {
			return os.Chown(t, u.UID, u.GID)
		}
		return nil
	case sandbox.KindMask:
		fi, err := os.Lstat(t)
		if errors.Is(err, os.ErrNotExist) && m.Create {
			// Shown present and empty, as the original shows it.
			if err = placeholder(root, m.Target, m.Owned, u); err == nil {
				fi, err = os.Lstat(t)
			}
		}
		if err != nil || fi.IsDir() {
			return nil // nothing there to hide
		}
		if err := unix.Mount("/dev/null", t, "", unix.MS_BIND, ""); err != nil {
			return err
		}
		return setattr(t, unix.MOUNT_ATTR_RDONLY, false)
	case sandbox.KindOverlay:
		return overlayOrFallback(root, m, t, u) // overlayless.go
	case sandbox.KindUnion:
		return union(root, m, u)
	case sandbox.KindCopy:
		return copyToolDir(root, m)
	case sandbox.KindSymlink:
		return os.Symlink(string(m.Data), t)
	case sandbox.KindMove:
		return moveMount(root, m, t)
	case sandbox.KindHide:
		return hide(root, m.Target, &initTemplate)
	case sandbox.KindRemount:
		return setattr(t, unix.MOUNT_ATTR_RDONLY, false)
	case sandbox.KindProc:
		if err := os.MkdirAll(t, 0o555); err != nil {
			return err
		}
		return unix.Mount("proc", t, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	}
	return fmt.Errorf("unknown mount kind %q", m.Kind)
}

func overlay(root string, m sandbox.Mount, t string) error {
	if m.Upper != "" {
		return writableOverlay(root, m, t)
	}
	lower := make([]string, len(m.Lower))
	for i, l := range m.Lower {
		lower[i] = inRoot(root, l)
		if strings.ContainsAny(lower[i], ":,") {
			return fmt.Errorf("overlay lower dir %q has ':' or ','", l)
		}
	}
	return unix.Mount("overlay", t, "overlay", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "lowerdir="+strings.Join(lower, ":"))
}

// writableOverlay mounts the host directory m.Source at t with its
// changes kept in m.Upper, so the host copy is never written.
func writableOverlay(root string, m sandbox.Mount, t string) error {
	fi, err := os.Stat(m.Source)
	if err != nil || !fi.IsDir() {
		if m.Optional {
			return nil
		}
		return fmt.Errorf("overlay source %s: not a directory", m.Source)
	}
	up := inRoot(root, m.Upper)
	for _, d := range []string{t, up + "/upper", up + "/work"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// The upper root takes the lower's owner and mode, so the user can
	// create files at the top of the directory.
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		os.Chown(up+"/upper", int(st.Uid), int(st.Gid))
		os.Chmod(up+"/upper", fi.Mode().Perm())
	}
	for _, p := range []string{m.Source, up} {
		if strings.ContainsAny(p, ":,") {
			return fmt.Errorf("overlay path %q has ':' or ','", p)
		}
	}
	opts := "lowerdir=" + m.Source + ",upperdir=" + up + "/upper,workdir=" + up + "/work"
	return unix.Mount("overlay", t, "overlay", unix.MS_NOSUID|unix.MS_NODEV, opts)
}

func bind(root string, m sandbox.Mount, t string, u sandbox.User) error {
	if m.Inner {
		// A generated file bound over a path on a host-backed mount: only
		// over a file that is there, so nothing is created on the host.
		if !exists(t) {
			return nil
		}
		m.Source = inRoot(root, m.Source)
	}
	if m.FromRoot {
		m.Source = inRoot(root, m.Source)
	}
	fi, err := os.Lstat(m.Source)
	if err != nil {
		if m.Optional && errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		// Merged-/usr hosts: /bin -> usr/bin. Recreate the link; its
		// target is bound separately.
		link, err := os.Readlink(m.Source)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(t), 0o755); err != nil {
			return err
		}
		if exists(t) {
			return nil
		}
		return os.Symlink(link, t)
	}
	if fi.IsDir() {
		if err := mkdirOwned(t, m.Owned, u); err != nil {
			return err
		}
	} else if !exists(t) {
		if err := os.MkdirAll(filepath.Dir(t), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(t, os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		f.Close()
	}
	if err := unix.Mount(m.Source, t, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	attr := uint64(unix.MOUNT_ATTR_NOSUID)
	if m.ReadOnly {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	return setattr(t, attr, true)
}

func setattr(p string, set uint64, recursive bool) error {
	flags := 0
	if recursive {
		flags = unix.AT_RECURSIVE
	}
	return unix.MountSetattr(unix.AT_FDCWD, p, uint(flags), &unix.MountAttr{Attr_set: set})
}

// placeholder creates the empty file target (a sandbox path) and its
// missing parents (the user's when owned), walking from the sandbox root
// without following any symlink: a link in a tool dir's overlay could
// otherwise point the creation at the host. It gives up quietly on one.
func placeholder(root, target string, owned bool, u sandbox.User) error {
	dfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	parts := strings.Split(strings.Trim(filepath.Clean("/"+target), "/"), "/")
	for _, p := range parts[:len(parts)-1] {
		err := unix.Mkdirat(dfd, p, 0o755)
		created := err == nil
		if err != nil && !errors.Is(err, unix.EEXIST) {
			unix.Close(dfd)
			return err
		}
		next, err := unix.Openat(dfd, p, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(dfd)
		if err != nil {
			return nil // a symlink or a file on the way: leave it be
		}
		dfd = next
		if created && owned {
			if err := unix.Fchownat(dfd, "", u.UID, u.GID, unix.AT_EMPTY_PATH); err != nil {
				unix.Close(dfd)
				return err
			}
		}
	}
	defer unix.Close(dfd)
	fd, err := unix.Openat(dfd, parts[len(parts)-1], unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o444)
	if err != nil {
		return nil
	}
	return unix.Close(fd)
}
