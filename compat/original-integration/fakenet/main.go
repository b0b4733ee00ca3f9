// Command fakenet runs a command inside a private network with a fake
// internet, for running the original's integration suite against awf.
//
//	fakenet [-bind SRC:DST]... [-private-tmp] [-dir D] -- command args...
//
// As root it re-executes itself in fresh network and mount namespaces.
// There, loopback carries the fake internet's addresses: a DNS server that
// answers every name (A and AAAA) with the fake server's address, also
// listening on the public resolvers' addresses tests name (8.8.8.8, ...),
// and a web server that answers any Host on port 80 and any SNI on 443
// with a certificate minted by a fresh test CA. The CA is trusted inside
// the mount namespace only: a bundle (system roots plus the test CA) is
// bind-mounted over /etc/ssl/certs/ca-certificates.crt, and
// SSL_CERT_FILE/NODE_EXTRA_CA_CERTS point at it. /etc/resolv.conf and
// /etc/hosts are private copies. The namespace has no link but lo and no
// route off it, so nothing can leave.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const envInside = "AWF_FAKENET_INSIDE"

type bindList []string

func (b *bindList) String() string     { return strings.Join(*b, ",") }
func (b *bindList) Set(v string) error { *b = append(*b, v); return nil }

func main() {
	var binds bindList
	flag.Var(&binds, "bind", "SRC:DST bind mount inside the namespace (repeatable; after -private-tmp)")
	privateTmp := flag.Bool("private-tmp", false, "mount a private tmpfs on /tmp (the original's cleanup removes /tmp/awf-*)")
	dir := flag.String("dir", "", "directory for the CA bundle and private /etc files (default: a temp dir outside /tmp)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: fakenet [-bind SRC:DST]... [-private-tmp] -- command args...")
		os.Exit(2)
	}
	if os.Getenv(envInside) != "1" {
		os.Exit(reexec())
	}
	env, err := setUp(*dir, *privateTmp, binds)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakenet:", err)
		os.Exit(2)
	}
	os.Exit(runChild(flag.Args(), env))
}

// reexec runs this program again in new network and mount namespaces.
func reexec() int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "fakenet: needs root (network namespaces, bind mounts)")
		return 2
	}
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), envInside+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS,
		Pdeathsig:  syscall.SIGKILL,
	}
	return wait(cmd)
}

func setUp(dir string, privateTmp bool, binds []string) ([]string, error) {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return nil, fmt.Errorf("make mounts private: %w", err)
	}
	if err := run("ip", "link", "set", "lo", "up"); err != nil {
		return nil, err
	}
	for _, a := range LoopbackAddrs() {
		args := []string{"addr", "add", a, "dev", "lo"}
		if strings.Contains(a, ":") {
			// Without nodad an IPv6 address is tentative for a moment and
			// the servers' bind fails.
			args = append(args, "nodad")
		}
		if err := run("ip", args...); err != nil {
			return nil, err
		}
	}
	if dir == "" {
		d, err := os.MkdirTemp("/var/tmp", "awf-fakenet-")
		if err != nil {
			return nil, err
		}
		dir = d
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if abs, _ := filepath.Abs(dir); privateTmp && (abs == "/tmp" || strings.HasPrefix(abs, "/tmp/")) {
		return nil, fmt.Errorf("-dir %s is under /tmp, which -private-tmp hides", dir)
	}
	ca, err := newCA()
	if err != nil {
		return nil, err
	}
	sys, _ := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	caFile := filepath.Join(dir, "fake-internet-ca.pem")
	bundle := filepath.Join(dir, "ca-certificates.crt")
	resolv := filepath.Join(dir, "resolv.conf")
	hosts := filepath.Join(dir, "hosts")
	host, _ := os.Hostname()
	files := map[string][]byte{
		caFile: ca.PEM(),
		bundle: append(append(sys, '\n'), ca.PEM()...),
		resolv: []byte(ResolvConf()),
		hosts:  []byte(HostsFile(host)),
	}
	for p, b := range files {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, err
		}
	}
	if err := startDNS(); err != nil {
		return nil, err
	}
	if err := startWeb(ca); err != nil {
		return nil, err
	}
	mounts := [][2]string{{bundle, "/etc/ssl/certs/ca-certificates.crt"}, {resolv, "/etc/resolv.conf"}, {hosts, "/etc/hosts"}}
	for _, m := range mounts {
		if err := bindMount(m[0], m[1]); err != nil {
			return nil, err
		}
	}
	if privateTmp {
		if err := unix.Mount("tmpfs", "/tmp", "tmpfs", 0, "mode=1777,size=4g"); err != nil {
			return nil, fmt.Errorf("private /tmp: %w", err)
		}
	}
	for _, b := range binds {
		src, dst, ok := strings.Cut(b, ":")
		if !ok {
			return nil, fmt.Errorf("-bind %q: want SRC:DST", b)
		}
		if err := bindMount(src, dst); err != nil {
			return nil, err
		}
	}
	env := os.Environ()
	for _, v := range []string{"SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE"} {
		env = append(env, v+"="+bundle)
	}
	env = append(env, "AWF_FAKENET_CA="+caFile)
	return env, nil
}

// bindMount mounts src over dst, creating dst as a file or directory
// like src when it is missing.
func bindMount(src, dst string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dst); os.IsNotExist(err) {
		if st.IsDir() {
			err = os.MkdirAll(dst, 0o755)
		} else {
			os.MkdirAll(filepath.Dir(dst), 0o755)
			err = os.WriteFile(dst, nil, 0o644)
		}
		if err != nil {
			return err
		}
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s over %s: %w", src, dst, err)
	}
	return nil
}

func runChild(args, env []string) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return wait(cmd)
}

// wait runs cmd, forwarding SIGINT/SIGTERM, and returns its exit code.
func wait(cmd *exec.Cmd) int {
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "fakenet:", err)
		return 2
	}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		for s := range sig {
			cmd.Process.Signal(s)
			// A child that ignores the signal is killed after a grace period.
			time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
		}
	}()
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		return 2
	}
	return 0
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return nil
}
