package runstate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// LockFile is the file whose flock(2) the owning awf holds for the whole
// run. A lock, unlike a pid, means the same thing in every PID namespace:
// a run started from a container or an `unshare --pid` job shares /run/awf
// with the host but sees other pids, or none, where the owner's pid is.
const LockFile = "lock"

// Young is how long a state dir without a lock is left alone: its run may
// be creating it right now.
const Young = 10 * time.Second

// Lock is a held run lock; Close releases it.
type Lock struct{ f *os.File }

// Close releases the lock.
func (l *Lock) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	return l.f.Close()
}

// Hold creates dir's lock file and takes its lock for the caller's
// lifetime (the descriptor is close-on-exec, so the sandbox never
// inherits it; the kernel drops the lock when awf dies, however it dies).
// The file is locked before it gets its name, so no cleaner can ever find
// it unlocked while its run lives.
func Hold(dir string) (*Lock, error) {
	p := filepath.Join(dir, LockFile)
	f, err := os.CreateTemp(dir, ".lock-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if err == nil {
		// link, not rename: never replace a lock someone holds.
		err = os.Link(f.Name(), p)
	}
	if err == nil && !sameFile(f, p) {
		err = errors.New("replaced while being taken")
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	return &Lock{f: f}, nil
}

func sameFile(f *os.File, p string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Lstat(p)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// Liveness of a state dir.
type Liveness int

const (
	Live    Liveness = iota // its owner holds the lock (or, legacy, its pid runs)
	Dead                    // nobody holds it: leftovers of a killed run
	Unknown                 // no lock file yet (being created) or not readable
)

// Claim decides whether the run owning dir is gone. When it is, Claim
// returns Dead with the run's lock now held by the caller, so that no
// other cleaner, and no run reusing the name, acts on it meanwhile;
// the caller removes the leftovers, then closes the lock.
func Claim(dir string) (Liveness, *Lock) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return Unknown, nil
	}
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return Live, nil
	}
	if err != nil {
		f.Close()
		return Unknown, nil
	}
	return Dead, &Lock{f: f}
}

// Alive reports whether the run owning state dir dir is live, and its
// pid as recorded (meaningful only in awf's own PID namespace). The lock
// decides; a dir without one is judged by its legacy pid stamp, and one
// with neither is taken as live (it is being created).
func Alive(dir string) (pid int, alive bool) {
	stamp, err := os.ReadFile(filepath.Join(dir, PIDFile))
	if err == nil {
		pid, alive = Owner(string(stamp))
	}
	switch l, lk := Claim(dir); l {
	case Live:
		return pid, true
	case Dead:
		lk.Close()
		return pid, false
	}
	if err != nil {
		return 0, true
	}
	return pid, alive
}
