// Package selftest checks that this host can run the native sandbox and
// then runs one complete sandboxed round trip offline: a fake provider with
// a CA made in memory, in a private network namespace, with the real
// egress proxy, api-proxy and sandbox.
package selftest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/awf-dev/awf/internal/sandbox"
	"github.com/awf-dev/awf/internal/sandbox/native"
)

// Check is one line of the checklist.
type Check struct {
	Name string
	Err  error
	Fix  string
	// Degraded: the check passes, but awf runs with less than on a
	// plain host here (typically inside a container), and says what.
	Degraded string
}

// Print writes the checklist and reports whether every check passed.
func Print(w io.Writer, cs []Check) bool {
	ok := true
	for _, c := range cs {
		if c.Err == nil && c.Degraded != "" {
			fmt.Fprintf(w, "  ! %s: degraded: %s\n", c.Name, c.Degraded)
			continue
		}
		if c.Err == nil {
			fmt.Fprintf(w, "  ✓ %s\n", c.Name)
			continue
		}
		ok = false
		fmt.Fprintf(w, "  ✗ %s: %v\n", c.Name, c.Err)
		if c.Fix != "" {
			fmt.Fprintf(w, "      fix: %s\n", c.Fix)
		}
	}
	return ok
}

// HostChecks are the prerequisites; they do not change the host.
func HostChecks() []Check {
	var cs []Check
	add := func(name string, err error, fix string) { cs = append(cs, Check{Name: name, Err: err, Fix: fix}) }

	var err error
	if os.Geteuid() != 0 {
		err = fmt.Errorf("euid is %d", os.Geteuid())
	}
	add("running as root", err, "run it with sudo: sudo awf selftest")

	var missing []string
	for _, ns := range []string{"net", "pid", "mnt", "ipc", "uts"} {
		if _, err := os.Stat("/proc/self/ns/" + ns); err != nil {
			missing = append(missing, ns)
		}
	}
	err = nil
	if len(missing) > 0 {
		err = fmt.Errorf("kernel lacks namespaces: %s", strings.Join(missing, ", "))
	}
	add("namespaces (net, pid, mnt, ipc, uts)", err, "use a kernel built with CONFIG_NAMESPACES and the per-type options")

	cs = append(cs, seccompCheck(native.SeccompMode()))
	cs = append(cs, cgroupDegradation(cgroupCheck()))
	if native.ProcSysReadOnly() {
		cs = append(cs, Check{Name: "IPv6 off in the sandbox", Degraded: "/proc/sys is read-only (a container): IPv6 stays configured in the sandbox's network namespace; the firewall rejects every IPv6 packet instead"})
	}

	cs = append(cs, overlayCheck(native.OverlayProbe(), os.Getenv(native.ForceNoOverlayEnv) == "1"))
	return cs
}

// overlayCheck: overlay mounts refused (a container, a lower dir two
// overlays deep) are a degradation, not a failure: runs take the fallback
// (sandbox/overlayless.go), which keeps the tool dirs' writes in the run
// and /usr/local/bin read-only with awf's helpers on top.
func overlayCheck(probe error, forced bool) Check {
	c := Check{Name: "overlayfs (tool dirs, /usr/local/bin helpers)"}
	why := ""
	switch {
	case forced:
		why = native.ForceNoOverlayEnv + "=1"
	case probe != nil:
		why = probe.Error()
	default:
		return c
	}
	mb, files := sandbox.CopyLimits(0)
	c.Degraded = fmt.Sprintf("overlay mounts refused here (%s): /usr/local/bin is assembled from read-only bind mounts, and each tool dir is copied into the run (up to %d MiB and %d files at the default memory limit; larger entries are left out and named); writes still stay in the run", why, mb>>20, files)
	return c
}

// seccompCheck: a parent filter (Docker's default profile, mode 2) is not a
// failure: seccomp filters stack and the kernel applies the strictest
// verdict, so awf installs its own on top.
func seccompCheck(mode int, err error) Check {
	c := Check{Name: "seccomp filters", Fix: "use a kernel with CONFIG_SECCOMP_FILTER"}
	switch {
	case err != nil:
		c.Err = fmt.Errorf("seccomp unavailable: %v", err)
	case mode == 1:
		c.Err = fmt.Errorf("awf runs under strict seccomp (mode 1): no further syscalls are possible")
	case mode == 2:
		c.Degraded = "awf already runs under a seccomp filter (mode 2, e.g. the container's profile): awf's filter is stacked on top of it; calls the parent denies stay denied; if it denies pivot_root (Docker's default profile does), the sandbox root is entered by move-mount and chroot instead"
	}
	return c
}

// cgroupDegradation turns unwritable cgroups (a container) into a
// degradation: runs go without memory/pids limits unless --memory-limit is
// given explicitly, which is then an error (native/degrade.go).
func cgroupDegradation(name string, err error, fix string) Check {
	if err != nil && errors.Is(native.CgroupsWritable(), native.ErrNoCgroups) {
		return Check{Name: name, Degraded: fmt.Sprintf("%v: commands run WITHOUT memory and pids limits (an explicit --memory-limit is refused)", native.CgroupsWritable())}
	}
	return Check{Name: name, Err: err, Fix: fix}
}

func cgroupCheck() (string, error, string) {
	root := native.CgroupRoot
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		b, _ := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
		for _, c := range []string{"memory", "pids"} {
			if !strings.Contains(" "+string(b)+" ", " "+c) {
				return "cgroups v2", fmt.Errorf("controller %s not available", c), "enable the memory and pids controllers (cgroup_enable=memory on the kernel command line)"
			}
		}
		return "cgroups v2 (memory, pids)", nil, ""
	}
	for _, h := range []string{"memory", "pids"} {
		if err := unix.Access(filepath.Join(root, h), unix.W_OK); err != nil {
			return "cgroups v1 (memory, pids)", fmt.Errorf("%s hierarchy: %v", h, err), "mount the memory and pids cgroup hierarchies under " + root
		}
	}
	return "cgroups v1 (memory, pids)", nil, ""
}

// FirewallCheck installs the sandbox's ruleset in a throwaway network
// namespace.
func FirewallCheck() Check {
	c := Check{Name: "nftables ruleset in a network namespace", Fix: "load the nf_tables, nft_nat, nft_reject_inet and nft_ct modules (or use a kernel with them built in)"}
	ns, err := native.NewNetns()
	if err != nil {
		c.Err = err
		return c
	}
	defer ns.Close()
	n := sandbox.Network{EgressIP: sandbox.DefaultEgressIP, APIProxyIP: sandbox.DefaultAPIProxyIP,
		ExplicitPort: sandbox.ExplicitPort, TransparentHTTP: sandbox.TransparentHTTPPort,
		TransparentTLS: sandbox.TransparentTLSPort, DNSPort: sandbox.DNSPort,
		APIPortMin: sandbox.APIPortMin, APIPortMax: sandbox.APIPortMax, APIProxy: true, DisableIPv6: true,
		ServiceAddrsOnLoop: []string{"172.30.0.10/32", "172.30.0.30/32"}}
	n.Rules = sandbox.BuildRuleset(n)
	c.Err = ns.Setup(n)
	return c
}

// Run prints the checklist: host checks, then the round trip in a child
// re-executed (as `selfArgs...`) in fresh network and mount namespaces so
// nothing it does can reach or change the host's network. It returns the
// process exit code.
func Run(w io.Writer, verbose bool, selfArgs []string) int {
	fmt.Fprintln(w, "awf selftest: host")
	cs := HostChecks()
	ok := Print(w, cs)
	if !ok {
		fmt.Fprintln(w, "awf selftest: FAILED (fix the host first; the round trip needs all of the above)")
		return 1
	}
	fc := FirewallCheck()
	if !Print(w, []Check{fc}) {
		fmt.Fprintln(w, "awf selftest: FAILED")
		return 1
	}
	fmt.Fprintln(w, "awf selftest: offline round trip (fake provider, private network)")
	cmd := exec.Command("/proc/self/exe", selfArgs...)
	cmd.Stdout, cmd.Stderr = w, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNET | unix.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(w, "awf selftest: FAILED (%v)\n", err)
		return 1
	}
	fmt.Fprintln(w, "awf selftest: all checks passed. Next: sudo awf --allow-domains <domains> -- <command>")
	return 0
}

// InsideMain runs the round trip and prints its part of the checklist;
// it returns the exit code for the child.
func InsideMain(w io.Writer, verbose bool) int {
	if Print(w, Inside(verbose)) {
		return 0
	}
	return 1
}
