package sandbox

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
)

func baseInput() Input {
	return Input{
		ID: "t1", Command: []string{"/bin/bash", "-c", "echo hi"},
		User:     User{UID: 1000, GID: 1000, Name: "u", Home: "/home/u"},
		HostHome: "/home/u", Workspace: "/work/ws", AWFDir: "/tmp/awf-1",
		Env: map[string]string{"FOO": "bar"},
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Input)
		want string
	}{
		{"bad id", func(in *Input) { in.ID = "../x" }, "invalid run id"},
		{"no command", func(in *Input) { in.Command = nil }, "no command"},
		{"root", func(in *Input) { in.User.UID = 0 }, "root"},
		{"relative home", func(in *Input) { in.User.Home = "home" }, "not absolute"},
		{"same ips", func(in *Input) { in.APIProxyIP = DefaultEgressIP }, "distinct"},
		{"v6 ip", func(in *Input) { in.EgressIP = netip.MustParseAddr("2001:db8::1") }, "distinct IPv4"},
		{"loopback", func(in *Input) { in.EgressIP = netip.MustParseAddr("127.0.0.2") }, "loopback"},
		{"bad volume", func(in *Input) { in.Extra = []string{"rel:/x"} }, "absolute"},
		{"bad mode", func(in *Input) { in.Extra = []string{"/a:/b:rx"} }, "mode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput()
			tc.mod(&in)
			_, err := Build(in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want containing %q", err, tc.want)
			}
		})
	}
}

func TestBuildDefaults(t *testing.T) {
	in := baseInput()
	in.PreloadLib = []byte("ELF")
	in.Env["CLAUDE_CODE_API_KEY_HELPER"] = ClaudeKeyHelper
	p, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	if p.StateDir != "/run/awf/t1" || p.Workdir != "/home/u" || p.Limits.Pids != DefaultPids || p.Limits.MemoryBytes != DefaultMemory {
		t.Fatalf("defaults: %+v", p)
	}
	if p.Env["LD_PRELOAD"] != PreloadPath || p.Env["HOME"] != "/home/u" || p.Env["FOO"] != "bar" {
		t.Fatalf("env: %v", p.Env)
	}
	if in.Env["LD_PRELOAD"] != "" {
		t.Fatal("Build changed the caller's env map")
	}
	for _, s := range []string{"ptrace", "process_vm_readv", "process_vm_writev", "kexec_load", "kexec_file_load",
		"init_module", "finit_module", "delete_module", "add_key", "request_key", "keyctl"} {
		if !contains(p.Seccomp, s) {
			t.Errorf("seccomp deny list lacks %s", s)
		}
	}
	if _, err := json.Marshal(p); err != nil {
		t.Fatal(err)
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func findMount(ms []Mount, kind, target string) int {
	for i, m := range ms {
		if m.Kind == kind && m.Target == target {
			return i
		}
	}
	return -1
}

func TestMountLayout(t *testing.T) {
	in := baseInput()
	in.Extra = []string{"/data:/mnt/data:ro"}
	p, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	ms := p.Mounts
	checks := []struct {
		kind, target string
		ro           bool
	}{
		{KindBind, "/usr", true}, {KindBind, "/dev", true}, {KindBind, "/etc/passwd", true},
		{KindBind, "/tmp", false}, {KindBind, "/work/ws", false}, {KindBind, "/mnt/data", true},
		{KindTmpfs, "/home/u", false}, {KindHide, "/tmp/awf-1", false}, {KindTmpfs, "/dev/shm", false},
		{KindOverlay, "/home/u/.claude", false}, {KindTmpfs, ToolUpperRoot, false}, {KindFile, "/etc/resolv.conf", false}, {KindFile, "/etc/hosts", false},
		{KindOverlay, "/usr/local/bin", false}, {KindProc, "/proc", false},
		{KindMask, "/home/u/.ssh/id_rsa", false}, {KindMask, "/home/u/.config/gcloud/credentials.db", false},
		{KindMask, "/var/run/docker.sock", false},
	}
	for _, c := range checks {
		i := findMount(ms, c.kind, c.target)
		if i < 0 {
			t.Errorf("no %s mount at %s", c.kind, c.target)
			continue
		}
		if ms[i].ReadOnly != c.ro {
			t.Errorf("%s: readOnly = %v", c.target, ms[i].ReadOnly)
		}
	}
	masks := 0
	for _, m := range ms {
		if m.Kind == KindMask && strings.HasPrefix(m.Target, "/home/u/") {
			masks++
		}
	}
	if masks != len(CredentialFiles) {
		t.Errorf("credential masks = %d, want %d", masks, len(CredentialFiles))
	}
	// Order: a parent comes before what is mounted inside it, masks after binds,
	// the awf dir hidden after /tmp is bound, root read-only last.
	order := [][2]int{
		{findMount(ms, KindTmpfs, "/etc"), findMount(ms, KindBind, "/etc/ssl")},
		{findMount(ms, KindTmpfs, "/home/u"), findMount(ms, KindOverlay, "/home/u/.claude")},
		{findMount(ms, KindTmpfs, ToolUpperRoot), findMount(ms, KindOverlay, "/home/u/.claude")},
		{findMount(ms, KindBind, "/tmp"), findMount(ms, KindHide, "/tmp/awf-1")},
		{findMount(ms, KindOverlay, "/home/u/.config"), findMount(ms, KindMask, "/home/u/.config/gh/hosts.yml")},
		{findMount(ms, KindFile, "/.awf/bin/get-claude-key.sh"), findMount(ms, KindOverlay, "/usr/local/bin")},
	}
	for _, o := range order {
		if o[0] < 0 || o[1] < 0 || o[0] > o[1] {
			t.Errorf("mount order wrong: %d then %d", o[0], o[1])
		}
	}
	if last := ms[len(ms)-1]; last.Kind != KindRemount || last.Target != "/" {
		t.Errorf("last mount = %+v", last)
	}
	rc := ms[findMount(ms, KindFile, "/etc/resolv.conf")]
	if string(rc.Data) != "nameserver 172.30.0.10\noptions ndots:0\n" {
		t.Errorf("resolv.conf = %q", rc.Data)
	}
}

func TestRuleset(t *testing.T) {
	tests := []struct {
		name     string
		apiProxy bool
		want     []string
		notWant  []string
	}{
		{"no api proxy", false,
			[]string{"tcp dport 80 dnat ip to 172.30.0.10:3129", "tcp dport 443 dnat ip to 172.30.0.10:3130",
				"ip daddr 172.30.0.10/32 udp dport 53 accept", "ip daddr 172.30.0.10/32 tcp dport 3128 accept",
				"meta l4proto tcp reject with tcp reset", "reject with icmpx type port-unreachable",
				"ct state established,related accept", "ip daddr 127.0.0.0/8 accept"},
			// DNS to any other server is refused, not redirected.
			[]string{"172.30.0.30", "dport 53 dnat"}},
		{"api proxy", true,
			[]string{"ip daddr 172.30.0.30/32 tcp dport 10000-10004 accept", "ip daddr 172.30.0.30/32 return"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput()
			in.APIProxy = tc.apiProxy
			p, err := Build(in)
			if err != nil {
				t.Fatal(err)
			}
			txt := p.Net.Rules.Render()
			for _, w := range tc.want {
				if !strings.Contains(txt, w) {
					t.Errorf("ruleset lacks %q:\n%s", w, txt)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(txt, w) {
					t.Errorf("ruleset has %q:\n%s", w, txt)
				}
			}
			// The catch-all rejects must be the last rules.
			lines := strings.Split(strings.TrimSpace(txt), "\n")
			if !strings.Contains(lines[len(lines)-3], "reject with icmpx") {
				t.Errorf("catch-all reject not last:\n%s", txt)
			}
		})
	}
}

func TestLocalhostKeywordHosts(t *testing.T) {
	in := Input{ID: "x1", Command: []string{"true"}, User: User{UID: 1000, GID: 1000, Home: "/home/u"},
		HostsFile: "127.0.0.1\tlocalhost\n127.0.0.1 localhost.localdomain\n::1 localhost\n",
		NetExtra:  NetExtra{Localhost: netip.MustParseAddr("172.17.0.1"), Hosts: []string{"172.17.0.1\thost.docker.internal"}}}
	p, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range p.Mounts {
		if m.Target == "/etc/hosts" {
			want := "172.17.0.1\tlocalhost\n127.0.0.1 localhost.localdomain\n::1 localhost\n172.17.0.1\thost.docker.internal\n"
			if string(m.Data) != want {
				t.Errorf("hosts:\n%q\nwant\n%q", m.Data, want)
			}
			return
		}
	}
	t.Fatal("no /etc/hosts")
}
