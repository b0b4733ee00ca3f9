package native

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/awf-dev/awf/internal/runstate"
	"github.com/awf-dev/awf/internal/sandbox"
)

// HideSocket, in a run's state dir, is where its awf takes requests to
// hide directories inside its sandbox: logs that another run preserves
// while this one is going. Each awf enters its own sandbox (it knows its
// init and its -v mounts), so this works whichever PID or mount namespace
// the asking run came from, as long as it shares /run/awf. Only root can
// reach it (the state dir is 0700).
const HideSocket = "hide.sock"

// hideTimeout bounds one request, both ways.
const hideTimeout = 5 * time.Second

// hideServer answers hide requests for one sandbox.
type hideServer struct {
	s  *Sandbox
	ln net.Listener
	mu sync.Mutex // one namespace entry at a time
	// own is awf's mount namespace, taken before any thread entered a
	// sandbox's (/proc/self/ns/mnt would not do: it is the main thread's,
	// and an entering goroutine may have run there).
	own os.FileInfo
}

func (s *Sandbox) startHideServer() error {
	own, err := os.Stat("/proc/thread-self/ns/mnt")
	if err != nil {
		return err
	}
	ln, err := net.Listen("unix", filepath.Join(s.Plan.StateDir, HideSocket))
	if err != nil {
		return err
	}
	h := &hideServer{s: s, ln: ln, own: own}
	go h.serve()
	s.hideSrv = h
	return nil
}

func (h *hideServer) close() {
	if h != nil {
		h.ln.Close()
	}
}

func (h *hideServer) serve() {
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		go h.handle(c)
	}
}

// handle reads one absolute path a line until EOF, hides those that are
// awf's (root-owned real directories) and answers "ok" or "error: ...".
func (h *hideServer) handle(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(hideTimeout))
	var dirs []string
	sc := bufio.NewScanner(io.LimitReader(c, 256<<10))
	for sc.Scan() && len(dirs) < 1024 {
		if p := sc.Text(); filepath.IsAbs(p) && rootDir(p) {
			dirs = append(dirs, filepath.Clean(p))
		}
	}
	if err := h.hide(dirs); err != nil {
		fmt.Fprintf(c, "error: %v\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	io.WriteString(c, "ok\n")
}

// hide hides dirs in this run's sandbox, wherever it shows them (its own
// -v mounts included). Before the init starts there is nothing to do: it
// scans for such dirs itself (hideLate).
func (h *hideServer) hide(dirs []string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	pid := h.s.InitPID()
	if pid == 0 || len(dirs) == 0 {
		return nil
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/mnt", pid))
	if err != nil {
		return err
	}
	defer f.Close()
	// The pid could be reused once the init is gone: it must still be in
	// the run's cgroup, and not share awf's own mount namespace.
	if fi, err := f.Stat(); err != nil || os.SameFile(fi, h.own) || !inCgroup(fmt.Sprint(pid), "/"+cgroupName(h.s.Plan.ID)) {
		return nil
	}
	return hideInNS(f, h.s.Plan.StateDir, sandbox.HideTargets(dirs, h.s.Plan.Mounts))
}

// HideInLiveSandboxes asks every running sandbox's awf to hide dirs
// before they are made readable: a sandbox hides, when it starts, the
// logs it can find, not those preserved later. An error means some
// running sandbox may see them; the caller then keeps them root-only.
func HideInLiveSandboxes(dirs []string, log *slog.Logger) error {
	ents, _ := os.ReadDir(StateRoot)
	var errs []error
	for _, e := range ents {
		state := filepath.Join(StateRoot, e.Name())
		if !e.IsDir() {
			continue
		}
		if l, lock := runstate.Claim(state); l != runstate.Live {
			lock.Close()
			continue
		}
		err := askHide(filepath.Join(state, HideSocket), dirs)
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			// Not serving yet (its init will scan) or any more (ending).
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("run %s: %w", e.Name(), err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		if log != nil {
			log.Warn("hiding preserved logs from running sandboxes", "err", err)
		}
		return err
	}
	return nil
}

func askHide(sock string, dirs []string) error {
	c, err := net.DialTimeout("unix", sock, hideTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(hideTimeout))
	if _, err := io.WriteString(c, strings.Join(dirs, "\n")+"\n"); err != nil {
		return err
	}
	c.(*net.UnixConn).CloseWrite()
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no answer: %w", err)
	}
	if line = strings.TrimSpace(line); line != "ok" {
		return errors.New(line)
	}
	return nil
}
