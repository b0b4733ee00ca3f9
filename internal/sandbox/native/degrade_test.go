package native

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCgroupDecision(t *testing.T) {
	ro := fmt.Errorf("%w: /sys/fs/cgroup: read-only file system", ErrNoCgroups)
	for _, tc := range []struct {
		name     string
		writable error
		required bool
		use      bool
		wantErr  bool
	}{
		{"writable, defaults", nil, false, true, false},
		{"writable, explicit", nil, true, true, false},
		{"read-only, defaults: run without limits", ro, false, false, false},
		{"read-only, explicit --memory-limit: error", ro, true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			use, err := cgroupDecision(tc.writable, tc.required)
			if use != tc.use || (err != nil) != tc.wantErr {
				t.Fatalf("got use=%v err=%v", use, err)
			}
			if err != nil && (!errors.Is(err, ErrNoCgroups) || !strings.Contains(err.Error(), "--memory-limit")) {
				t.Fatalf("error must name the cause and the flag: %v", err)
			}
		})
	}
}

// TestCgroupsWritableDetectsReadOnly mounts a read-only tmpfs as the
// cgroup root (as Docker mounts /sys/fs/cgroup in a container) in a private
// mount namespace and checks the detection; a writable one passes.
func TestCgroupsWritableDetectsReadOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for mounts")
	}
	old := CgroupRoot
	t.Cleanup(func() { CgroupRoot = old })
	dir := t.TempDir()
	// v2 layout: cgroup.controllers at the root.
	if err := os.WriteFile(filepath.Join(dir, "cgroup.controllers"), []byte("memory pids\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	CgroupRoot = dir
	if err := CgroupsWritable(); err != nil {
		t.Fatalf("writable dir judged unwritable: %v", err)
	}
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	if err := unix.Mount("", dir, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	if err := CgroupsWritable(); !errors.Is(err, ErrNoCgroups) {
		t.Fatalf("read-only cgroup root not detected: %v", err)
	}
}

func TestContainsLine(t *testing.T) {
	if !containsLine("nodev\tsysfs\nnodev\toverlay\n", "nodev\toverlay") || containsLine("nodev\toverlayx\n", "nodev\toverlay") {
		t.Fatal("containsLine")
	}
}
