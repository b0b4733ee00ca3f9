package native

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/sys/unix"

	"github.com/awf-dev/awf/internal/sandbox"
)

// InitArg is the hidden subcommand under which awf re-executes itself as
// the sandbox's PID 1.
const InitArg = "__awf-init"

// File descriptors the parent hands to the init.
const (
	planFD   = 3 // the plan, as JSON; EOF once the parent has set up cgroups
	statusFD = 4 // the init writes "ok\n" or an error line before the command starts
)

// Preflight, when set, runs inside the sandbox (as the init, after the
// filesystem and privileges are in place, before the command) with the
// command's environment. A non-nil error aborts the run.
var Preflight func(env map[string]string) error

// InitMain is the sandbox's PID 1. It never returns.
func InitMain() {
	// The command must inherit nothing but stdio: not the plan or status
	// pipes, nor any descriptor awf itself inherited from whatever started
	// it (a CI runner's pipes, say).
	if err := unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC); err != nil {
		unix.CloseOnExec(planFD)
		unix.CloseOnExec(statusFD)
	}
	status := os.NewFile(statusFD, "status")
	plan, inCgroup, err := readPlan()
	if err == nil && plan.NoOverlay != "" {
		err = inCgroup() // the tool-dir copies' tmpfs pages count against the run
	}
	if err == nil {
		err = setUp(plan)
	}
	if err == nil {
		err = inCgroup()
	}
	var cmd *exec.Cmd
	if err == nil {
		cmd, err = startCommand(plan)
	}
	if err != nil {
		fmt.Fprintf(status, "%v\n", err)
		os.Exit(125)
	}
	status.Write([]byte("ok\n"))
	status.Close()
	os.Exit(reap(cmd.Process.Pid, plan.TTY))
}

// readPlan reads the plan; inCgroup then waits for the pipe's EOF, which
// awf sends once this process is in the run's cgroup (run.go).
func readPlan() (p *sandbox.Plan, inCgroup func() error, err error) {
	f := os.NewFile(planFD, "plan")
	dec := json.NewDecoder(f)
	p = new(sandbox.Plan)
	if err := dec.Decode(p); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("read plan: %w", err)
	}
	var once sync.Once
	var werr error
	return p, func() error {
		once.Do(func() {
			defer f.Close()
			if _, err := io.Copy(io.Discard, io.MultiReader(dec.Buffered(), f)); err != nil {
				werr = fmt.Errorf("waiting for the cgroup: %w", err)
			}
		})
		return werr
	}, nil
}

func setUp(p *sandbox.Plan) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	root := filepath.Join(p.StateDir, "root")
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=1m"); err != nil {
		return fmt.Errorf("sandbox root: %w", err)
	}
	memoryLimit = p.Limits.MemoryBytes // overlayless.go
	if err := applyMounts(root, p.Mounts, p.User); err != nil {
		return err
	}
	if err := hideLate(root, p); err != nil {
		return fmt.Errorf("hiding other runs' logs: %w", err)
	}
	if err := unix.Sethostname([]byte(p.Net.Hostname)); err != nil {
		return fmt.Errorf("hostname: %w", err)
	}
	if err := os.Chdir(root); err != nil {
		return err
	}
	// pivot_root(".", ".") stacks the old root under the new one; the
	// detach unmount then drops every host mount from this namespace.
	if err := enterRoot(); err != nil {
		return err
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	// The command gets its identity at fork; the init keeps what it needs
	// to switch to it, but nothing the command could ever regain.
	for c := 0; c <= unix.CAP_LAST_CAP; c++ {
		unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	if err := loadSeccomp(p.Seccomp); err != nil {
		return err
	}
	if Preflight != nil && p.Preflight {
		if err := Preflight(p.Env); err != nil {
			return fmt.Errorf("pre-flight check failed: %w", err)
		}
	}
	return nil
}

func loadSeccomp(deny []string) error {
	if len(deny) == 0 {
		return nil
	}
	f := seccomp.Filter{
		NoNewPrivs: true,
		Flag:       seccomp.FilterFlagTSync,
		Policy: seccomp.Policy{
			DefaultAction: seccomp.ActionAllow,
			Syscalls: []seccomp.SyscallGroup{
				{Action: seccomp.ActionErrno, Names: deny},
				{Action: seccomp.ActionErrno, NamesWithCondtions: argumentRules()},
				// glibc falls back to clone() only on ENOSYS; clone3's flags
				// live in memory a filter cannot read, so it must not run.
				{Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS), Names: []string{"clone3"}},
			},
		},
	}
	if err := seccomp.LoadFilter(f); err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	return nil
}

// argumentRules deny calls by their arguments:
//   - socket families other than unix, inet, inet6 and netlink: AF_VSOCK and
//     friends are not network-namespaced and would bypass the firewall;
//   - clone with any namespace flag (user namespaces open kernel attack
//     surface; the others would undo the sandbox layout);
//   - the TIOCSTI and TIOCLINUX ioctls, which push input into a terminal.
func argumentRules() []seccomp.NameWithConditions {
	var notInet seccomp.ArgumentConditions
	for _, fam := range []uint64{unix.AF_UNIX, unix.AF_INET, unix.AF_INET6, unix.AF_NETLINK} {
		notInet = append(notInet, seccomp.Condition{Argument: 0, Operation: seccomp.NotEqual, Value: fam})
	}
	rules := []seccomp.NameWithConditions{
		{Name: "socket", Conditions: notInet},
		{Name: "socketpair", Conditions: notInet},
		{Name: "ioctl", Conditions: seccomp.ArgumentConditions{{Argument: 1, Operation: seccomp.Equal, Value: unix.TIOCSTI}}},
		{Name: "ioctl", Conditions: seccomp.ArgumentConditions{{Argument: 1, Operation: seccomp.Equal, Value: unix.TIOCLINUX}}},
	}
	// Entries with the same name are alternatives (OR).
	for _, fl := range []uint64{unix.CLONE_NEWUSER, unix.CLONE_NEWNS, unix.CLONE_NEWNET, unix.CLONE_NEWPID,
		unix.CLONE_NEWIPC, unix.CLONE_NEWUTS, unix.CLONE_NEWCGROUP, unix.CLONE_NEWTIME} {
		rules = append(rules, seccomp.NameWithConditions{Name: "clone",
			Conditions: seccomp.ArgumentConditions{{Argument: 0, Operation: seccomp.BitsSet, Value: fl}}})
	}
	return rules
}

func startCommand(p *sandbox.Plan) (*exec.Cmd, error) {
	argv0 := p.Argv[0]
	if filepath.Base(argv0) == argv0 {
		// Resolve against the sandbox's PATH, not the init's.
		os.Setenv("PATH", p.Env["PATH"])
		lp, err := exec.LookPath(argv0)
		if err != nil {
			return nil, err
		}
		argv0 = lp
	}
	cmd := &exec.Cmd{Path: argv0, Args: p.Argv, Env: p.EnvList(), Dir: p.Workdir,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	if fi, err := os.Stat(p.Workdir); err != nil || !fi.IsDir() {
		cmd.Dir = "/"
	}
	groups := make([]uint32, len(p.User.Groups))
	for i, g := range p.User.Groups {
		groups[i] = uint32(g)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uint32(p.User.UID), Gid: uint32(p.User.GID), Groups: groups},
	}
	// A session of its own always: without --tty the command would
	// otherwise share awf's controlling terminal, whose input it could
	// fill for the user's shell (TIOCSTI).
	cmd.SysProcAttr.Setsid = true
	if p.TTY {
		cmd.SysProcAttr.Setctty = true
		cmd.SysProcAttr.Ctty = 0
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", p.Argv[0], err)
	}
	return cmd, nil
}

// forwarded are the signals PID 1 passes on to the command.
var forwarded = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH, unix.SIGCONT}

// reap waits for the command while reaping every orphan the namespace
// hands to PID 1, forwards signals, and returns the command's exit code.
// When PID 1 returns, the kernel kills whatever is left in the namespace.
func reap(pid int, group bool) int {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, append([]os.Signal{unix.SIGCHLD}, forwarded...)...)
	target := pid
	if group {
		target = -pid
	}
	for {
		for {
			var ws unix.WaitStatus
			wpid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err == unix.EINTR {
				continue
			}
			if err != nil || wpid <= 0 {
				break
			}
			if wpid == pid {
				if ws.Signaled() {
					return 128 + int(ws.Signal())
				}
				return ws.ExitStatus()
			}
		}
		s := <-sigs
		if s != unix.SIGCHLD {
			unix.Kill(target, s.(unix.Signal))
		}
	}
}
