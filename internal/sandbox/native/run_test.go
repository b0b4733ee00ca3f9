package native

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/sandbox"
	"github.com/awf-dev/awf/internal/testnet"
)

var runSeq int

func testPlan(t *testing.T, script string, mod func(*sandbox.Input)) *sandbox.Plan {
	t.Helper()
	runSeq++
	ws := t.TempDir()
	os.Chmod(ws, 0o777)
	os.Chmod(filepath.Dir(ws), 0o755)
	in := sandbox.Input{
		ID: fmt.Sprintf("t%d-%d", os.Getpid(), runSeq), Command: []string{"/bin/bash", "-c", script},
		User:      sandbox.User{UID: 1000, GID: 1000, Name: "agent", Home: "/home/agent"},
		Workspace: ws, Workdir: ws,
		Env: map[string]string{"AWF_TEST": "1"},
	}
	if mod != nil {
		mod(&in)
	}
	p, err := sandbox.Build(in)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runPlan runs p and returns the exit code and the command's stdout.
func runPlan(t *testing.T, p *sandbox.Plan) (int, string) {
	t.Helper()
	s, err := Prepare(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, w, _ := os.Pipe()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&out, r); close(done) }()
	code, err := s.Run(IO{Stdin: nil, Stdout: w, Stderr: os.Stderr})
	w.Close()
	<-done
	if err != nil {
		t.Fatal(err)
	}
	return code, out.String()
}

func TestRunBasics(t *testing.T) {
	testnet.Require(t)
	p := testPlan(t, `echo uid=$(id -u) gid=$(id -g); echo pid=$$; echo host=$(hostname); cat /proc/1/status | grep -i '^capeff'; grep CapEff /proc/self/status; grep NoNewPrivs /proc/self/status; grep Seccomp: /proc/self/status; touch /usr/x 2>&1 | head -c 40; echo; ls /home; cat /etc/resolv.conf; test -x /usr/local/bin/get-claude-key.sh && echo helper-ok; exit 7`, nil)
	t0 := time.Now()
	code, out := runPlan(t, p)
	t.Logf("run took %v\n%s", time.Since(t0), out)
	if code != 7 {
		t.Errorf("exit code %d, want 7", code)
	}
	for _, w := range []string{"uid=1000 gid=1000", "host=awf-agent", "CapEff:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2", "Read-only", "nameserver 172.30.0.10", "helper-ok"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
}
