package runstate

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLockDecidesLiveness: a held lock means live whatever the pid file
// says (a run from another PID namespace records a pid that is dead or
// someone else here); a released lock means dead, and Claim hands the
// lock to the cleaner so nobody else acts on the dir meanwhile.
func TestLockDecidesLiveness(t *testing.T) {
	dir := t.TempDir()
	// The owner's pid as seen from its own PID namespace: 1, whose start
	// time here is some other process's.
	os.WriteFile(filepath.Join(dir, PIDFile), []byte("1 999999999"), 0o600)
	if l, _ := Claim(dir); l != Unknown {
		t.Fatalf("no lock file yet: %v, want Unknown", l)
	}
	lk, err := Hold(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := Claim(dir); l != Live {
		t.Errorf("held lock: Claim = %v, want Live", l)
	}
	if _, alive := Alive(dir); !alive {
		t.Error("held lock with a foreign pid: not alive (the cross-namespace bug)")
	}
	if _, err := Hold(dir); err == nil {
		t.Error("a second Hold on a held dir succeeded")
	}
	lk.Close()
	l, claimed := Claim(dir)
	if l != Dead || claimed == nil {
		t.Fatalf("released lock: Claim = %v, want Dead with the lock", l)
	}
	if l2, _ := Claim(dir); l2 != Live {
		t.Errorf("while a cleaner holds it: %v, want Live (nobody else may act)", l2)
	}
	claimed.Close()
	if _, alive := Alive(dir); alive {
		t.Error("released lock: alive")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".lock-*")); len(m) != 0 {
		t.Errorf("temporary lock files left: %v", m)
	}
}

// TestAliveWithoutLock keeps the pid-stamp answer for dirs that have no
// lock (written by an older awf, or by tests of readers).
func TestAliveWithoutLock(t *testing.T) {
	dir := t.TempDir()
	if _, alive := Alive(dir); !alive {
		t.Error("no pid, no lock: want live (being created)")
	}
	os.WriteFile(filepath.Join(dir, PIDFile), []byte(OwnerStamp(os.Getpid())), 0o600)
	if _, alive := Alive(dir); !alive {
		t.Error("own pid stamp: not alive")
	}
	os.WriteFile(filepath.Join(dir, PIDFile), []byte("999999999"), 0o600)
	if _, alive := Alive(dir); alive {
		t.Error("dead pid stamp: alive")
	}
}
