// Package workdir claims a run's work directory under the original's name,
// <parent>/awf-<digits>, without trusting the shared parent (/tmp).
//
// The original names it after the start time in milliseconds, and its own
// tests and users find it by that shape ("Using work directory:
// /tmp/awf-1234567890"). /tmp is shared with the agents of earlier runs, so
// a name that can be guessed may already be taken by a directory or symlink
// someone planted. Claim therefore creates the directory itself with
// mkdir(2), which fails on any existing entry (a symlink included) and
// never follows one, and then checks what it made. On a collision it tries
// another number (the time followed by random digits), so a planted name
// costs one retry and can never steer awf's writes.
package workdir

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"syscall"
)

// Attempts bounds the retries on collisions.
const Attempts = 64

// Names returns the candidate names in order: awf-<ms>, then awf-<ms><6
// random digits>. Pure except for the random source; exported for tests.
func Names(ms int64, n int, random func() int64) []string {
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		if i == 0 {
			out = append(out, fmt.Sprintf("awf-%d", ms))
			continue
		}
		out = append(out, fmt.Sprintf("awf-%d%06d", ms, random()))
	}
	return out
}

func random6() int64 {
	v, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return 0
	}
	return v.Int64()
}

// Claim creates a new directory parent/awf-<digits> (mode 0700, owned by
// the caller) and returns its path. parent is created if missing.
func Claim(parent string, ms int64) (string, error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	for _, name := range Names(ms, Attempts, random6) {
		p := filepath.Join(parent, name)
		err := os.Mkdir(p, 0o700)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		if err := Check(p); err != nil {
			return "", err
		}
		return p, nil
	}
	return "", fmt.Errorf("could not create a new work directory in %s after %d attempts (names taken)", parent, Attempts)
}

// Check verifies that dir is a real directory (not a symlink) owned by the
// effective user that nobody else can write.
func Check(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is not a directory that only awf's user can write", dir)
	}
	return nil
}
