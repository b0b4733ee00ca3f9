package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/awf-dev/awf/internal/testnet"
)

func TestFilesystemLayout(t *testing.T) {
	testnet.Require(t)
	ws := workspace(t)
	checks := []struct{ name, cmd, want string }{
		{"usr read-only", "touch /usr/awf-x", "no"},
		{"etc read-only", "touch /etc/awf-x", "no"},
		{"root fs read-only", "mkdir /awf-x", "no"},
		{"workspace writable", "touch " + ws + "/w", "yes"},
		{"tmp writable", "touch /tmp/awf-fs-test-$$ && rm /tmp/awf-fs-test-$$", "yes"},
		{"home writable", "touch $HOME/h", "yes"},
		{"shadow absent", "test -e /etc/shadow", "no"},
		{"var absent", "test -e /var/lib", "no"},
		{"run absent", "test -e /run/awf", "no"},
		{"awf work dir hidden", `d=$(ls -d TMP/awf-[0-9]*) && test -z "$(ls -A $d)"`, "yes"},
		{"resolv.conf", "grep -qx 'nameserver 172.30.0.10' /etc/resolv.conf", "yes"},
		{"proc is the sandbox one", "test $(ls -d /proc/[0-9]* | wc -l) -lt 10", "yes"},
		{"hostname", "test $(hostname) = awf-agent", "yes"},
		{"no setuid", "grep -q 'NoNewPrivs:.1' /proc/self/status", "yes"},
		{"no caps", "grep -q 'CapBnd:.0000000000000000' /proc/self/status", "yes"},
	}
	cmd, out, errb := awfCmd(t, nil)
	tmp := ""
	for _, e := range cmd.Env {
		if strings.HasPrefix(e, "TMPDIR=") {
			tmp = strings.TrimPrefix(e, "TMPDIR=")
		}
	}
	os.Chmod(tmp, 0o755)
	var script strings.Builder
	for _, c := range checks {
		c.cmd = strings.ReplaceAll(c.cmd, "TMP", tmp)
		script.WriteString("if " + c.cmd + " 2>/dev/null; then echo '" + c.name + ": yes'; else echo '" + c.name + ": no'; fi\n")
	}
	cmd.Args = append(cmd.Args, "--", script.String())
	cmd.Dir = ws
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, errb)
	}
	for _, c := range checks {
		if !strings.Contains(out.String(), c.name+": "+c.want+"\n") {
			t.Errorf("%s: want %s\n%s", c.name, c.want, out)
		}
	}
}

func TestLogsPreserved(t *testing.T) {
	testnet.Require(t)
	up := testnet.NewUpstream(t, nil)
	cmd, _, errb := awfCmd(t, nil, "-d", up.Name, "--", "curl -s -o /dev/null http://"+testnet.HostName(151)+"/; exit 1")
	tmp := ""
	for _, e := range cmd.Env {
		if strings.HasPrefix(e, "TMPDIR=") {
			tmp = strings.TrimPrefix(e, "TMPDIR=")
		}
	}
	cmd.Run()
	if !strings.Contains(errb.String(), testnet.HostName(151)) {
		t.Errorf("no blocked-domain report on stderr:\n%s", errb)
	}
	for _, pat := range []string{"squid-logs-*/access.log", "squid-logs-*/audit.jsonl", "awf-audit-*/policy-manifest.json", "awf-audit-*/nftables-audit.txt", "awf-audit-*/sandbox-plan.json"} {
		m, _ := filepath.Glob(filepath.Join(tmp, pat))
		if len(m) != 1 {
			t.Errorf("%s: found %v", pat, m)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(tmp, "awf-[0-9]*")); len(m) != 0 {
		t.Errorf("work dir left behind: %v", m)
	}
}
