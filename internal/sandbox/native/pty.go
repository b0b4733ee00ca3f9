package native

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"golang.org/x/sys/unix"
)

// ptyCopier connects awf's own streams to a pseudo-terminal whose slave
// side becomes the command's controlling terminal.
type ptyCopier struct {
	master, slave *os.File
	stdio         IO
	saved         *unix.Termios
	outDone       chan struct{}
	winch         chan os.Signal
}

func newPty(stdio IO) (*ptyCopier, error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, err
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, err
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, err
	}
	p := &ptyCopier{master: m, slave: s, stdio: stdio, outDone: make(chan struct{})}
	p.resize()
	if stdio.Stdin != nil {
		if t, err := unix.IoctlGetTermios(int(stdio.Stdin.Fd()), unix.TCGETS); err == nil {
			p.saved = t
			raw := *t
			raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
			raw.Oflag &^= unix.OPOST
			raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
			raw.Cflag &^= unix.CSIZE | unix.PARENB
			raw.Cflag |= unix.CS8
			raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
			unix.IoctlSetTermios(int(stdio.Stdin.Fd()), unix.TCSETS, &raw)
		}
	}
	return p, nil
}

func (p *ptyCopier) resize() {
	if p.stdio.Stdin == nil {
		return
	}
	if ws, err := unix.IoctlGetWinsize(int(p.stdio.Stdin.Fd()), unix.TIOCGWINSZ); err == nil {
		unix.IoctlSetWinsize(int(p.master.Fd()), unix.TIOCSWINSZ, ws)
	}
}

func (p *ptyCopier) start() {
	p.winch = make(chan os.Signal, 1)
	signal.Notify(p.winch, unix.SIGWINCH)
	go func() {
		for range p.winch {
			p.resize()
		}
	}()
	if p.stdio.Stdin != nil {
		go io.Copy(p.master, p.stdio.Stdin)
	}
	go func() {
		io.Copy(p.stdio.Stdout, p.master) // ends with EIO once the slave is gone
		close(p.outDone)
	}()
}

// wait lets the last output drain after the command exited.
func (p *ptyCopier) wait() {
	select {
	case <-p.outDone:
	case <-time.After(500 * time.Millisecond):
	}
}

func (p *ptyCopier) restore() {
	if p.winch != nil {
		signal.Stop(p.winch)
		close(p.winch)
	}
	if p.saved != nil {
		unix.IoctlSetTermios(int(p.stdio.Stdin.Fd()), unix.TCSETS, p.saved)
	}
	p.master.Close()
}
