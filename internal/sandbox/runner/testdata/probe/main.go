// Command probe is run inside the sandbox by the end-to-end tests to try
// things the agent should not be able to do, and report what happened as
// one line: "ok ..." or "fail <error> <elapsed>".
package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/dns/dnsmessage"
)

func main() {
	t0 := time.Now()
	out, err := run(os.Args[1], os.Args[2:])
	if err != nil {
		fmt.Printf("fail %v %dms\n", err, time.Since(t0).Milliseconds())
		os.Exit(1)
	}
	fmt.Printf("ok %s %dms\n", out, time.Since(t0).Milliseconds())
}

func run(cmd string, args []string) (string, error) {
	switch cmd {
	case "dial": // dial network addr
		c, err := net.DialTimeout(args[0], args[1], 5*time.Second)
		if err != nil {
			return "", err
		}
		c.Close()
		return "connected", nil
	case "udp": // udp addr: send and wait for any answer
		c, err := net.Dial("udp", args[0])
		if err != nil {
			return "", err
		}
		defer c.Close()
		if _, err := c.Write([]byte("x")); err != nil {
			return "", err
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 16))
		return "answered", err
	case "dns": // dns server name: one A query over UDP, bypassing /etc/hosts
		return dnsQuery(args[0], args[1])
	case "socket": // socket family: create a stream socket of that family
		fam, _ := strconv.Atoi(args[0])
		fd, err := syscall.Socket(fam, syscall.SOCK_STREAM, 0)
		if err != nil {
			return "", err
		}
		syscall.Close(fd)
		return "created", nil
	case "clone": // clone flags (hex): fork a child in new namespaces
		flags, _ := strconv.ParseUint(args[0], 16, 64)
		pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(flags)|uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
		if errno != 0 {
			return "", errno
		}
		if pid == 0 {
			syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
		}
		var ws syscall.WaitStatus
		syscall.Wait4(int(pid), &ws, 0, nil)
		return "cloned", nil
	case "tiocsti": // tiocsti: push a byte into the terminal on stdin
		c := byte('x')
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, 0, syscall.TIOCSTI, uintptr(unsafe.Pointer(&c))); errno != 0 {
			return "", errno
		}
		return "injected", nil
	case "fds": // fds: list open descriptors above stderr
		ents, _ := os.ReadDir("/proc/self/fd")
		var fds []string
		for _, e := range ents {
			if n, _ := strconv.Atoi(e.Name()); n > 2 {
				fds = append(fds, e.Name())
			}
		}
		return "fds=" + strings.Join(fds, ","), nil
	case "ptrace": // ptrace pid
		pid, _ := strconv.Atoi(args[0])
		if err := syscall.PtraceAttach(pid); err != nil {
			return "", err
		}
		return "attached", nil
	case "grep": // grep rev1,rev2 dir...: look for the needles in every readable file
		// Needles come reversed so the command lines (which the walk
		// reads too) do not contain them.
		var needles []string
		for _, n := range strings.Split(args[0], ",") {
			r := []rune(n)
			for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
				r[i], r[j] = r[j], r[i]
			}
			needles = append(needles, string(r))
		}
		var hits []string
		for _, root := range args[1:] {
			filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
				if err != nil {
					return nil
				}
				if fi.IsDir() && (p == "/proc/sys" || p == "/sys") {
					return filepath.SkipDir
				}
				if strings.HasPrefix(p, "/proc/") && !fi.IsDir() && fi.Name() != "environ" && fi.Name() != "cmdline" {
					return nil
				}
				if !fi.Mode().IsRegular() || fi.Size() > 64<<20 {
					return nil
				}
				b, err := os.ReadFile(p)
				for _, n := range needles {
					if err == nil && strings.Contains(string(b), n) {
						hits = append(hits, p)
					}
				}
				return nil
			})
		}
		if len(hits) > 0 {
			return "", fmt.Errorf("found in %s", strings.Join(hits, ","))
		}
		return "absent", nil
	}
	return "", fmt.Errorf("unknown probe %q", cmd)
}

func dnsQuery(server, name string) (string, error) {
	q := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: 4242, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name + "."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}},
	}
	b, err := q.Pack()
	if err != nil {
		return "", err
	}
	c, err := net.Dial("udp", server)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if _, err := c.Write(b); err != nil {
		return "", err
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	var m dnsmessage.Message
	if err := m.Unpack(buf[:n]); err != nil {
		return "", err
	}
	if m.RCode != dnsmessage.RCodeSuccess {
		return "", fmt.Errorf("rcode %v", m.RCode)
	}
	var addrs []string
	for _, a := range m.Answers {
		if r, ok := a.Body.(*dnsmessage.AResource); ok {
			addrs = append(addrs, net.IP(r.A[:]).String())
		}
	}
	if len(addrs) == 0 {
		return "", fmt.Errorf("no answer")
	}
	return strings.Join(addrs, ","), nil
}
