// Package runstate owns the format of a run's state directory
// (/run/awf/<id>): the lock that tells a live run from the leftovers of a
// killed one (lock.go), the owner's pid for display, and the pointer to the
// run's live logs. The sandbox
// writes it; `awf logs` and the next run read it.
package runstate

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Files inside a run's state directory.
const (
	PIDFile     = "pid"      // "<pid> <start time>" of the awf process that owns the run
	LogsDirFile = "logs-dir" // path of the run's live egress logs
)

// OwnerStamp identifies a process beyond its pid, which the kernel reuses:
// the pid and its start time (field 22 of /proc/<pid>/stat).
func OwnerStamp(pid int) string { return strconv.Itoa(pid) + " " + StartTime(pid) }

// Owner reads an owner stamp (a bare "<pid>" is accepted too) and reports
// whether that process still runs.
func Owner(stamp string) (pid int, alive bool) {
	f := strings.Fields(stamp)
	if len(f) == 0 {
		return 0, false
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 0 {
		return 0, false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return pid, false
	}
	if len(f) > 1 && StartTime(pid) != f[1] {
		return pid, false // the pid now belongs to another process
	}
	return pid, true
}

// StartTime is the process's start time in clock ticks since boot, "" if
// it does not exist.
func StartTime(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		if f := strings.Fields(s[i+1:]); len(f) > 19 {
			return f[19]
		}
	}
	return ""
}
