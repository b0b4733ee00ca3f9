package native

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/awf-dev/awf/internal/sandbox"
)

// The kernel side of the overlay fallback; what to mount and copy is
// decided in sandbox/overlayless.go.

// noOverlay is set in the init when an overlay mount is refused, so every
// later overlay takes the fallback and the run warns once. memoryLimit
// bounds the copies of that late fallback (setUp sets both from the plan).
var (
	noOverlay   bool
	memoryLimit int64
)

// ForceNoOverlayEnv, set to 1 in awf's environment, makes a run take the
// overlay fallback even where overlayfs works. It exists for tests (the
// fallback is exercised on hosts that have overlayfs); the fallback keeps
// every guarantee, so the switch weakens nothing.
const ForceNoOverlayEnv = "AWF_TEST_NO_OVERLAY"

// OverlayProbe mounts what a run mounts, an overlay whose lower layer is
// /usr/local/bin with its upper on a tmpfs, in a throwaway mount namespace,
// and returns the kernel's answer. /proc/filesystems is no answer: inside
// a container the kernel has overlayfs but the runtime (seccomp, LSM,
// gVisor) may refuse the mount, and a lower dir that is already two
// overlays deep exceeds the kernel's stacking limit (EINVAL).
func OverlayProbe() error {
	if !OverlayAvailable() {
		return fmt.Errorf("the kernel has no overlayfs (/proc/filesystems)")
	}
	for _, lower := range []string{"/usr/local/bin", "/usr"} {
		if fi, err := os.Stat(lower); err == nil && fi.IsDir() {
			return probeIn(lower)
		}
	}
	return probeIn("/")
}

func probeIn(lower string) error {
	ch := make(chan error, 1)
	go func() {
		// The thread's mount namespace is changed and never restored:
		// without UnlockOSThread the runtime discards the thread when
		// this goroutine ends.
		runtime.LockOSThread()
		ch <- probeOverlay(lower)
	}()
	return <-ch
}

func probeOverlay(lower string) error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("probe namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("probe namespace: %w", err)
	}
	// The lower dir is held open: the scratch tmpfs may cover its path.
	fd, err := unix.Open(lower, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	defer unix.Close(fd)
	scratch := os.TempDir() // covered in this namespace only
	if err := unix.Mount("tmpfs", scratch, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,mode=0700"); err != nil {
		return fmt.Errorf("probe tmpfs: %w", err)
	}
	for _, d := range []string{"u", "w", "m"} {
		if err := os.Mkdir(filepath.Join(scratch, d), 0o700); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("lowerdir=/proc/self/fd/%d", fd) + ",upperdir=" + scratch + "/u,workdir=" + scratch + "/w"
	if err := unix.Mount("overlay", scratch+"/m", "overlay", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount overlay (lower %s): %w", lower, err)
	}
	return nil
}

// overlayRefused: errors that mean "no overlay here" rather than a
// mistake of ours; those take the fallback. EINVAL is what the stacking
// limit returns.
func overlayRefused(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EINVAL)
}

// overlayOrFallback mounts an overlay, and when the kernel refuses it,
// its fallback (the plan's own rule, sandbox.FallbackFor).
func overlayOrFallback(root string, m sandbox.Mount, t string, u sandbox.User) error {
	if !noOverlay {
		err := overlay(root, m, t)
		if err == nil || !overlayRefused(err) {
			return err
		}
		noOverlay = true
		warnf("overlayfs mount refused here (%v): /usr/local/bin is assembled from read-only bind mounts and tool dirs are copied into the run", err)
	}
	for _, s := range sandbox.FallbackFor(m, filepath.Clean(u.Home), memoryLimit) {
		if err := applyMount(root, s, u); err != nil {
			return fmt.Errorf("%s %s: %w", s.Kind, s.Target, err)
		}
	}
	return nil
}

func warnf(format string, a ...any) { fmt.Fprintf(os.Stderr, "[WARN] "+format+"\n", a...) }

// union lists the layers (sandbox paths, top first) and mounts what
// sandbox.UnionSteps makes of them. An absent layer adds nothing, as in
// an overlay.
func union(root string, m sandbox.Mount, u sandbox.User) error {
	var layers []sandbox.Layer
	for _, l := range m.Lower {
		dir := inRoot(root, l)
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		layer := sandbox.Layer{Dir: l}
		for _, e := range ents {
			en := sandbox.Entry{Name: e.Name()}
			switch t := e.Type(); {
			case t&fs.ModeSymlink != 0:
				link, err := os.Readlink(filepath.Join(dir, e.Name()))
				if err != nil {
					continue
				}
				en.Type, en.Link = sandbox.Symlink, link
			case t.IsDir():
				en.Type = sandbox.Dir
			case t.IsRegular():
				en.Type = sandbox.File
			}
			layer.Entries = append(layer.Entries, en)
		}
		layers = append(layers, layer)
	}
	for _, s := range sandbox.UnionSteps(m.Target, layers) {
		if err := applyMount(root, s, u); err != nil {
			return fmt.Errorf("%s %s: %w", s.Kind, s.Target, err)
		}
	}
	return nil
}

// copyToolDir copies the host dir m.Source to the sandbox path m.Target
// (on its own tmpfs) within m.MaxBytes and m.MaxFiles, leaving out
// m.Exclude and the top-level entries sandbox.ChooseCopy drops (dirs
// among them are shown empty, so tools recreate their caches).
func copyToolDir(root string, m sandbox.Mount) error {
	src, err := unix.Open(m.Source, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if m.Optional && (errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR)) {
			return nil
		}
		return fmt.Errorf("tool dir %s: %w", m.Source, err)
	}
	defer unix.Close(src)
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return err
	}
	dst := inRoot(root, m.Target)
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	sized := measure(m.Source, m.MaxFiles)
	skip := sandbox.ChooseCopy(sized, m.MaxBytes, m.MaxFiles)
	if len(skip) > 0 {
		warnf("%s", sandbox.SkipNotice(m.Shown, sized, skip, m.MaxBytes, m.MaxFiles))
	}
	dfd, err := unix.Open(dst, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	c := copier{excl: m.Exclude, skip: skip, budget: m.MaxBytes}
	if err := c.dir(src, dfd, ""); err != nil {
		return err
	}
	return finish(dfd, &st)
}

// measure sizes the top-level entries of dir, each walk stopping past
// maxFiles, the whole past 4*maxFiles (entries not measured then are Over).
// Sizes only: a race with the host changing the dir misleads nothing but
// the choice; the copy itself never follows a link.
func measure(dir string, maxFiles int) []sandbox.Sized {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	total := 4 * maxFiles
	var out []sandbox.Sized
	stop := errors.New("stop")
	for _, e := range ents {
		s := sandbox.Sized{Name: e.Name()}
		if total <= 0 {
			s.Over = true
			out = append(out, s)
			continue
		}
		filepath.WalkDir(filepath.Join(dir, e.Name()), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			s.Files++
			total--
			if s.Files > maxFiles || total < 0 {
				s.Over = true
				return stop
			}
			if d.Type().IsRegular() {
				if fi, err := d.Info(); err == nil {
					s.Bytes += fi.Size()
				}
			}
			return nil
		})
		out = append(out, s)
	}
	return out
}

// copier copies a tree descriptor by descriptor, never following a link
// (the host dir belongs to the user, who could swap a dir for a symlink
// to a root-only place mid-copy). Modes (without set-id bits), owners and
// file times are kept, so the copy grants what the overlay's lower layer
// would; special files are left out.
type copier struct {
	excl, skip []string
	budget     int64
}

func (c *copier) dir(src, dst int, rel string) error {
	f := os.NewFile(uintptr(dupFD(src)), "src")
	if f == nil {
		return fmt.Errorf("dup %s", rel)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil // unreadable: shown empty
	}
	for _, name := range names {
		r := name
		if rel != "" {
			r = rel + "/" + name
		}
		if sandbox.Excluded(r, c.excl) {
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstatat(src, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			continue
		}
		skipped := rel == "" && sandbox.Excluded(name, c.skip)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			if skipped {
				continue
			}
			buf := make([]byte, unix.PathMax)
			n, err := unix.Readlinkat(src, name, buf)
			if err != nil {
				continue
			}
			if err := unix.Symlinkat(string(buf[:n]), dst, name); err != nil {
				return err
			}
			unix.UtimesNanoAt(dst, name, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW)
			unix.Fchownat(dst, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW)
		case unix.S_IFDIR:
			if err := c.subdir(src, dst, name, r, &st, skipped); err != nil {
				return err
			}
		case unix.S_IFREG:
			if skipped {
				continue
			}
			if err := c.file(src, dst, name, &st); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *copier) subdir(src, dst int, name, rel string, st *unix.Stat_t, empty bool) error {
	if err := unix.Mkdirat(dst, name, 0o700); err != nil {
		return err
	}
	d, err := unix.Openat(dst, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(d)
	if !empty {
		s, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == nil {
			err = c.dir(s, d, rel)
			unix.Close(s)
			if err != nil {
				return err
			}
		}
	}
	return finish(d, st)
}

func (c *copier) file(src, dst int, name string, st *unix.Stat_t) error {
	in, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil // unreadable or gone: not shown
	}
	defer unix.Close(in)
	var now unix.Stat_t
	if unix.Fstat(in, &now) != nil || now.Mode&unix.S_IFMT != unix.S_IFREG || now.Ino != st.Ino || now.Dev != st.Dev {
		return nil // swapped since it was looked at
	}
	if c.budget -= now.Size; c.budget < 0 {
		return nil // the dir grew past the bound since it was measured
	}
	out, err := unix.Openat(dst, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	defer unix.Close(out)
	r, w := os.NewFile(uintptr(dupFD(in)), "in"), os.NewFile(uintptr(dupFD(out)), "out")
	if r == nil || w == nil {
		return fmt.Errorf("dup: too many open files")
	}
	_, err = io.Copy(w, io.LimitReader(r, now.Size))
	r.Close()
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// Times are best effort (and set while awf still owns the file).
	unix.UtimesNanoAt(dst, name, []unix.Timespec{now.Atim, now.Mtim}, unix.AT_SYMLINK_NOFOLLOW)
	return finish(out, &now)
}

// finish gives fd the permission bits (no set-id bits) and then the owner
// of st: in that order, because changing the mode of a file root no longer
// owns needs CAP_FOWNER, which containers rarely grant.
func finish(fd int, st *unix.Stat_t) error {
	if err := unix.Fchmod(fd, st.Mode&0o777); err != nil {
		return err
	}
	return unix.Fchown(fd, int(st.Uid), int(st.Gid))
}

func dupFD(fd int) int {
	n, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return n
}

// moveMount moves the mount at m.Source (with its submounts) to t and
// removes the then empty staging dirs, so the sandbox shows no trace.
func moveMount(root string, m sandbox.Mount, t string) error {
	src := inRoot(root, m.Source)
	if err := unix.Mount(src, t, "", unix.MS_MOVE, ""); err != nil {
		return err
	}
	for d := src; d != root && strings.HasPrefix(d, root+"/"); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			break
		}
	}
	return nil
}
