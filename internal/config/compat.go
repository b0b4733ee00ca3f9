package config

import (
	"fmt"
	"log/slog"

	"github.com/spf13/pflag"
)

// The original's flags the native runtime accepts for compatibility only:
// one table, with why each has no effect (or, for "refuse", why using it
// is an error). Flags with a real meaning live in their own files
// (security.go, hostaccess.go, guards.go, extras.go, configfile.go).
//
// registerCompat runs last in Register and skips any name another part of
// awf registered, so a flag that gains a real implementation elsewhere
// simply leaves this table's effect behind (remove its row then).

type compatClass int

const (
	compatDocker  compatClass = iota + 1 // Docker images, daemon, topology
	compatMicroVM                        // sbx / gVisor / Cloud Hypervisor
	compatNotYet                         // a real feature awf does not have yet; ignoring it only loses that feature
	compatRefuse                         // ignoring it would give the agent more than asked (or send a key elsewhere): error when used
)

type compatKind int

const (
	compatBool compatKind = iota + 1
	compatString
	compatArray // repeatable
)

type compatFlag struct {
	name, short string
	kind        compatKind
	def         string
	class       compatClass
	why         string
	usage       string // the original's help, shortened
}

const (
	whyTopology = "the native runtime isolates the command in its own network namespace, always"
	whyCH       = "Cloud Hypervisor microVM preview"
)

// compatTable is every compatibility-only flag. Rows marked "gh-aw" are
// also written by gh-aw's compiler (corpus counts in internal/configfile/README.md).
var compatTable = []compatFlag{
	// Image management (Docker).
	{name: "build-local", short: "b", kind: compatBool, def: "false", class: compatDocker, usage: "Build containers locally instead of using GHCR images"},
	{name: "agent-image", kind: compatString, def: "default", class: compatDocker, usage: "Agent container image"},
	{name: "image-registry", kind: compatString, def: "ghcr.io/github/gh-aw-firewall", class: compatDocker, usage: "Container image registry"},
	{name: "image-tag", kind: compatString, def: "latest", class: compatDocker, usage: "Container image tag (and digests)"},
	{name: "skip-pull", kind: compatBool, def: "false", class: compatDocker, usage: "Use local images without pulling"},
	{name: "docker-host", kind: compatString, class: compatDocker, usage: "Docker socket for AWF's own containers"},
	{name: "docker-host-path-prefix", kind: compatString, class: compatDocker, usage: "Prefix bind-mount source paths for a split runner/daemon filesystem"},
	{name: "enable-dind", kind: compatBool, def: "false", class: compatDocker, why: "the sandbox never exposes a Docker socket", usage: "Enable Docker-in-Docker by exposing the host Docker socket"},
	{name: "network-isolation", kind: compatBool, def: "true", class: compatDocker, why: whyTopology, usage: "Enforce egress via Docker network topology"},
	{name: "no-network-isolation", kind: compatBool, def: "false", class: compatDocker, why: whyTopology, usage: "Disable network-isolation mode (requires --legacy-security)"},
	{name: "topology-attach", kind: compatArray, class: compatDocker, why: "there is no Docker topology network to attach containers to", usage: "Attach a trusted container to the internal topology network (repeatable)"},
	// Runtimes (microVM and OCI).
	{name: "container-runtime", kind: compatString, class: compatMicroVM, why: "the native runtime is the only runtime (gvisor, sbx and cloud-hypervisor are Docker runtimes)", usage: "Container runtime for the agent container: gvisor, sbx, cloud-hypervisor"},
	{name: "cloud-hypervisor-preview", kind: compatBool, def: "false", class: compatMicroVM, usage: "Enable the " + whyCH},
	{name: "cloud-hypervisor-binary", kind: compatString, class: compatMicroVM, usage: whyCH + ": binary path"},
	{name: "cloud-hypervisor-kernel", kind: compatString, class: compatMicroVM, usage: whyCH + ": guest kernel"},
	{name: "cloud-hypervisor-rootfs", kind: compatString, class: compatMicroVM, usage: whyCH + ": guest root filesystem"},
	{name: "cloud-hypervisor-supervisor", kind: compatString, class: compatMicroVM, usage: whyCH + ": guest supervisor"},
	{name: "cloud-hypervisor-vcpus", kind: compatString, class: compatMicroVM, usage: whyCH + ": vCPU count"},
	{name: "cloud-hypervisor-memory-mib", kind: compatString, class: compatMicroVM, usage: whyCH + ": guest memory (MiB)"},
	{name: "cloud-hypervisor-api-timeout-ms", kind: compatString, class: compatMicroVM, usage: whyCH + ": API socket timeout"},
	{name: "cloud-hypervisor-binary-sha256", kind: compatString, class: compatMicroVM, usage: whyCH + ": binary digest"},
	{name: "cloud-hypervisor-virtiofsd-sha256", kind: compatString, class: compatMicroVM, usage: whyCH + ": virtiofsd digest"},
	{name: "cloud-hypervisor-kernel-sha256", kind: compatString, class: compatMicroVM, usage: whyCH + ": kernel digest"},
	{name: "cloud-hypervisor-rootfs-sha256", kind: compatString, class: compatMicroVM, usage: whyCH + ": rootfs digest"},
	{name: "cloud-hypervisor-supervisor-sha256", kind: compatString, class: compatMicroVM, usage: whyCH + ": supervisor digest"},
	// Written by gh-aw v0.28.31 lock files; newer than the mirrored original.
	{name: "cloud-hypervisor-artifact-manifest", kind: compatString, class: compatMicroVM, usage: whyCH + ": artifact manifest"},
	{name: "cloud-hypervisor-artifact-manifest-bundle", kind: compatString, class: compatMicroVM, usage: whyCH + ": artifact manifest bundle"},
	{name: "cloud-hypervisor-artifact-release-tag", kind: compatString, class: compatMicroVM, usage: whyCH + ": artifact release tag"},
	// Real features not yet in the native runtime; ignoring them loses the
	// feature, never isolation.
	{name: "upstream-proxy", kind: compatString, class: compatNotYet, why: "the egress proxy connects directly; chaining through a corporate proxy is not implemented", usage: "Upstream (corporate) proxy URL for the egress proxy to chain through"},
	{name: "anthropic-auto-cache", kind: compatBool, def: "false", class: compatNotYet, why: "the API proxy forwards Anthropic requests unchanged (no cache breakpoints injected)", usage: "Anthropic prompt-cache optimizations in the API proxy"},
	{name: "anthropic-cache-tail-ttl", kind: compatString, class: compatNotYet, why: "applies only with --anthropic-auto-cache", usage: "TTL (5m|1h) of the rolling-tail cache breakpoint"},
	{name: "reflect", kind: compatBool, def: "false", class: compatNotYet, why: "query the running API proxy's /reflect endpoint instead (AWF_REFLECT_ENABLED=1 writes awf-reflect.json)", usage: "Start AWF, query the API proxy /reflect endpoint and print its JSON"},
	// Refused: dropping these would widen what the agent may do, or send a
	// key to a host the user did not choose.
}

// compatFlags are the registered rows (those no other file registered).
type compatFlags struct {
	rows []compatFlag
}

// registerCompat adds the table's flags that nobody else registered.
func (c *compatFlags) register(fs *pflag.FlagSet) {
	for _, r := range compatTable {
		if fs.Lookup(r.name) != nil {
			continue
		}
		if r.short != "" && fs.ShorthandLookup(r.short) != nil {
			r.short = ""
		}
		usage := r.usage + " (" + compatHelp(r) + ")"
		switch r.kind {
		case compatBool:
			fs.BoolP(r.name, r.short, r.def == "true", usage)
		case compatString:
			fs.StringP(r.name, r.short, r.def, usage)
		case compatArray:
			fs.StringArrayP(r.name, r.short, nil, usage)
		}
		c.rows = append(c.rows, r)
	}
}

func compatHelp(r compatFlag) string {
	switch r.class {
	case compatDocker:
		return "Docker runtime only; ignored by the native runtime"
	case compatMicroVM:
		return "microVM runtime only; ignored by the native runtime"
	case compatNotYet:
		return "not yet supported natively; ignored"
	}
	return "not supported natively; an error when used"
}

// asks reports whether a given flag asks for something (a refused flag set
// to false or "" asks for nothing and passes).
func asks(fl *pflag.Flag) bool {
	v := fl.Value.String()
	return v != "" && v != "false" && v != "[]"
}

// check returns one notice per compatibility flag given (on the command
// line or through --config; fromConfig names the document key), or an
// error for a refused one. It runs after the security mode has reset the
// flags strict mode ignores, so those get only that mode's warning.
func (c *compatFlags) check(fs *pflag.FlagSet, fromConfig map[string]string) ([]Warning, error) {
	var warns []Warning
	for _, r := range c.rows {
		fl := fs.Lookup(r.name)
		if fl == nil || !fl.Changed || (r.kind == compatBool && fl.Value.String() == fl.DefValue) {
			continue // not given, or given as the default (--network-isolation, --skip-pull=false)
		}
		subject := "--" + r.name
		if key, ok := fromConfig[r.name]; ok {
			subject = fmt.Sprintf("config key %s (--%s)", key, r.name)
		}
		switch r.class {
		case compatRefuse:
			if asks(fl) {
				return nil, errorf("%s is not supported by the native runtime: %s", subject, r.why)
			}
		case compatDocker, compatMicroVM:
			kind := "a Docker-runtime"
			if r.class == compatMicroVM {
				kind = "a microVM-runtime"
			}
			msg := fmt.Sprintf("%s is %s flag and is ignored by the native runtime", subject, kind)
			if r.why != "" {
				msg += " (" + r.why + ")"
			}
			warns = append(warns, Warning{Level: slog.LevelWarn, Msg: msg})
		case compatNotYet:
			warns = append(warns, Warning{Level: slog.LevelWarn, Msg: fmt.Sprintf("%s is not yet supported by the native runtime and is ignored: %s", subject, r.why)})
		}
	}
	return warns, nil
}

// CompatFlagNames lists the compatibility-only flags by class, for docs
// and tests.
func CompatFlagNames() map[string][]string {
	out := map[string][]string{}
	for _, r := range compatTable {
		k := map[compatClass]string{compatDocker: "docker", compatMicroVM: "microvm", compatNotYet: "not-yet", compatRefuse: "refused"}[r.class]
		out[k] = append(out[k], r.name)
	}
	return out
}
