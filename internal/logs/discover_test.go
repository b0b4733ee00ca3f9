package logs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/awf-dev/awf/internal/runstate"
)

func touch(t *testing.T, path, content string, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		os.Chtimes(path, mtime, mtime)
	}
}

const oneLine = "1774290908.910 172.30.0.20:1 a.test:443 1.1.1.1:443 1.1 CONNECT 200 TCP_TUNNEL:HIER_DIRECT a.test:443 \"-\"\n"

func TestDiscoverOrder(t *testing.T) {
	tmp, run, env := t.TempDir(), t.TempDir(), t.TempDir()
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	touch(t, filepath.Join(tmp, "squid-logs-1700000000000", "access.log"), oneLine, time.Time{})
	touch(t, filepath.Join(tmp, "squid-logs-1800000000000", "access.log"), oneLine, time.Time{})
	touch(t, filepath.Join(tmp, "squid-logs-1900000000000", "cache.log"), "", time.Time{}) // no access.log: skipped
	touch(t, filepath.Join(tmp, "squid-logs-native", "access.log"), oneLine, old)          // not a timestamp: mtime
	touch(t, filepath.Join(env, "squid-logs", "access.log"), oneLine, time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC))
	live := filepath.Join(t.TempDir(), "live")
	touch(t, filepath.Join(live, "access.log"), oneLine, time.Time{})
	if err := MarkRunning(filepath.Join(run, "r1"), live); err != nil {
		t.Fatal(err)
	}
	touch(t, filepath.Join(run, "r1", RunPIDFile), strconv.Itoa(os.Getpid())+" "+runstate.StartTime(os.Getpid()), time.Time{})
	// Our pid with another start time: a recycled pid, not the run.
	MarkRunning(filepath.Join(run, "recycled"), live)
	touch(t, filepath.Join(run, "recycled", RunPIDFile), strconv.Itoa(os.Getpid())+" 1", time.Time{})
	// A dead run is not offered.
	MarkRunning(filepath.Join(run, "dead"), live)
	touch(t, filepath.Join(run, "dead", RunPIDFile), "999999999", time.Time{})

	d := Discovery{LogsDir: env, TmpDir: tmp, RunDir: run}
	got := d.Discover()
	var names []string
	for _, s := range got {
		names = append(names, s.Kind+":"+filepath.Base(s.Path))
	}
	want := "running:live preserved:squid-logs preserved:squid-logs-1800000000000 preserved:squid-logs-native preserved:squid-logs-1700000000000"
	if strings.Join(names, " ") != want {
		t.Fatalf("got %v\nwant %s", names, want)
	}
	if got[0].RunID != "r1" || got[0].PID != os.Getpid() || got[1].Label != "AWF_LOGS_DIR" {
		t.Errorf("%+v %+v", got[0], got[1])
	}
	list := d.List()
	for _, w := range []string{"Available log sources:", "  [running] " + live + " (live run r1, pid ", "  [AWF_LOGS_DIR] " + filepath.Join(env, "squid-logs") + " (", "  [preserved] " + filepath.Join(tmp, "squid-logs-1700000000000") + " ("} {
		if !strings.Contains(list, w) {
			t.Errorf("list lacks %q:\n%s", w, list)
		}
	}
	src, auto, err := d.Select("")
	if err != nil || !auto || src.Kind != KindRunning {
		t.Errorf("select: %+v %v %v", src, auto, err)
	}
	src, _, err = d.Select("running")
	if err != nil || src.Path != live {
		t.Errorf("select running: %+v %v", src, err)
	}
}

func TestSourceErrors(t *testing.T) {
	empty := t.TempDir()
	d := Discovery{TmpDir: empty, RunDir: empty}
	if _, _, err := d.Select(""); !errors.Is(err, ErrNoSources) || err.Error() != "No log sources found. Run awf with a command first to generate logs." {
		t.Errorf("%v", err)
	}
	if !strings.HasPrefix(d.List(), "No log sources found.") || !strings.Contains(d.List(), "export AWF_LOGS_DIR=") {
		t.Errorf("%s", d.List())
	}
	_, _, err := d.Select(filepath.Join(empty, "nope"))
	if err == nil || err.Error() != "Invalid log source: Log source not found: "+filepath.Join(empty, "nope") {
		t.Errorf("%v", err)
	}
	_, _, err = d.Select(empty)
	if err == nil || err.Error() != "Invalid log source: Directory does not contain access.log: "+empty {
		t.Errorf("%v", err)
	}
	_, _, err = d.Select("running")
	if err == nil || !strings.HasPrefix(err.Error(), "Invalid log source: No awf run is running") {
		t.Errorf("%v", err)
	}
	// A file names itself; its directory is where companions are found.
	f := filepath.Join(empty, "x.log")
	touch(t, f, oneLine, time.Time{})
	s, _, err := d.Select(f)
	if err != nil || s.File != f || s.Path != empty {
		t.Errorf("%+v %v", s, err)
	}
}

func TestCompanionFiles(t *testing.T) {
	root := t.TempDir()
	logs := filepath.Join(root, "squid-logs-123")
	if got := TokenUsageCandidates(logs); got[3] != filepath.Join(root, "api-proxy-logs-123", "token-usage.jsonl") {
		t.Errorf("%v", got)
	}
	if got := ManifestCandidates(logs, "/aud"); got[2] != filepath.Join(root, "awf-audit-123", "policy-manifest.json") || got[3] != "/aud/policy-manifest.json" {
		t.Errorf("%v", got)
	}
	touch(t, filepath.Join(root, "api-proxy-logs-123", "token-usage.jsonl"), "{}", time.Time{})
	if FindTokenUsage(logs) == "" {
		t.Error("preserved twin not found")
	}
	if err := WritePolicyManifest(filepath.Join(root, "awf-audit-123", "policy-manifest.json"), []Rule{{ID: "deny-default", Action: "deny", ACLName: "all", Protocol: "both"}}, ManifestOptions{}); err != nil {
		t.Fatal(err)
	}
	if m, p := FindManifest(logs, ""); m == nil || !strings.Contains(p, "awf-audit-123") {
		t.Errorf("manifest not found: %v", p)
	}
}

func TestRunLogsErrorsAndList(t *testing.T) {
	env, out, errb := testEnv(t)
	ctx := context.Background()
	if err := RunLogs(ctx, env, LogsOptions{Format: "yaml"}); err == nil || !strings.HasPrefix(err.Error(), "Invalid format: yaml") {
		t.Errorf("%v", err)
	}
	if err := RunLogs(ctx, env, LogsOptions{Format: "pretty"}); !errors.Is(err, ErrNoSources) {
		t.Errorf("%v", err)
	}
	if err := RunLogs(ctx, env, LogsOptions{Format: "pretty", List: true, WithPid: true}); err != nil {
		t.Error(err)
	}
	if !strings.HasPrefix(out.String(), "No log sources found.") || !strings.Contains(errb.String(), "--with-pid only works with real-time streaming (-f)") {
		t.Errorf("out=%q err=%q", out, errb)
	}
	if err := RunStats(ctx, env, StatsOptions{Format: "raw"}); err == nil || err.Error() != "Invalid format: raw. Must be one of: json, markdown, pretty" {
		t.Errorf("%v", err)
	}
	if err := RunAudit(ctx, env, AuditOptions{Format: "json", Filter: AuditFilter{Decision: "x"}}); err == nil || !strings.HasPrefix(err.Error(), "Invalid decision filter") {
		t.Errorf("%v", err)
	}
	dir := t.TempDir()
	touch(t, filepath.Join(dir, "access.log"), "", time.Time{})
	if err := RunAudit(ctx, env, AuditOptions{Format: "json", Source: dir}); !errors.Is(err, ErrNoEntries) {
		t.Errorf("%v", err)
	}
	touch(t, filepath.Join(dir, "access.log"), oneLine, time.Time{})
	if err := RunAudit(ctx, env, AuditOptions{Format: "json", Source: dir}); !errors.Is(err, ErrNoManifest) {
		t.Errorf("%v", err)
	}
}

func TestAutoSelectPrintsInfo(t *testing.T) {
	tmp := t.TempDir()
	touch(t, filepath.Join(tmp, "squid-logs-1774290900000", "access.log"), oneLine, time.Time{})
	var out, errb bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errb, Discovery: Discovery{TmpDir: tmp, RunDir: tmp}}
	ctx := context.Background()
	if err := RunStats(ctx, env, StatsOptions{Format: "markdown", Summary: true}); err != nil {
		t.Fatal(err)
	}
	if errb.Len() != 0 {
		t.Errorf("summary markdown must keep quiet: %q", errb.String())
	}
	if err := RunStats(ctx, env, StatsOptions{Format: "markdown"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errb.String(), "[INFO] Using preserved logs from: "+filepath.Join(tmp, "squid-logs-1774290900000")) || !strings.Contains(errb.String(), "[INFO] Log timestamp: ") {
		t.Errorf("%q", errb.String())
	}
}
