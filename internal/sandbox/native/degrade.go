package native

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ErrNoCgroups means this host (typically a container without a writable
// /sys/fs/cgroup) does not let awf create a cgroup for the command.
var ErrNoCgroups = errors.New("cgroups not writable")

// CgroupsWritable reports why awf cannot create its per-run cgroup here, or
// nil. Containers usually mount /sys/fs/cgroup read-only (Docker without
// --privileged or a writable cgroupns), which is the case to detect before a
// run rather than fail in the middle of one.
func CgroupsWritable() error {
	dirs := []string{CgroupRoot}
	if !isV2() {
		dirs = []string{filepath.Join(CgroupRoot, "memory"), filepath.Join(CgroupRoot, "pids")}
	}
	for _, d := range dirs {
		if err := unix.Access(d, unix.W_OK); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrNoCgroups, d, err)
		}
		var st unix.Statfs_t
		if err := unix.Statfs(d, &st); err == nil && st.Flags&unix.ST_RDONLY != 0 {
			return fmt.Errorf("%w: %s: read-only file system", ErrNoCgroups, d)
		}
	}
	return nil
}

// cgroupDecision is the rule for a host where cgroups cannot be written:
// limits the user asked for explicitly are a requirement (error); the
// defaults are best effort (run without limits, and say so).
func cgroupDecision(writable error, required bool) (useCgroup bool, err error) {
	switch {
	case writable == nil:
		return true, nil
	case required:
		return false, fmt.Errorf("%w, but --memory-limit was given explicitly: give the container a writable cgroup (cgroupns=private with a read-write /sys/fs/cgroup, or --privileged) or drop the flag", writable)
	default:
		return false, nil
	}
}

// SeccompMode is this process's seccomp mode (0 none, 2 filter). A parent
// filter (Docker's default profile) is no obstacle: filters stack, the
// kernel applies the strictest answer of all, so awf installs its own on
// top of it.
func SeccompMode() (int, error) {
	return unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0)
}

// OverlayAvailable reports whether the kernel offers overlayfs.
func OverlayAvailable() bool {
	b, err := os.ReadFile("/proc/filesystems")
	return err == nil && containsLine(string(b), "nodev\toverlay")
}

func containsLine(s, line string) bool {
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		if s[:i] == line {
			return true
		}
		if i == len(s) {
			break
		}
		s = s[i+1:]
	}
	return false
}

// addIfAny adds pid to the cgroup; a run without cgroup (degraded) has none.
func (c *Cgroup) addIfAny(pid int) error {
	if c == nil {
		return nil
	}
	return c.Add(pid)
}

// ProcSysReadOnly reports a read-only /proc/sys (every Docker container):
// awf cannot turn IPv6 off in the sandbox's network namespace, so ::1 is
// configured there; the ruleset's final rejects (rules.go accepts only
// IPv4 destinations) refuse every IPv6 packet the command sends.
func ProcSysReadOnly() bool {
	var st unix.Statfs_t
	return unix.Statfs("/proc/sys", &st) == nil && st.Flags&unix.ST_RDONLY != 0
}

// enterRoot makes the current directory the root. pivot_root(".", ".")
// stacks the old root under the new one and the detach drops every host
// mount from this namespace. Docker's default seccomp profile denies
// pivot_root (EPERM even with CAP_SYS_ADMIN); then the new root is moved
// over "/" and chrooted into, as runc's --no-pivot does: the host mounts
// stay in this namespace's table but under the new root, unreachable to a
// command that has no capabilities (no chroot escape) and no descriptor
// from outside; selftest reports it.
func enterRoot() error {
	err := unix.PivotRoot(".", ".")
	if err == nil {
		if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
			return fmt.Errorf("detach old root: %w", err)
		}
		return nil
	}
	if !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("pivot_root denied (%v); move root: %w", unix.EPERM, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("pivot_root denied (%v); chroot: %w", unix.EPERM, err)
	}
	return nil
}
