package logs

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.golden from the current output")

// testEnv runs a command with discovery pointed at empty places, so only the
// --source given is used.
func testEnv(t *testing.T) (Env, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	var out, errb bytes.Buffer
	empty := t.TempDir()
	return Env{Stdout: &out, Stderr: &errb, Discovery: Discovery{TmpDir: empty, RunDir: empty}}, &out, &errb
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	abs, _ := filepath.Abs("testdata")
	got = strings.ReplaceAll(got, abs, "TESTDATA")
	path := filepath.Join("testdata", "golden", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got ---\n%s\n--- want ---\n%s", name, path, got, want)
	}
}

func TestGolden(t *testing.T) {
	run, squid := "testdata/run", "testdata/squid"
	cases := []struct {
		name string
		do   func(ctx context.Context, env Env) error
	}{
		{"logs-pretty", func(ctx context.Context, env Env) error {
			return RunLogs(ctx, env, LogsOptions{Format: "pretty", Source: squid})
		}},
		{"logs-pretty-color", func(ctx context.Context, env Env) error {
			env.StdoutTTY = true
			return RunLogs(ctx, env, LogsOptions{Format: "pretty", Source: squid})
		}},
		{"logs-json", func(ctx context.Context, env Env) error {
			return RunLogs(ctx, env, LogsOptions{Format: "json", Source: squid})
		}},
		{"logs-raw", func(ctx context.Context, env Env) error {
			return RunLogs(ctx, env, LogsOptions{Format: "raw", Source: squid})
		}},
		{"logs-jsonl-file-pretty", func(ctx context.Context, env Env) error {
			return RunLogs(ctx, env, LogsOptions{Format: "pretty", Source: run + "/audit.jsonl"})
		}},
		{"stats-pretty", func(ctx context.Context, env Env) error {
			return RunStats(ctx, env, StatsOptions{Format: "pretty", Source: run})
		}},
		{"stats-json", func(ctx context.Context, env Env) error {
			return RunStats(ctx, env, StatsOptions{Format: "json", Source: run})
		}},
		{"stats-markdown", func(ctx context.Context, env Env) error {
			return RunStats(ctx, env, StatsOptions{Format: "markdown", Source: run})
		}},
		{"stats-squid-json", func(ctx context.Context, env Env) error {
			return RunStats(ctx, env, StatsOptions{Format: "json", Source: squid})
		}},
		{"stats-squid-pretty", func(ctx context.Context, env Env) error {
			return RunStats(ctx, env, StatsOptions{Format: "pretty", Source: squid})
		}},
		{"summary-markdown", func(ctx context.Context, env Env) error {
			return RunStats(ctx, env, StatsOptions{Format: "markdown", Source: run, Summary: true})
		}},
		{"summary-squid-markdown", func(ctx context.Context, env Env) error {
			return RunStats(ctx, env, StatsOptions{Format: "markdown", Source: squid, Summary: true})
		}},
		{"audit-pretty", func(ctx context.Context, env Env) error {
			return RunAudit(ctx, env, AuditOptions{Format: "pretty", Source: run})
		}},
		{"audit-json", func(ctx context.Context, env Env) error {
			return RunAudit(ctx, env, AuditOptions{Format: "json", Source: run})
		}},
		{"audit-markdown", func(ctx context.Context, env Env) error {
			return RunAudit(ctx, env, AuditOptions{Format: "markdown", Source: run})
		}},
		{"audit-squid-json", func(ctx context.Context, env Env) error {
			return RunAudit(ctx, env, AuditOptions{Format: "json", Source: squid})
		}},
		{"audit-squid-pretty", func(ctx context.Context, env Env) error {
			return RunAudit(ctx, env, AuditOptions{Format: "pretty", Source: squid})
		}},
		{"audit-filter-denied-domain", func(ctx context.Context, env Env) error {
			return RunAudit(ctx, env, AuditOptions{Format: "json", Source: run, Filter: AuditFilter{Decision: "denied", Domain: "GITHUB"}})
		}},
		{"audit-filter-rule", func(ctx context.Context, env Env) error {
			return RunAudit(ctx, env, AuditOptions{Format: "markdown", Source: squid, Filter: AuditFilter{Rule: "deny-default"}})
		}},
		{"audit-filter-none", func(ctx context.Context, env Env) error {
			return RunAudit(ctx, env, AuditOptions{Format: "json", Source: run, Filter: AuditFilter{Rule: "no-such-rule"}})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env, out, errb := testEnv(t)
			if err := c.do(context.Background(), env); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, c.name, out.String()+"--- stderr ---\n"+errb.String())
		})
	}
}

func TestGoldenBlocked(t *testing.T) {
	for _, dir := range []string{"run", "squid"} {
		t.Run(dir, func(t *testing.T) {
			r, reps, err := BlockedFromDir(filepath.Join("testdata", dir), []string{"github.com", "githubusercontent.com", "https://example.org"})
			if err != nil {
				t.Fatal(err)
			}
			if len(reps) == 0 || reps[0].Skipped() == 0 {
				t.Errorf("malformed lines not reported: %+v", reps)
			}
			var b bytes.Buffer
			if err := r.Print(&b); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "blocked-"+dir, b.String())
		})
	}
}
