package vmtest

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/testnet"
)

// kernelDir holds Debian's kernel package unpacked (boot/vmlinuz-*,
// lib/modules/*): fetch-kernel.sh, which .ci/run calls, puts it there.
func kernelDir() string {
	if d := os.Getenv("AWF_VM_KERNEL"); d != "" {
		return d
	}
	return "/var/cache/awf-vmtest/kernel"
}

// Modules awf needs that Debian builds as modules: nftables with NAT,
// conntrack and reject (the sandbox's ruleset), overlayfs (the tool dirs,
// /usr/local/bin). Their dependencies are resolved from .modinfo.
var modules = []string{"nf_tables", "nft_ct", "nft_nat", "nft_chain_nat", "nft_reject_inet", "nft_redir", "overlay"}

// stage1 moves the initramfs into a tmpfs (pivot_root refuses the
// initramfs root, and awf's sandbox pivots); stage2 is the machine: cgroup2
// alone at /sys/fs/cgroup (unified, no v1 hierarchy at all), then awf.
const initScript = `#!/bin/busybox sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
if [ ! -e /.stage2 ]; then
	/bin/busybox --install -s /bin
	mkdir /newroot && mount -t tmpfs -o size=900m,mode=0755 root /newroot
	for d in bin lib lib64 usr etc modules init awf run.sh ctr.sh ctr-outer.sh; do [ -e /$d ] && cp -a /$d /newroot/; done
	touch /newroot/.stage2
	exec switch_root /newroot /init
fi
mkdir -p /proc /sys /dev /tmp /run /root /home/runner /var/tmp
mount -t proc proc /proc && mount -t sysfs sys /sys && mount -t devtmpfs dev /dev
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /dev/shm /dev/pts && mount -t tmpfs -o mode=1777 shm /dev/shm && mount -t devpts devpts /dev/pts
chmod 1777 /tmp
for m in $(cat /modules/order); do insmod /modules/$m || echo "=== insmod $m failed"; done
ip link set lo up
echo "=== booted $(cut -d' ' -f1 /proc/uptime) s; /sys/fs/cgroup: $(grep ' /sys/fs/cgroup ' /proc/mounts | cut -d' ' -f3); v1 hierarchies: $(grep -c ' cgroup ' /proc/mounts); controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
echo "=== selftest"
/awf selftest; echo "=== selftest exit $? at $(cut -d' ' -f1 /proc/uptime) s"
echo "=== run"
/awf --log-level debug --memory-limit 64m --pids-limit 40 -- "$(cat /run.sh)" >/tmp/run.out 2>&1; rc=$?; grep -v '^\[DEBUG\] config' /tmp/run.out; echo "=== run exit $rc at $(cut -d' ' -f1 /proc/uptime) s"
echo "=== leftover cgroups: $(ls -d /sys/fs/cgroup/awf-* 2>/dev/null | wc -l)"
echo "=== container"
mkdir /sys/fs/cgroup/ctr
sh -c 'echo $$ > /sys/fs/cgroup/ctr/cgroup.procs; exec /usr/bin/unshare --cgroup --mount sh /ctr-outer.sh'
echo "=== container leftovers: $(ls -d /sys/fs/cgroup/ctr/awf-* 2>/dev/null | wc -l); ctr: $(cat /sys/fs/cgroup/ctr/cgroup.subtree_control); $(ls -d /sys/fs/cgroup/ctr/init)"
echo "=== done"
poweroff -f
`

// runScript is the sandboxed command (bash): where it is, its limits as
// the kernel shows them, then both limits enforced.
const runScript = `cg=/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)
echo "shim: $(/usr/local/bin/mytool) helper: $(/usr/local/bin/get-claude-key.sh 2>/dev/null)"
echo "proc-cgroup: $(cat /proc/self/cgroup)"
echo "memory.max: $(cat $cg/memory.max)"
echo "pids.max: $(cat $cg/pids.max)"
echo "memory.swap.max: $(cat $cg/memory.swap.max)"
( printf -v x '%*s' 100000000 ''; echo "allocated ${#x}" ); echo "alloc-exit: $?"
echo "memory.events: $(grep oom_kill $cg/memory.events)"
sh -c 'i=0; while [ $i -lt 60 ]; do sleep 5 & i=$((i+1)); done' 2>/dev/null
read -r n < $cg/pids.current; read -r e < $cg/pids.events
echo "pids.current: $n pids.events: $e"
`

// ctrOuter is a container's view (a shell in the cgroup /ctr, with its own
// cgroup and mount namespaces and cgroup2 mounted read-write, as
// cgroupns=private gives): /sys/fs/cgroup is /ctr, and it holds processes.
const ctrOuter = `umount -l /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo "ctr: $(cat /proc/self/cgroup), $(wc -l < /sys/fs/cgroup/cgroup.procs) processes in its root"
/awf --memory-limit 64m --pids-limit 30 -- "$(cat /ctr.sh)"; echo "=== container run exit $?"
echo "ctr: the shell is now in $(cat /proc/self/cgroup)"
`

// ctrScript is the sandboxed command there.
const ctrScript = `cg=/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)
echo "ctr command: $(cat /proc/self/cgroup) memory.max: $(cat $cg/memory.max) pids.max: $(cat $cg/pids.max)"`

// TestCgroupV2InVM boots Debian's kernel in QEMU with a unified cgroup v2
// hierarchy and runs awf there: selftest passes with its "cgroups v2" line,
// and a run with --memory-limit 64m --pids-limit 40 shows the command in
// /awf-<id> with memory.max 67108864 and pids.max 40, an allocation of
// 200 MB OOM-killed (memory.events oom_kill 1), forks past 40 refused
// (pids.events max > 0), and no cgroup left after the run. Then the same
// as a container with cgroupns=private and a writable cgroup2 would see it
// (a shell in /ctr with its own cgroup namespace: its cgroup root holds
// processes, so cgroup v2 refuses controllers there until awf moves them
// into the leaf "init"): --memory-limit applied there too. QEMU runs with
// TCG (emulation) unless AWF_VM_ACCEL=kvm: /dev/kvm exists on the
// Firecracker VMs this is developed on, but a nested guest never runs there.
func TestCgroupV2InVM(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (builds awf's sandbox in the guest only, but reads the kernel cache)")
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 missing (apt-get install qemu-system-x86; .ci/run does)")
	}
	kernels, _ := filepath.Glob(filepath.Join(kernelDir(), "boot", "vmlinuz-*"))
	mods, _ := filepath.Glob(filepath.Join(kernelDir(), "lib", "modules", "*"))
	if len(kernels) != 1 || len(mods) != 1 {
		t.Skipf("no unpacked kernel in %s (run internal/sandbox/vmtest/fetch-kernel.sh; .ci/run does)", kernelDir())
	}
	busybox := "/bin/busybox"
	if b, err := exec.Command("file", "-L", busybox).Output(); err == nil && !bytes.Contains(b, []byte("statically linked")) {
		t.Skip("/bin/busybox is not static (apt-get install busybox-static; .ci/run does)")
	} else if _, err := os.Stat(busybox); err != nil {
		t.Skip("/bin/busybox missing (apt-get install busybox-static; .ci/run does)")
	}

	t0 := time.Now()
	awf, err := testnet.BuildBinary(t.TempDir(), "awf", "github.com/awf-dev/awf/cmd/awf")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := ModuleIndex(mods[0])
	if err != nil {
		t.Fatal(err)
	}
	order, err := ModuleOrder(idx, modules)
	if err != nil {
		t.Fatal(err)
	}
	files := []File{{Path: "/bin", Dir: true, Mode: 0o755}, {Path: "/etc", Dir: true, Mode: 0o755}, {Path: "/modules", Dir: true, Mode: 0o755},
		{Path: "/usr", Dir: true, Mode: 0o755}, {Path: "/usr/local", Dir: true, Mode: 0o755}, {Path: "/usr/local/bin", Dir: true, Mode: 0o755},
		{Path: "/usr/local/bin/mytool", Data: []byte("#!/bin/sh\necho shim-ok\n"), Mode: 0o755}}
	add := func(dst, src string, mode uint32) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, File{Path: dst, Data: b, Mode: mode})
	}
	add("/bin/busybox", busybox, 0o755)
	add("/awf", awf, 0o755)
	add("/bin/bash", "/bin/bash", 0o755)
	files = append(files, File{Path: "/usr/bin", Dir: true, Mode: 0o755})
	add("/usr/bin/unshare", "/usr/bin/unshare", 0o755) // util-linux: busybox's has no --cgroup
	seen := map[string]bool{}
	for _, lib := range sharedLibs(t, "/bin/bash") {
		for d := filepath.Dir(lib); d != "/" && !seen[d]; d = filepath.Dir(d) {
			seen[d] = true
		}
	}
	// Parents before children: the directories first (shortest first).
	var dirs []File
	for d := range seen {
		dirs = append(dirs, File{Path: d, Dir: true, Mode: 0o755})
	}
	sortByDepth(dirs)
	files = append(files, dirs...)
	for _, lib := range sharedLibs(t, "/bin/bash") {
		add(lib, lib, 0o755)
	}
	var names []string
	for _, p := range order {
		add("/modules/"+filepath.Base(p), p, 0o644)
		names = append(names, filepath.Base(p))
	}
	files = append(files,
		File{Path: "/modules/order", Data: []byte(strings.Join(names, "\n") + "\n"), Mode: 0o644},
		File{Path: "/etc/passwd", Data: []byte("root:x:0:0:root:/root:/bin/sh\nrunner:x:1000:1000:runner:/home/runner:/bin/bash\n"), Mode: 0o644},
		File{Path: "/etc/group", Data: []byte("root:x:0:\nrunner:x:1000:\n"), Mode: 0o644},
		File{Path: "/etc/hosts", Data: []byte("127.0.0.1 localhost\n"), Mode: 0o644},
		File{Path: "/run.sh", Data: []byte(runScript), Mode: 0o644},
		File{Path: "/ctr.sh", Data: []byte(ctrScript), Mode: 0o644},
		File{Path: "/ctr-outer.sh", Data: []byte(ctrOuter), Mode: 0o644},
		File{Path: "/init", Data: []byte(initScript), Mode: 0o755},
	)
	initrd := filepath.Join(t.TempDir(), "initrd.cpio")
	var buf bytes.Buffer
	if err := WriteNewc(&buf, files); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(initrd, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("initramfs: %d MiB, %d modules (%s), built in %v", buf.Len()>>20, len(names), strings.Join(names, " "), time.Since(t0).Round(time.Millisecond))

	accel := "tcg"
	if os.Getenv("AWF_VM_ACCEL") == "kvm" {
		accel = "kvm"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	// No network device at all (-nodefaults): the guest sends nothing.
	cmd := exec.CommandContext(ctx, qemu, "-accel", accel, "-cpu", "max", "-smp", "2", "-m", "1536",
		"-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
		"-kernel", kernels[0], "-initrd", initrd,
		"-append", "console=ttyS0 quiet panic=-1 systemd.unified_cgroup_hierarchy=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t1 := time.Now()
	err = cmd.Run()
	elapsed := time.Since(t1)
	console := strings.ReplaceAll(out.String(), "\r", "")
	t.Logf("VM (%s) ran %v, exit %v; console:\n%s", accel, elapsed.Round(time.Millisecond), err, console)
	if ctx.Err() != nil {
		t.Fatalf("the VM did not power off within %v", 150*time.Second)
	}
	for _, want := range []string{
		"/sys/fs/cgroup: cgroup2; v1 hierarchies: 0; controllers: ",
		"✓ cgroups v2 (memory, pids)",
		"all checks passed",
		"=== selftest exit 0",
		"init cloned into its cgroup (CLONE_INTO_CGROUP)", // born there: no move on the start-up path
		"memory.max: 67108864",
		"pids.max: 40",
		"memory.swap.max: 0",
		"alloc-exit: 137",
		"memory.events: oom_kill 1",
		"=== leftover cgroups: 0",
		"memory.max: 67108864 pids.max: 30",
		"=== container run exit 0",
		"ctr: the shell is now in 0::/init",
		"=== container leftovers: 0; ctr: memory pids; ",
		"✓ overlayfs (tool dirs, /usr/local/bin helpers)",
		"shim: shim-ok helper: sk-ant-placeholder-key-for-credential-isolation",
		"=== done",
	} {
		if !strings.Contains(console, want) {
			t.Errorf("console lacks %q", want)
		}
	}
	for _, bad := range []string{"allocated 1", "insmod", "degraded"} {
		if strings.Contains(console, bad) {
			t.Errorf("console has %q", bad)
		}
	}
	if !regexp.MustCompile(`(?m)^ctr: 0::/, [1-9][0-9]* processes in its root$`).MatchString(console) {
		t.Errorf("the container-like stage did not start with processes in its cgroup root")
	}
	if !regexp.MustCompile(`(?m)^ctr command: 0::/awf-[0-9a-z-]+ memory.max`).MatchString(console) {
		t.Errorf("the container's command is not in a cgroup of awf's own")
	}
	if !regexp.MustCompile(`(?m)^proc-cgroup: 0::/awf-[0-9a-z-]+$`).MatchString(console) {
		t.Errorf("the command is not in a cgroup of awf's own")
	}
	if m := regexp.MustCompile(`pids\.events: max ([0-9]+)`).FindStringSubmatch(console); m == nil || m[1] == "0" {
		t.Errorf("no fork was refused at pids.max")
	}
	if m := regexp.MustCompile(`pids\.current: ([0-9]+)`).FindStringSubmatch(console); m == nil {
		t.Errorf("no pids.current")
	} else if n, _ := strconv.Atoi(m[1]); n > 40 {
		t.Errorf("pids.current %d over pids.max 40", n)
	}
	if !strings.Contains(console, "=== run exit 0") {
		t.Errorf("the run did not exit 0")
	}
}

// sharedLibs lists the libraries bin loads (ldd), the loader included.
func sharedLibs(t *testing.T, bin string) []string {
	t.Helper()
	b, err := exec.Command("ldd", bin).Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", bin, err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		for _, f := range strings.Fields(sc.Text()) {
			if strings.HasPrefix(f, "/") {
				out = append(out, f)
			}
		}
	}
	return out
}

func sortByDepth(fs []File) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && strings.Count(fs[j].Path, "/") < strings.Count(fs[j-1].Path, "/"); j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}
