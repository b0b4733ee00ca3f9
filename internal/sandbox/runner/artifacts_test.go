package runner

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/sandbox"
	"github.com/awf-dev/awf/internal/testnet"
)

// TestArtifactsKeepNoEnvValueAndStayHidden: values given with -e,
// --env-file and --env-all appear in no artifact (plan, config, logs), the
// artifacts are not readable by others, and no sandbox can read any run's
// logs or artifacts: not its own --proxy-logs-dir inside a directory it
// gets read-write (gh-aw's /tmp/gh-aw layout, also through a -v mount
// at another path), and not an earlier run's, wherever they were kept.
func TestArtifactsKeepNoEnvValueAndStayHidden(t *testing.T) {
	testnet.Require(t)
	// One temp dir for both runs, reachable by the sandbox user, so that
	// only hiding (not a 0700 parent) can keep run 2 out of run 1's logs.
	tmp := t.TempDir()
	os.Chmod(tmp, 0o755)
	os.Chmod(filepath.Dir(tmp), 0o755)
	gh := filepath.Join(tmp, "gh-aw")
	os.MkdirAll(gh, 0o777)
	os.Chmod(gh, 0o777)
	logsDir := filepath.Join(gh, "sandbox", "firewall", "logs")
	auditDir := filepath.Join(gh, "sandbox", "firewall", "audit")

	const db = "postgres://u:pass@db/x"
	canary, fileCanary, hostCanary := secret("canary-e-"), secret("canary-file-"), secret("canary-host-")
	envFile := filepath.Join(t.TempDir(), "env")
	os.WriteFile(envFile, []byte("FILE_VAR="+fileCanary+"\n"), 0o600)
	values := []string{db, "u:pass@", canary, fileCanary, hostCanary}

	script1 := strings.Join([]string{
		`test "$DATABASE_URL" = '` + db + `' && test "$CANARY" = ` + canary + ` && test "$FILE_VAR" = ` + fileCanary + ` && echo env-ok`,
		`curl -s -m 5 -o /dev/null http://` + testnet.HostName(152) + `/ ; true`, // a log line in flight
		`touch ` + gh + `/agent-wrote && echo gh-writable`,
		`echo "logs entries: $(ls -A ` + logsDir + ` 2>/dev/null | wc -l) $(ls -A /mnt/gh/sandbox/firewall/logs 2>/dev/null | wc -l)"`,
		`echo "audit entries: $(ls -A ` + auditDir + ` 2>/dev/null | wc -l)"`,
	}, "\n")
	cmd, out, errb := awfCmd(t, []string{"HOST_VAR=" + hostCanary},
		"--log-level", "debug", "-e", "DATABASE_URL="+db, "-e", "CANARY="+canary, "--env-file", envFile, "--env-all",
		"-v", gh+":"+gh+":rw", "-v", gh+":/mnt/gh:rw",
		"--proxy-logs-dir", logsDir, "--audit-dir", auditDir, "--", script1)
	cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	if code := testnet.Run(t, cmd, 60e9); code != 0 {
		t.Fatalf("run 1: exit %d\n%s\n%s", code, out, errb)
	}
	for _, w := range []string{"env-ok", "gh-writable", "logs entries: 0 0", "audit entries: 0"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("run 1 stdout lacks %q:\n%s", w, out)
		}
	}
	if _, err := os.Stat(filepath.Join(logsDir, "access.log")); err != nil {
		t.Fatalf("run 1 wrote no access.log where asked: %v\n%s", err, errb)
	}
	// A second run with the default dirs, so that logs land in tmp too.
	cmd, out, errb = awfCmd(t, nil, "-e", "DATABASE_URL="+db, "--", "echo $DATABASE_URL >/dev/null")
	cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	if code := testnet.Run(t, cmd, 60e9); code != 0 {
		t.Fatalf("run 2: exit %d\n%s", code, errb)
	}
	if strings.Contains(errb.String(), db) || strings.Contains(errb.String(), canary) {
		t.Errorf("awf's own log shows an env value")
	}

	// Every artifact: no value, no permission for others.
	var files []string
	filepath.WalkDir(tmp, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		rel, _ := filepath.Rel(tmp, p)
		artifact := strings.HasPrefix(p, logsDir) || strings.HasPrefix(p, auditDir) ||
			sandbox.ArtifactName(strings.Split(rel, "/")[0])
		if fi, err := de.Info(); err == nil && artifact && fi.Mode().Perm()&0o007 != 0 {
			t.Errorf("%s is mode %v: others may read it", p, fi.Mode().Perm())
		}
		if de.Type().IsRegular() {
			files = append(files, p)
			b, _ := os.ReadFile(p)
			for _, v := range values {
				if strings.Contains(string(b), v) {
					t.Errorf("%s contains %q", p, v)
				}
			}
		}
		return nil
	})
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimPrefix(f, tmp+"/"))
	}
	t.Logf("artifacts checked: %s", strings.Join(names, " "))
	for _, want := range []string{"sandbox-plan.json", "config.redacted.json", "access.log"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("no %s among the artifacts", want)
		}
	}

	// A third run tries to read every file the first two left.
	var probeScript strings.Builder
	for _, f := range files {
		if strings.HasSuffix(f, "agent-wrote") {
			continue
		}
		probeScript.WriteString("cat '" + f + "' >/dev/null 2>&1 && echo 'READ " + f + "'\n")
		probeScript.WriteString("ls '" + filepath.Dir(f) + "' 2>/dev/null | grep -q . && echo 'LISTED " + filepath.Dir(f) + "'\n")
	}
	probeScript.WriteString("test -e " + gh + "/agent-wrote && echo gh-visible\n")
	cmd, out, errb = awfCmd(t, nil, "--", probeScript.String())
	cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	testnet.Run(t, cmd, 60e9)
	if strings.Contains(out.String(), "READ ") || strings.Contains(out.String(), "LISTED ") {
		t.Errorf("a later sandbox reads earlier runs' artifacts:\n%s", out)
	}
	if !strings.Contains(out.String(), "gh-visible") {
		t.Errorf("the rest of the gh-aw dir should stay visible:\n%s\n%s", out, errb)
	}
}

// TestRunningSandboxCannotReadLaterRunsLogs: a sandbox hides, when it
// starts, the logs it can find; a run that ends while it is still going
// preserves new ones, which must be hidden inside it too before they
// become readable (the running sandbox's awf hides them on request), also
// when the two runs come from sibling PID namespaces that cannot see each
// other's processes.
func TestRunningSandboxCannotReadLaterRunsLogs(t *testing.T) {
	testnet.Require(t)
	for _, tc := range []struct {
		name  string
		pidns bool
	}{{"same PID namespace", false}, {"sibling PID namespaces", true}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.pidns {
				if _, err := exec.LookPath("unshare"); err != nil {
					t.Skip("needs unshare(1)")
				}
			}
			runningSandboxCannotReadLaterRunsLogs(t, tc.pidns)
		})
	}
}

func runningSandboxCannotReadLaterRunsLogs(t *testing.T, pidns bool) {
	tmp := t.TempDir()
	os.Chmod(tmp, 0o755)
	os.Chmod(filepath.Dir(tmp), 0o755)
	ws := workspace(t)
	ready, start, list := filepath.Join(ws, "ready"), filepath.Join(ws, "go"), filepath.Join(ws, "list")
	scriptA := strings.Join([]string{
		"touch " + ready,
		"i=0; while [ ! -e " + start + " ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done",
		"for f in $(cat " + list + "); do cat \"$f\" >/dev/null 2>&1 && echo \"READ $f\"; ls \"$(dirname \"$f\")\" 2>/dev/null | grep -q . && echo \"LISTED $(dirname \"$f\")\"; done",
		"echo A-done",
	}, "\n")
	a, aOut, aErr := awfCmd(t, nil, "--", scriptA)
	a.Env = append(a.Env, "TMPDIR="+tmp)
	if pidns {
		inPIDNS(a)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	aDone := make(chan struct{})
	go func() { a.Wait(); close(aDone) }()
	defer func() {
		select {
		case <-aDone:
		default:
			a.Process.Kill()
			<-aDone
		}
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run A never started\n%s", aErr)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// B starts after A and ends before A reads: default dirs in tmp and a
	// chosen audit dir.
	custom := filepath.Join(tmp, "custom-audit")
	b, _, bErr := awfCmd(t, nil, "--audit-dir", custom, "--", "curl -s -m 5 -o /dev/null http://"+testnet.HostName(154)+"/; true")
	b.Env = append(b.Env, "TMPDIR="+tmp)
	if pidns {
		inPIDNS(b)
	}
	if code := testnet.Run(t, b, 60*time.Second); code != 0 {
		t.Fatalf("run B: exit %d\n%s", code, bErr)
	}
	var files []string
	filepath.WalkDir(tmp, func(p string, de fs.DirEntry, err error) error {
		if err == nil && de.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 4 {
		t.Fatalf("run B preserved too little: %v", files)
	}
	os.WriteFile(list, []byte(strings.Join(files, "\n")+"\n"), 0o644)
	os.WriteFile(start, nil, 0o644)
	select {
	case <-aDone:
	case <-time.After(60 * time.Second):
		t.Fatal("run A did not finish")
	}
	if !strings.Contains(aOut.String(), "A-done") {
		t.Fatalf("run A did not finish its checks:\n%s\n%s", aOut, aErr)
	}
	if strings.Contains(aOut.String(), "READ ") || strings.Contains(aOut.String(), "LISTED ") {
		t.Errorf("a running sandbox reads the logs of a run that ended after it started:\n%s\n%s\nrun B:\n%s", aOut, aErr, bErr)
	}
	t.Logf("checked %d files of run B from inside run A", len(files))
}
