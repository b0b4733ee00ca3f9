// Package sandbox turns a validated run configuration into a Plan: plain
// data (addresses, firewall rules, mounts, user, environment, limits) that a
// runtime applies. Everything here is pure so it can be tested without root
// and printed for audit (awf --dry-run).
package sandbox

import (
	"fmt"
	"net/netip"
	"path"
	"sort"
	"strings"
	"time"
)

// Network addresses and ports inside the agent's network namespace.
type Network struct {
	EgressIP           netip.Addr `json:"egressIP"`
	APIProxyIP         netip.Addr `json:"apiProxyIP"`
	ExplicitPort       uint16     `json:"explicitPort"`
	TransparentHTTP    uint16     `json:"transparentHTTPPort"`
	TransparentTLS     uint16     `json:"transparentTLSPort"`
	DNSPort            uint16     `json:"dnsPort"`
	APIPortMin         uint16     `json:"apiPortMin"`
	APIPortMax         uint16     `json:"apiPortMax"`
	APIProxy           bool       `json:"apiProxy"`
	Hostname           string     `json:"hostname"`
	DisableIPv6        bool       `json:"disableIPv6"`
	Rules              Ruleset    `json:"rules"`
	ExplicitProxyURL   string     `json:"explicitProxyURL"`
	ServiceAddrsOnLoop []string   `json:"serviceAddrsOnLoopback"`
	// Extra is what host access and the CLI proxy add.
	Extra NetExtra `json:"extra,omitzero"`
}

// User is the identity the command runs as.
type User struct {
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
	Groups []int  `json:"groups,omitempty"`
	Name   string `json:"name"`
	Home   string `json:"home"`
}

// Limits are the resource limits of the whole sandbox.
type Limits struct {
	MemoryBytes int64 `json:"memoryBytes"`
	Pids        int64 `json:"pids"`
	// Required: the user set a limit explicitly, so a host without
	// writable cgroups is an error rather than a run without limits.
	Required bool `json:"required,omitempty"`
}

// Plan is everything a runtime needs to run one command in the sandbox.
type Plan struct {
	ID       string            `json:"id"`
	StateDir string            `json:"stateDir"`
	Net      Network           `json:"network"`
	Mounts   []Mount           `json:"mounts"`
	User     User              `json:"user"`
	Env      map[string]string `json:"env"`
	Argv     []string          `json:"argv"`
	Workdir  string            `json:"workdir"`
	Limits   Limits            `json:"limits"`
	Seccomp  []string          `json:"seccompDeny"`
	Preload  string            `json:"ldPreload,omitempty"`
	TTY      bool              `json:"tty"`
	Timeout  time.Duration     `json:"timeout"`
	// HideScan: temp dirs the init scans for other runs' artifact dirs
	// once the run's lock is held, to hide those made after planning.
	HideScan []string `json:"hideScan,omitempty"`
	// Preflight asks the init to run the in-sandbox pre-flight check.
	Preflight bool `json:"preflight"`
	// NoOverlay, when set, says why overlayfs is unavailable here;
	// Mounts then hold the fallback (overlayless.go) instead of overlays.
	NoOverlay string `json:"noOverlay,omitempty"`
}

// Input is what Build needs; the caller resolves users, files and the env.
type Input struct {
	ID       string
	StateDir string // defaults to /run/awf/<ID>

	Command []string // argv, already shell-joined by the caller if needed
	User    User
	// HostHome is the invoking user's real home on the host: tool dirs are
	// bound from there into the fresh sandbox $HOME.
	HostHome string
	// ToolCache is the runner tool cache (RUNNER_TOOL_CACHE, or the
	// fallback ~/work/_tool), shown read-only at its own path.
	ToolCache string
	Workspace string // bound read-write at the same path
	Workdir   string // defaults to User.Home
	AWFDir    string // awf's work dir, hidden from the agent
	// Hide lists host directories the agent must not see (this run's
	// and earlier runs' logs and artifacts); each becomes a KindHide.
	Hide []string
	// HideScan lists the temp dirs where the init looks again for
	// artifact dirs that appeared since (Plan.HideScan).
	HideScan []string
	Extra    []string

	Env map[string]string

	EgressIP, APIProxyIP netip.Addr
	APIProxy             bool
	// NetExtra: more addresses, rules and hosts lines (host access, CLI proxy).
	NetExtra NetExtra

	HostsFile string // generated /etc/hosts
	ClaudeKey string // placeholder printed by get-claude-key.sh
	// ClaudeKeyScript replaces the built-in get-claude-key.sh text.
	ClaudeKeyScript string
	// AgentFiles maps sandbox paths to settings files awf places for the
	// agents' tools (Claude Code's apiKeyHelper, codex's base URL, the
	// Gemini CLI's defaults): under /.awf they are root's and read-only;
	// in the fresh home they belong to the user; in a tool dir bound from
	// the host they are bound over the user's file, never written to it.
	AgentFiles map[string][]byte
	PreloadLib []byte // one-shot-token library; empty: no LD_PRELOAD

	MemoryBytes int64
	Pids        int64
	TTY         bool
	Timeout     time.Duration
	Preflight   bool
	// NoOverlay, when set, says why overlay mounts are refused here
	// (native.OverlayProbe); the plan takes the fallback (overlayless.go).
	NoOverlay string
}

// Default addresses and ports; the original's IPs and ports.
var (
	DefaultEgressIP   = netip.MustParseAddr("172.30.0.10")
	DefaultAPIProxyIP = netip.MustParseAddr("172.30.0.30")
)

const (
	ExplicitPort        = 3128
	TransparentHTTPPort = 3129
	TransparentTLSPort  = 3130
	DNSPort             = 53
	APIPortMin          = 10000
	APIPortMax          = 10004
	DefaultPids         = 1000
	DefaultMemory       = 6 << 30

	// Paths of the files awf places in the sandbox.
	ClaudeKeyHelper = "/usr/local/bin/get-claude-key.sh"
	PreloadPath     = "/.awf/lib/one-shot-token.so"
)

// SeccompDeny is denied with EPERM. Beyond the brief's list: the kernel
// keyring, BPF and perf (kernel attack surface, can read other memory),
// userfaultfd (exploit helper), and mount/namespace/root changes, which an
// unprivileged process cannot use anyway but which would undo the layout if
// a capability ever leaked.
var SeccompDeny = []string{
	"ptrace", "process_vm_readv", "process_vm_writev",
	"kexec_load", "kexec_file_load",
	"init_module", "finit_module", "delete_module",
	"add_key", "request_key", "keyctl",
	"bpf", "perf_event_open", "userfaultfd",
	"mount", "umount2", "pivot_root", "chroot", "setns", "unshare",
	"open_tree", "move_mount", "fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr",
	"reboot", "swapon", "swapoff", "acct", "syslog",
	"open_by_handle_at", "name_to_handle_at", "lookup_dcookie",
	"iopl", "ioperm", "quotactl",
	// io_uring runs syscalls the filter never sees, and is a frequent
	// source of kernel bugs; libuv and others fall back to plain calls.
	"io_uring_setup", "io_uring_enter", "io_uring_register",
}

// Build computes the plan. It fails on inputs that would make an unsafe or
// unusable sandbox.
func Build(in Input) (*Plan, error) {
	if in.ID == "" || strings.ContainsAny(in.ID, "/. ") {
		return nil, fmt.Errorf("sandbox: invalid run id %q", in.ID)
	}
	if len(in.Command) == 0 {
		return nil, fmt.Errorf("sandbox: no command")
	}
	if in.User.UID == 0 {
		return nil, fmt.Errorf("sandbox: refusing to run the command as root")
	}
	if !path.IsAbs(in.User.Home) {
		return nil, fmt.Errorf("sandbox: home %q is not absolute", in.User.Home)
	}
	eg, ap := in.EgressIP, in.APIProxyIP
	if !eg.IsValid() {
		eg = DefaultEgressIP
	}
	if !ap.IsValid() {
		ap = DefaultAPIProxyIP
	}
	if !eg.Is4() || !ap.Is4() || eg == ap {
		return nil, fmt.Errorf("sandbox: egress %s and api-proxy %s must be distinct IPv4 addresses", eg, ap)
	}
	if eg.IsLoopback() || ap.IsLoopback() {
		return nil, fmt.Errorf("sandbox: service addresses must not be loopback")
	}
	state := in.StateDir
	if state == "" {
		state = path.Join("/run/awf", in.ID)
	}
	net := Network{
		EgressIP: eg, APIProxyIP: ap,
		ExplicitPort: ExplicitPort, TransparentHTTP: TransparentHTTPPort,
		TransparentTLS: TransparentTLSPort, DNSPort: DNSPort,
		APIPortMin: APIPortMin, APIPortMax: APIPortMax,
		APIProxy: in.APIProxy, Hostname: "awf-agent", DisableIPv6: true,
		ExplicitProxyURL: fmt.Sprintf("http://%s:%d", eg, ExplicitPort),
	}
	net.ServiceAddrsOnLoop = []string{eg.String() + "/32"}
	if in.APIProxy {
		net.ServiceAddrsOnLoop = append(net.ServiceAddrsOnLoop, ap.String()+"/32")
	}
	for _, a := range in.NetExtra.Loopback {
		if !a.Is4() || a.IsLoopback() || a == eg || a == ap {
			return nil, fmt.Errorf("sandbox: extra address %s must be a distinct non-loopback IPv4 address", a)
		}
		net.ServiceAddrsOnLoop = append(net.ServiceAddrsOnLoop, a.String()+"/32")
	}
	net.Extra = in.NetExtra
	net.Rules = BuildRuleset(net)

	mounts, err := buildMounts(in, eg)
	if err != nil {
		return nil, err
	}
	if in.NoOverlay != "" {
		mounts = WithoutOverlay(mounts, path.Clean(in.User.Home), in.MemoryBytes)
	}
	env := make(map[string]string, len(in.Env)+2)
	for k, v := range in.Env {
		env[k] = v
	}
	if _, ok := env["HOME"]; !ok {
		env["HOME"] = in.User.Home
	}
	if _, ok := env["PATH"]; !ok {
		env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	p := &Plan{
		ID: in.ID, StateDir: state, Net: net, Mounts: mounts, User: in.User, Env: env,
		Argv:    append([]string(nil), in.Command...),
		Workdir: in.Workdir,
		Limits:  Limits{MemoryBytes: in.MemoryBytes, Pids: in.Pids},
		Seccomp: append([]string(nil), SeccompDeny...),
		TTY:     in.TTY, Timeout: in.Timeout, Preflight: in.Preflight,
		HideScan:  append([]string(nil), in.HideScan...),
		NoOverlay: in.NoOverlay,
	}
	if p.Workdir == "" {
		p.Workdir = in.User.Home
	}
	if p.Limits.MemoryBytes == 0 {
		p.Limits.MemoryBytes = DefaultMemory
	}
	if p.Limits.Pids == 0 {
		p.Limits.Pids = DefaultPids
	}
	if len(in.PreloadLib) > 0 {
		p.Preload = PreloadPath
		env["LD_PRELOAD"] = PreloadPath
	}
	return p, nil
}

// EnvList returns the environment as sorted KEY=VALUE strings.
func (p *Plan) EnvList() []string {
	out := make([]string, 0, len(p.Env))
	for k, v := range p.Env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
