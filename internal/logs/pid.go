package logs

import (
	"bufio"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PidInfo names the process that owns a socket.
type PidInfo struct {
	PID     int
	Comm    string
	Cmdline string
	Inode   string
}

// PidTracker maps a connection's client address to the process that opened
// it, from /proc: the socket is found in /proc/<pid>/net/tcp{,6} (read once
// per network namespace, since a sandboxed agent lives in its own), then its
// inode in some /proc/<pid>/fd. It only works while the connection is open.
type PidTracker struct {
	Proc string // procfs root, "/proc" by default
}

// Available reports whether procfs is there to read.
func (t PidTracker) Available() bool {
	_, err := os.Stat(filepath.Join(t.root(), "net", "tcp"))
	return err == nil
}

func (t PidTracker) root() string {
	if t.Proc == "" {
		return "/proc"
	}
	return t.Proc
}

// Lookup finds the process whose socket has local address clientIP:port.
// clientIP may be "" or "-" to match any address.
func (t PidTracker) Lookup(clientIP string, port int) (PidInfo, bool) {
	if port <= 0 || port > 65535 {
		return PidInfo{}, false
	}
	var want netip.Addr
	if a, err := netip.ParseAddr(strings.Trim(clientIP, "[]")); err == nil {
		want = a.Unmap()
	}
	pids := t.pids()
	seenNS := map[string]bool{}
	inode := ""
	for _, pid := range pids {
		ns, err := os.Readlink(filepath.Join(t.root(), pid, "ns", "net"))
		if err != nil || seenNS[ns] {
			continue
		}
		seenNS[ns] = true
		for _, f := range []string{"tcp", "tcp6"} {
			if inode = findSocket(filepath.Join(t.root(), pid, "net", f), want, port); inode != "" {
				break
			}
		}
		if inode != "" {
			break
		}
	}
	if inode == "" {
		return PidInfo{}, false
	}
	target := "socket:[" + inode + "]"
	for _, pid := range pids {
		dir := filepath.Join(t.root(), pid, "fd")
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && l == target {
				n, _ := strconv.Atoi(pid)
				info := PidInfo{PID: n, Inode: inode}
				if b, err := os.ReadFile(filepath.Join(t.root(), pid, "comm")); err == nil {
					info.Comm = strings.TrimSpace(string(b))
				}
				if b, err := os.ReadFile(filepath.Join(t.root(), pid, "cmdline")); err == nil {
					info.Cmdline = strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
				}
				return info, true
			}
		}
	}
	return PidInfo{}, false
}

func (t PidTracker) pids() []string {
	ents, err := os.ReadDir(t.root())
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if allDigits(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

// findSocket scans a /proc/net/tcp{,6} table for a socket whose local
// address is want:port (any address when want is invalid); returns its inode.
func findSocket(path string, want netip.Addr, port int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			continue
		}
		addr, p, ok := parseProcAddr(fields[1])
		if !ok || p != port || fields[9] == "0" {
			continue
		}
		if want.IsValid() && addr.Unmap() != want {
			continue
		}
		return fields[9]
	}
	return ""
}

// parseProcAddr reads "0100007F:1F90" (IPv4) or the 32-hex-digit IPv6 form:
// the kernel prints each 32-bit word in host (little-endian) order.
func parseProcAddr(s string) (netip.Addr, int, bool) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.Addr{}, 0, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.Addr{}, 0, false
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.Addr{}, 0, false
	}
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	a, _ := netip.AddrFromSlice(raw)
	return a, int(port), true
}

// Enrich adds the pid fields to e when its connection is still open.
func (t PidTracker) Enrich(e *Entry) {
	port, err := strconv.Atoi(e.ClientPort)
	if err != nil {
		return
	}
	if info, ok := t.Lookup(e.ClientIP, port); ok {
		pid := info.PID
		e.PID, e.Comm, e.Cmdline, e.Inode = &pid, info.Comm, info.Cmdline, info.Inode
	}
}
