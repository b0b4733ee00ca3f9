package native

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/awf-dev/awf/internal/runstate"
	"github.com/awf-dev/awf/internal/sandbox"
)

// StateRoot holds one directory per live run: its owner pid and the empty
// mount point of the sandbox root.
var StateRoot = "/run/awf"

// Exit codes of an interrupted run, as the original.
const (
	ExitTimeout = 124
	ExitSIGINT  = 130
	ExitSIGTERM = 143
)

// ErrSetup wraps failures before the command started.
var ErrSetup = errors.New("sandbox setup failed")

// Sandbox is one prepared run: network namespace, cgroup and state dir.
// Close removes all of them; whatever Close misses (awf killed) is removed
// by CleanStale at the next start.
type Sandbox struct {
	Plan *sandbox.Plan
	NS   *Netns
	cg   *Cgroup
	lock *runstate.Lock // held for the whole run: how others know it lives
	// hideSrv hides other runs' late logs in this sandbox on request.
	hideSrv *hideServer
	Log     *slog.Logger
	// Grace is how long the command gets between SIGTERM and SIGKILL
	// on timeout or interruption.
	Grace time.Duration
	// Started is when the init reported the command started.
	Started time.Time
	// initPID is the init's pid in awf's PID namespace, once started: the
	// CLI proxy enters the sandbox's mount and network namespaces by it.
	initPID atomic.Int64
}

// Prepare cleans leftovers of dead runs and creates the run's kernel
// objects. The caller then makes its listeners with s.NS and calls Run.
func Prepare(p *sandbox.Plan, log *slog.Logger) (s *Sandbox, err error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := CleanStale(log); err != nil {
		log.Warn("cleaning leftovers of earlier runs", "err", err)
	}
	s = &Sandbox{Plan: p, Log: log, Grace: 10 * time.Second}
	made := s // `return nil, err` clears s before this runs
	defer func() {
		if err != nil {
			made.Close()
		}
	}()
	tr := time.Now()
	trace := func(step string) { log.Debug("prepare", "step", step, "elapsed", time.Since(tr)) }
	if err := os.MkdirAll(filepath.Join(p.StateDir, "root"), 0o700); err != nil {
		return nil, fmt.Errorf("%w: state dir: %v", ErrSetup, err)
	}
	if s.lock, err = runstate.Hold(p.StateDir); err != nil {
		return nil, fmt.Errorf("%w: state dir: %v", ErrSetup, err)
	}
	if err := s.startHideServer(); err != nil {
		return nil, fmt.Errorf("%w: state dir: %v", ErrSetup, err)
	}
	if err := os.WriteFile(filepath.Join(p.StateDir, runstate.PIDFile), []byte(runstate.OwnerStamp(os.Getpid())), 0o600); err != nil {
		return nil, fmt.Errorf("%w: state dir: %v", ErrSetup, err)
	}
	if use, err := cgroupDecision(CgroupsWritable(), p.Limits.Required); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	} else if !use {
		log.Warn("cgroups are not writable here (a container?): the command runs WITHOUT memory and pids limits; give --memory-limit explicitly to make this an error instead")
	} else if s.cg, err = NewCgroup(p.ID, p.Limits); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}
	trace("cgroup")
	if s.NS, err = NewNetns(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}
	trace("netns")
	if err := s.NS.Setup(p.Net); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}
	trace("network")
	return s, nil
}

// CleanStale removes the state dirs and cgroups of runs whose awf process
// is gone: whose lock nobody holds. Never by pid: a run started from
// another PID namespace has a pid that means nothing here.
func CleanStale(log *slog.Logger) error {
	ents, err := os.ReadDir(StateRoot)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(StateRoot, e.Name())
		live, lock := runstate.Claim(dir)
		if live == runstate.Live {
			continue
		}
		if live == runstate.Unknown {
			if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < runstate.Young {
				continue // no lock yet: being created right now
			}
		}
		// Dead (its lock now ours), or an old dir without a lock: a
		// run that died before taking it, or one from an older awf.
		log.Info("removing leftovers of a dead run", "id", e.Name())
		errs = append(errs, removeCgroupsOf(e.Name()), os.RemoveAll(dir))
		lock.Close()
	}
	return errors.Join(errs...)
}

// Close removes the run's kernel objects and state. Mounts and the PID
// namespace died with the init; the network namespace goes with its last
// socket.
func (s *Sandbox) Close() error {
	var errs []error
	if s.NS != nil {
		s.NS.Close()
	}
	if s.cg != nil {
		errs = append(errs, s.cg.Remove())
	}
	s.hideSrv.close()
	errs = append(errs, os.RemoveAll(s.Plan.StateDir))
	s.lock.Close()
	return errors.Join(errs...)
}

// InitPID is the sandbox init's pid while it runs, else 0.
func (s *Sandbox) InitPID() int { return int(s.initPID.Load()) }

// IO is the command's standard streams.
type IO struct {
	Stdin          *os.File
	Stdout, Stderr *os.File
}

// Run starts the init in new PID, mount, IPC and UTS namespaces inside the
// agent network namespace and waits for the command. It returns the exit
// code awf should exit with: the command's own, 124 on timeout, 130/143
// when awf was interrupted.
func (s *Sandbox) Run(stdio IO) (int, error) {
	planR, planW, err := os.Pipe()
	if err != nil {
		return 1, err
	}
	defer planW.Close()
	statR, statW, err := os.Pipe()
	if err != nil {
		planR.Close()
		return 1, err
	}
	defer statR.Close()

	var tty *ptyCopier
	if s.Plan.TTY {
		if tty, err = newPty(stdio); err != nil {
			planR.Close()
			statW.Close()
			return 1, fmt.Errorf("%w: tty: %v", ErrSetup, err)
		}
		defer tty.restore()
	}
	newInit := func(cgroupFD int) *exec.Cmd {
		cmd := exec.Command("/proc/self/exe", InitArg)
		cmd.Env = []string{}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.Stdin, stdio.Stdout, stdio.Stderr
		if tty != nil {
			cmd.Stdin, cmd.Stdout, cmd.Stderr = tty.slave, tty.slave, tty.slave
		}
		cmd.ExtraFiles = []*os.File{planR, statW}
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags: unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS,
			// The thread that forks is the namespace's own, which lives as
			// long as the Netns, so this fires only when awf itself dies.
			Pdeathsig: syscall.SIGKILL,
		}
		if cgroupFD >= 0 {
			cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, cgroupFD
		}
		return cmd
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	defer signal.Stop(sigs)

	// On cgroup v2 the init is cloned into its cgroup (CLONE_INTO_CGROUP);
	// a kernel without it (before 5.7) refuses the clone3, and the init is
	// then started plainly and moved in below.
	inCgroup := false
	cmd := newInit(-1)
	if fd := s.cg.cloneFD(); fd >= 0 {
		cmd = newInit(fd)
		err = s.NS.Do(cmd.Start)
		unix.Close(fd)
		if inCgroup = err == nil; inCgroup {
			s.Log.Debug("init cloned into its cgroup (CLONE_INTO_CGROUP)")
		} else {
			s.Log.Debug("CLONE_INTO_CGROUP refused: the init is moved into its cgroup after start", "err", err)
			cmd = newInit(-1)
		}
	}
	if !inCgroup {
		err = s.NS.Do(cmd.Start)
	}
	if err == nil {
		s.initPID.Store(int64(cmd.Process.Pid))
		defer s.initPID.Store(0)
	}
	planR.Close()
	statW.Close()
	if tty != nil {
		tty.slave.Close()
	}
	if err != nil {
		return 1, fmt.Errorf("%w: start init: %v", ErrSetup, err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	// The plan goes at once, so the init builds the filesystem while the
	// cgroup move (v1: an RCU grace period) is under way; the pipe's EOF
	// says the init is in its cgroup, and only then does it start the
	// command (or, without overlayfs, copy tool dirs into tmpfs, whose
	// pages must count against the run's limit), so neither ever runs
	// outside the limits.
	if err := json.NewEncoder(planW).Encode(s.Plan); err != nil {
		cmd.Process.Kill()
		<-waited
		return 1, fmt.Errorf("%w: send plan: %v", ErrSetup, err)
	}
	if !inCgroup {
		if err := s.cg.addIfAny(cmd.Process.Pid); err != nil {
			cmd.Process.Kill()
			<-waited
			return 1, fmt.Errorf("%w: %v", ErrSetup, err)
		}
	}
	planW.Close()
	line, _ := bufio.NewReader(statR).ReadString('\n')
	line = strings.TrimSpace(line)
	if line != "ok" {
		werr := <-waited
		if line == "" {
			line = fmt.Sprintf("init died: %v", werr)
		}
		return 1, fmt.Errorf("%w: %s", ErrSetup, line)
	}
	s.Started = time.Now()
	if tty != nil {
		tty.start()
	}

	var timeout <-chan time.Time
	if s.Plan.Timeout > 0 {
		t := time.NewTimer(s.Plan.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	forced := 0
	var kill <-chan time.Time
	stop := func(code int, why string) {
		if forced != 0 {
			return
		}
		forced = code
		s.Log.Warn("stopping the command", "reason", why)
		cmd.Process.Signal(unix.SIGTERM)
		kill = time.After(s.Grace)
	}
	for {
		select {
		case err := <-waited:
			if tty != nil {
				tty.wait()
			}
			if forced != 0 {
				return forced, nil
			}
			if err == nil {
				return 0, nil
			}
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					return 128 + int(ws.Signal()), nil
				}
				return ee.ExitCode(), nil
			}
			return 1, err
		case sig := <-sigs:
			switch sig {
			case unix.SIGINT:
				stop(ExitSIGINT, "SIGINT")
			case unix.SIGTERM:
				stop(ExitSIGTERM, "SIGTERM")
			default:
				cmd.Process.Signal(sig)
			}
		case <-timeout:
			stop(ExitTimeout, "agent timeout")
		case <-kill:
			cmd.Process.Kill()
		}
	}
}
