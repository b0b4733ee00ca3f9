package sandbox

import (
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"sort"
	"strings"
)

// Mount kinds. Targets are paths inside the sandbox; the runtime builds the
// sandbox root on a fresh tmpfs and applies the list in order.
const (
	KindBind  = "bind"  // Source (host path) -> Target
	KindTmpfs = "tmpfs" // fresh tmpfs at Target
	KindFile  = "file"  // create Target with Data (parent must be one of our tmpfs)
	KindMask  = "mask"  // /dev/null over Target, if it exists or Create (then parents are Owned)
	// KindOverlay: a read-only overlay of Lower (sandbox paths, top first)
	// at Target; or, with Source and Upper, a writable overlay of the host
	// directory Source whose changes go to Upper (a sandbox path on a
	// tmpfs) and vanish with the run.
	KindOverlay = "overlay"
	KindRemount = "remount" // make Target read-only
	KindProc    = "proc"    // fresh procfs of the sandbox's PID namespace
)

// Mount is one step of the filesystem layout.
type Mount struct {
	Kind     string   `json:"kind"`
	Source   string   `json:"source,omitempty"`
	Target   string   `json:"target"`
	ReadOnly bool     `json:"readOnly,omitempty"`
	Optional bool     `json:"optional,omitempty"` // skip when Source is missing
	Lower    []string `json:"lower,omitempty"`
	Upper    string   `json:"upper,omitempty"`
	Options  string   `json:"options,omitempty"` // tmpfs data, e.g. "size=64m,mode=1777"
	NoExec   bool     `json:"noexec,omitempty"`
	Data     []byte   `json:"data,omitempty"`
	Mode     uint32   `json:"mode,omitempty"`
	Owned    bool     `json:"owned,omitempty"` // chown to the sandbox user
	// Glob: Source is a pattern; each host path it matches is bound at
	// the same path inside (Target is then the pattern too).
	Glob bool `json:"glob,omitempty"`
	// Create makes a mask's Target (an empty file) when it is absent.
	Create bool `json:"create,omitempty"`
	// Inner binds take Source from inside the sandbox root (a generated
	// file) and apply only when Target's directory exists.
	Inner bool `json:"inner,omitempty"`
	// FromRoot binds take Source from inside the sandbox root and create
	// Target as usual (the overlay fallback, overlayless.go).
	FromRoot bool `json:"fromRoot,omitempty"`
	// KindCopy bounds and the paths (relative to Source) never copied.
	MaxBytes int64    `json:"maxBytes,omitempty"`
	MaxFiles int      `json:"maxFiles,omitempty"`
	Exclude  []string `json:"exclude,omitempty"`
	Shown    string   `json:"shown,omitempty"` // where a copy is shown (for messages)
}

// ToolUpperRoot holds the writable layers of the tool-dir overlays.
const ToolUpperRoot = "/.awf-rw"

// SystemDirs are bound read-only, as the original binds them into /host.
var SystemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt", "/sys", "/dev"}

// EtcEntries are the host /etc entries the sandbox sees (read-only), one
// row per entry with why it is there; "*" patterns are expanded at mount
// time. The original binds the first seven (and the RHEL CA stores); the
// rest are files shells, resolvers and common toolchains read (audited by
// TestToolchainsHelloWorld: compile and run in the sandbox). Left out on
// purpose: shadow, gshadow, sudoers, ssh, machine-id (secrets or host
// identity), npmrc (may hold registry tokens; npm works without it).
var EtcEntries = []string{
	"ssl", "ca-certificates", "alternatives", "ld.so.cache", "passwd", "group", "nsswitch.conf",
	"pki/ca-trust/extracted", "pki/tls/certs", // RHEL CA stores (original)
	"ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "bash.bashrc", "profile", "profile.d",
	"inputrc", "gitconfig", "host.conf", "gai.conf", "protocols", "services", "mime.types",
	"environment", "login.defs", "terminfo", "os-release", "locale.alias", "locale.conf",
	"mtab",      // -> /proc/self/mounts: df, Java's FileStore, psutil
	"java-*",    // Debian/Ubuntu OpenJDK: security/java.security, net.properties (javac and java fail without)
	"java",      // RHEL/Fedora java.conf
	"jvm",       // RHEL jvm dirs
	"pki/java",  // RHEL Java cacerts
	"maven",     // Debian mvn: m2.conf (the launcher needs it), settings.xml
	"dotnet",    // install_location: how the dotnet host finds its runtime
	"python3",   // Debian python's debian_config
	"python3.*", // Debian python's sitecustomize.py
	"pip.conf",  // pip's system config (index mirror)
	"perl",      // Debian perl's @INC has /etc/perl (Net::Config's libnet.cfg)
	"gemrc",     // RubyGems' system config
	"gnutls",    // git-remote-https (libcurl-gnutls) system priorities
	"fonts",     // fontconfig: Java AWT, matplotlib headless rendering
	"xml",       // XML catalogs (xmllint, xsltproc)
}

// ToolDirs of the user's home are bound read-write into the fresh $HOME.
var ToolDirs = []string{".copilot", ".cache", ".config", ".local", ".anthropic", ".claude", ".gemini", ".cargo", ".rustup", ".npm"}

// CredentialFiles under $HOME show as empty read-only files (/dev/null),
// present or not, as the original shows them: its mount policy's
// credential files (file entries, and the known files of its directory
// entries). Absent ones are created only where that writes nothing to the
// host (the fresh home, a tool dir's overlay).
var CredentialFiles = []string{
	".docker/config.json", ".npmrc", ".composer/auth.json",
	".ssh/id_rsa", ".ssh/id_ed25519", ".ssh/id_ecdsa", ".ssh/id_dsa",
	".aws/credentials", ".aws/config", ".kube/config",
	".azure/credentials", ".azure/msal_token_cache.bin", ".azure/msal_token_cache.json",
	".azure/accessTokens.json", ".azure/service_principal_entries.json",
	".cargo/credentials", ".cargo/credentials.toml",
	".claude/.credentials.json",
	".gemini/oauth_creds.json", ".gemini/google_accounts.json", ".gemini/access_tokens.json",
	".config/gh/hosts.yml",
	".config/gcloud/credentials.db", ".config/gcloud/access_tokens.db", ".config/gcloud/application_default_credentials.json",
	".config/doctl/config.yaml", ".config/rclone/rclone.conf", ".config/containers/auth.json",
	".config/pulumi/credentials.json", ".config/helm/repositories.yaml",
}

// CredentialDirs are credential stores whose files are not known (the
// original's directory entries without a file list, which its compose
// runtime cannot mask): hidden whole, when present, under an empty tmpfs.
var CredentialDirs = []string{".local/state/sandboxes", ".config/heroku", ".config/hub", ".config/op"}

// ToolCacheDir is the runner tool cache's fallback under the user's home,
// shown read-only when RUNNER_TOOL_CACHE names no directory, as the
// original: the fresh $HOME would hide it.
const ToolCacheDir = "work/_tool"

// Sockets that would let the agent drive a container engine outside the sandbox.
var Sockets = []string{"/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock", "/var/run/containerd/containerd.sock"}

// ParseVolume reads a -v host:container[:ro|rw] spec with the original's rules
// (existence of the host path is checked by the caller).
func ParseVolume(spec string) (Mount, error) {
	parts := strings.Split(spec, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return Mount{}, fmt.Errorf("Invalid mount format: %s. Expected host_path:container_path[:mode]", spec)
	}
	if !path.IsAbs(parts[0]) || !path.IsAbs(parts[1]) {
		return Mount{}, fmt.Errorf("Invalid mount: %s. Both paths must be absolute", spec)
	}
	ro := false
	if len(parts) == 3 {
		switch parts[2] {
		case "ro":
			ro = true
		case "rw":
		default:
			return Mount{}, fmt.Errorf("Invalid mount mode: %s. Must be 'ro' or 'rw'", parts[2])
		}
	}
	return Mount{Kind: KindBind, Source: path.Clean(parts[0]), Target: path.Clean(parts[1]), ReadOnly: ro}, nil
}

func depth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(path.Clean(p), "/")
}

func buildMounts(in Input, egress netip.Addr) ([]Mount, error) {
	home := path.Clean(in.User.Home)
	var layer []Mount // binds and tmpfs, ordered by depth below
	for _, d := range SystemDirs {
		layer = append(layer, Mount{Kind: KindBind, Source: d, Target: d, ReadOnly: true, Optional: true})
	}
	layer = append(layer, Mount{Kind: KindTmpfs, Target: "/etc", Options: "mode=0755,size=16m"})
	for _, e := range EtcEntries {
		layer = append(layer, Mount{Kind: KindBind, Source: "/etc/" + e, Target: "/etc/" + e, ReadOnly: true, Optional: true,
			Glob: strings.Contains(e, "*")})
	}
	layer = append(layer,
		Mount{Kind: KindBind, Source: "/tmp", Target: "/tmp"},
		Mount{Kind: KindTmpfs, Target: "/dev/shm", Options: "mode=1777,size=64m", NoExec: true},
		Mount{Kind: KindTmpfs, Target: home, Options: "mode=0755,size=256m", Owned: true},
	)
	if in.HostHome != "" {
		// The tool dirs show the user's real files, but what the agent
		// writes there stays in the run: bound writable, it could plant
		// code its owner later runs outside the sandbox (a git hook in
		// ~/.config, a script in ~/.local/bin, a .pth in site-packages).
		layer = append(layer, Mount{Kind: KindTmpfs, Target: ToolUpperRoot, Options: "mode=0700"})
		for i, d := range ToolDirs {
			layer = append(layer, Mount{Kind: KindOverlay, Source: path.Join(in.HostHome, d), Target: path.Join(home, d),
				Upper: fmt.Sprintf("%s/%d", ToolUpperRoot, i), Optional: true})
		}
	}
	if in.ToolCache != "" && path.IsAbs(in.ToolCache) && path.Clean(in.ToolCache) != "/" {
		tc := path.Clean(in.ToolCache)
		// Mount points made inside the fresh home belong to the user.
		layer = append(layer, Mount{Kind: KindBind, Source: tc, Target: tc, ReadOnly: true, Optional: true,
			Owned: strings.HasPrefix(tc, home+"/")})
	}
	if in.Workspace != "" {
		ws := path.Clean(in.Workspace)
		if !path.IsAbs(ws) {
			return nil, fmt.Errorf("sandbox: workspace %q is not absolute", ws)
		}
		if ws != "/" {
			layer = append(layer, Mount{Kind: KindBind, Source: ws, Target: ws, Optional: true})
		}
	}
	var volumes []Mount
	for _, spec := range in.Extra {
		m, err := ParseVolume(spec)
		if err != nil {
			return nil, err
		}
		volumes = append(volumes, m)
	}
	layer = append(layer, volumes...)
	// Hide awf's own work dir (configs, logs in flight) and every log or
	// artifact dir, this run's and earlier runs', wherever they show.
	hide := in.Hide
	if in.AWFDir != "" {
		hide = append([]string{in.AWFDir}, hide...)
	}
	layer = append(layer, hideMounts(hide, volumes)...)
	layer = append(layer, Mount{Kind: KindTmpfs, Target: "/.awf", Options: "mode=0755,size=32m"})
	sort.SliceStable(layer, func(i, j int) bool { return depth(layer[i].Target) < depth(layer[j].Target) })

	ms := layer
	hosts := in.HostsFile
	if hosts == "" {
		hosts = "127.0.0.1\tlocalhost\n"
	}
	if a := in.NetExtra.Localhost; a.IsValid() {
		hosts = localhostLine.ReplaceAllString(hosts, a.String()+"${1}localhost${2}")
	}
	if len(in.NetExtra.Hosts) > 0 {
		if !strings.HasSuffix(hosts, "\n") {
			hosts += "\n"
		}
		hosts += strings.Join(in.NetExtra.Hosts, "\n") + "\n"
	}
	claude := in.ClaudeKey
	if claude == "" {
		claude = "sk-ant-placeholder-key-for-credential-isolation"
	}
	ms = append(ms,
		Mount{Kind: KindFile, Target: "/etc/hosts", Data: []byte(hosts), Mode: 0o644},
		Mount{Kind: KindFile, Target: "/etc/resolv.conf", Data: []byte(fmt.Sprintf("nameserver %s\noptions ndots:0\n", egress)), Mode: 0o644},
		Mount{Kind: KindFile, Target: "/etc/hostname", Data: []byte("awf-agent\n"), Mode: 0o644},
	)
	script := in.ClaudeKeyScript
	if script == "" {
		script = claudeHelper(claude)
	}
	ms = append(ms, Mount{Kind: KindFile, Target: "/.awf/bin/get-claude-key.sh", Data: []byte(script), Mode: 0o755})
	if len(in.PreloadLib) > 0 {
		ms = append(ms, Mount{Kind: KindFile, Target: PreloadPath, Data: in.PreloadLib, Mode: 0o644})
	}
	names := make([]string, 0, len(in.AgentFiles))
	for t := range in.AgentFiles {
		names = append(names, t)
	}
	sort.Strings(names)
	for i, name := range names {
		t, data := path.Clean(name), in.AgentFiles[name]
		switch {
		case strings.HasPrefix(t, "/.awf/bin/"): // on PATH (over /usr/local/bin): executable
			ms = append(ms, Mount{Kind: KindFile, Target: t, Data: data, Mode: 0o755})
		case strings.HasPrefix(t, "/.awf/"):
			ms = append(ms, Mount{Kind: KindFile, Target: t, Data: data, Mode: 0o644})
		case !hostBacked(t, layer):
			ms = append(ms, Mount{Kind: KindFile, Target: t, Data: data, Mode: 0o644, Owned: true})
		default:
			gen := fmt.Sprintf("/.awf/files/%d-%s", i, path.Base(t))
			ms = append(ms,
				Mount{Kind: KindFile, Target: gen, Data: data, Mode: 0o644},
				Mount{Kind: KindBind, Source: gen, Target: t, Inner: true})
		}
	}
	ms = append(ms, Mount{Kind: KindOverlay, Target: "/usr/local/bin", Lower: []string{"/.awf/bin", "/usr/local/bin"}})
	for _, c := range CredentialFiles {
		t := path.Join(home, c)
		ms = append(ms, Mount{Kind: KindMask, Target: t, Create: !hostBacked(t, layer), Owned: true})
	}
	for _, c := range CredentialDirs {
		ms = append(ms, Mount{Kind: KindHide, Target: path.Join(home, c)})
	}
	for _, s := range Sockets {
		ms = append(ms, Mount{Kind: KindMask, Target: s})
	}
	ms = append(ms,
		Mount{Kind: KindRemount, Target: "/etc"},
		Mount{Kind: KindRemount, Target: "/.awf"},
		Mount{Kind: KindProc, Target: "/proc"},
		Mount{Kind: KindRemount, Target: "/"},
	)
	return ms, nil
}

// hostBacked reports whether p would land on the host's filesystem: the
// deepest mount holding it is a bind of a host directory (a tool dir, the
// workspace, /tmp, a -v mount), not the fresh home. awf never writes its
// files there; it binds them over the path instead.
func hostBacked(p string, layer []Mount) bool {
	best := -1
	for i, m := range layer {
		if p == m.Target || strings.HasPrefix(p, strings.TrimSuffix(m.Target, "/")+"/") {
			if best < 0 || len(m.Target) >= len(layer[best].Target) {
				best = i
			}
		}
	}
	return best < 0 || layer[best].Kind == KindBind
}

// localhostLine is an IPv4 localhost line of a hosts file.
var localhostLine = regexp.MustCompile(`(?m)^127\.0\.0\.1([ \t]+)localhost([ \t].*)?$`)

func claudeHelper(key string) string {
	return "#!/bin/sh\n" +
		"echo '[get-claude-key] awf: returning a placeholder; the api-proxy injects the real key' >&2\n" +
		"echo '" + strings.ReplaceAll(key, "'", "") + "'\n"
}
