package native

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/awf-dev/awf/internal/sandbox"
)

// CgroupRoot is where the cgroup hierarchies are mounted.
var CgroupRoot = "/sys/fs/cgroup"

// cgroupName is the directory name of a run's cgroup in each hierarchy.
func cgroupName(id string) string { return "awf-" + id }

// Cgroup is a run's cgroup: one directory in v2, or one each in the v1
// memory and pids hierarchies.
type Cgroup struct {
	Dirs []string
	V2   bool
}

// cloneFD opens the v2 cgroup for CLONE_INTO_CGROUP, so the init is born
// in it. Moving a process later (cgroup.procs) waits for an RCU grace
// period, 2-15 ms on the start-up path; -1 on v1 (or no cgroup), where
// that move stays the only way.
func (c *Cgroup) cloneFD() int {
	if c == nil || !c.V2 || len(c.Dirs) != 1 {
		return -1
	}
	fd, err := unix.Open(c.Dirs[0], unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return fd
}

func isV2() bool {
	_, err := os.Stat(filepath.Join(CgroupRoot, "cgroup.controllers"))
	return err == nil
}

// NewCgroup creates the run's cgroup with the plan's limits. Swap is
// limited to the same amount (none extra), as the original's memswap_limit.
func NewCgroup(id string, l sandbox.Limits) (*Cgroup, error) {
	mem := strconv.FormatInt(l.MemoryBytes, 10)
	pids := strconv.FormatInt(l.Pids, 10)
	if isV2() {
		if err := enableControllers(); err != nil {
			return nil, err
		}
		d := filepath.Join(CgroupRoot, cgroupName(id))
		cg := &Cgroup{Dirs: []string{d}, V2: true}
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, fmt.Errorf("cgroup: %w", err)
		}
		err := errors.Join(
			write(d, "memory.max", mem),
			write(d, "pids.max", pids),
		)
		_ = write(d, "memory.swap.max", "0") // absent without swap accounting
		if err != nil {
			cg.Remove()
			return nil, err
		}
		return cg, nil
	}
	cg := &Cgroup{}
	for _, h := range []string{"memory", "pids"} {
		d := filepath.Join(CgroupRoot, h, cgroupName(id))
		if err := os.Mkdir(d, 0o755); err != nil {
			cg.Remove()
			return nil, fmt.Errorf("cgroup %s: %w", h, err)
		}
		cg.Dirs = append(cg.Dirs, d)
	}
	err := errors.Join(
		write(cg.Dirs[0], "memory.limit_in_bytes", mem),
		write(cg.Dirs[1], "pids.max", pids),
	)
	// memsw exists only with swap accounting; it must be >= the limit.
	_ = write(cg.Dirs[0], "memory.memsw.limit_in_bytes", mem)
	if err != nil {
		cg.Remove()
		return nil, err
	}
	return cg, nil
}

// LeafCgroup is where awf moves the processes of a cgroup namespace's root
// (the name Docker-in-Docker's entrypoint uses for the same move).
const LeafCgroup = "init"

// enableControllers enables memory and pids for the runs' cgroups in
// CgroupRoot. cgroup v2 refuses that (EBUSY) in a cgroup that has processes
// of its own, except in the real root: inside a container with its own
// cgroup namespace and a writable cgroup2 (cgroupns=private), CgroupRoot is
// the container's cgroup, holding the container's processes, awf among
// them. Those are moved into the leaf LeafCgroup first, as Docker-in-Docker
// does; they stay under the container's cgroup and its limits. Other
// errors are left to the writes that follow (they name the file).
func enableControllers() error {
	ctl := filepath.Join(CgroupRoot, "cgroup.subtree_control")
	err := os.WriteFile(ctl, []byte("+memory +pids"), 0)
	if !errors.Is(err, syscall.EBUSY) {
		return nil
	}
	leaf := filepath.Join(CgroupRoot, LeafCgroup)
	if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("cgroup: processes in %s block its controllers, and no leaf for them: %w", CgroupRoot, err)
	}
	for try := 0; try < 5 && errors.Is(err, syscall.EBUSY); try++ {
		b, _ := os.ReadFile(filepath.Join(CgroupRoot, "cgroup.procs"))
		for _, pid := range strings.Fields(string(b)) {
			_ = write(leaf, "cgroup.procs", pid) // ESRCH: it has exited
		}
		err = os.WriteFile(ctl, []byte("+memory +pids"), 0)
	}
	if err != nil {
		return fmt.Errorf("cgroup: enable memory and pids in %s: %w", CgroupRoot, err)
	}
	return nil
}

func write(dir, file, val string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(val), 0); err != nil {
		return fmt.Errorf("cgroup %s: %w", file, err)
	}
	return nil
}

// Add moves pid into the cgroup.
func (c *Cgroup) Add(pid int) error {
	for _, d := range c.Dirs {
		if err := write(d, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// Remove kills whatever is left in the cgroup and removes it. The
// directories can stay busy for a moment while the last tasks exit.
func (c *Cgroup) Remove() error {
	var errs []error
	for _, d := range c.Dirs {
		errs = append(errs, removeCgroupDir(d))
	}
	return errors.Join(errs...)
}

func removeCgroupDir(d string) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(d, "cgroup.procs")); err == nil {
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		err := os.Remove(d)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: %w", d, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// removeCgroupsOf removes the cgroups of run id in every hierarchy.
func removeCgroupsOf(id string) error {
	var errs []error
	for _, d := range []string{
		filepath.Join(CgroupRoot, cgroupName(id)),
		filepath.Join(CgroupRoot, "memory", cgroupName(id)),
		filepath.Join(CgroupRoot, "pids", cgroupName(id)),
	} {
		if _, err := os.Stat(d); err == nil {
			errs = append(errs, removeCgroupDir(d))
		}
	}
	return errors.Join(errs...)
}
