package logs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/awf-dev/awf/internal/runstate"
)

// Source kinds.
const (
	KindRunning   = "running"
	KindPreserved = "preserved"
)

// Source is where the logs of one run are.
type Source struct {
	Kind  string    // KindRunning or KindPreserved
	Path  string    // directory holding access.log (and audit.jsonl)
	File  string    // a single log file the user named; Path is its directory
	Label string    // "running", "AWF_LOGS_DIR" or "preserved", for --list
	Time  time.Time // run start (preserved: from the name or access.log's mtime)
	RunID string    // running only: the run's id under the state root
	PID   int       // running only: the awf process of the run
}

// Dir is the directory the source's companion files (manifest, token
// usage) are looked for from.
func (s Source) Dir() string { return s.Path }

// AccessLog is the text log `awf logs` streams.
func (s Source) AccessLog() string {
	if s.File != "" {
		return s.File
	}
	return filepath.Join(s.Path, "access.log")
}

// DateString renders Time like the original's toLocaleString (en-US).
func (s Source) DateString() string {
	if s.Time.IsZero() {
		return ""
	}
	return s.Time.Local().Format("1/2/2006, 3:04:05 PM")
}

// Discovery holds the places logs are looked for; DiscoveryFromEnv fills
// it from the environment and tests point it at temporary directories.
type Discovery struct {
	LogsDir  string // $AWF_LOGS_DIR
	TmpDir   string // where runs preserve squid-logs-<ts> ($TMPDIR, else /tmp)
	RunDir   string // live runs' state dirs: $AWF_RUN_DIR, else /run/awf
	AuditDir string // $AWF_AUDIT_DIR, the last place a manifest is looked for
}

// DefaultRunDir is where a native run keeps its state dir /run/awf/<id>.
const DefaultRunDir = "/run/awf"

// DiscoveryFromEnv reads AWF_LOGS_DIR, TMPDIR, AWF_RUN_DIR and AWF_AUDIT_DIR.
func DiscoveryFromEnv() Discovery {
	d := Discovery{
		LogsDir:  os.Getenv("AWF_LOGS_DIR"),
		TmpDir:   os.TempDir(),
		RunDir:   os.Getenv("AWF_RUN_DIR"),
		AuditDir: os.Getenv("AWF_AUDIT_DIR"),
	}
	if d.RunDir == "" {
		d.RunDir = DefaultRunDir
	}
	return d
}

// The running-run contract. A native run (internal/sandbox) has a state
// dir <RunDir>/<id>/; it writes the directory its egress proxy logs to into
// the file "logs-dir" (MarkRunning) and its own pid into "pid" ("<pid>" or
// "<pid> <start time>"). A run is live while its awf holds the state dir's
// lock (runstate.Alive); a dir without a lock is judged by the pid, and one
// with neither is taken as live.
const (
	RunLogsDirFile = runstate.LogsDirFile
	RunPIDFile     = runstate.PIDFile
)

// MarkRunning records in a run's state dir where its logs are written, so
// `awf logs --source running` and `awf logs -f` find them.
func MarkRunning(stateDir, logsDir string) error {
	abs, err := filepath.Abs(logsDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(stateDir, RunLogsDirFile), []byte(abs+"\n"), 0o644)
}

// RunningDirs returns the live runs under the state root, newest first.
func (d Discovery) RunningDirs() []Source {
	matches, _ := filepath.Glob(filepath.Join(d.RunDir, "*", RunLogsDirFile))
	var out []Source
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		logsDir := strings.TrimSpace(string(b))
		if logsDir == "" {
			continue
		}
		state := filepath.Dir(m)
		// The run's lock decides (valid across PID namespaces); the pid
		// is only shown.
		pid, alive := runstate.Alive(state)
		if !alive {
			continue
		}
		st, err := os.Stat(m)
		if err != nil {
			continue
		}
		out = append(out, Source{Kind: KindRunning, Path: logsDir, Label: KindRunning,
			Time: st.ModTime(), RunID: filepath.Base(state), PID: pid})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out
}

// Discover lists every source: live runs first, then preserved logs newest
// first ($AWF_LOGS_DIR, then <tmp>/squid-logs-<ts> holding access.log).
func (d Discovery) Discover() []Source {
	out := d.RunningDirs()
	var preserved []Source
	if d.LogsDir != "" {
		for _, dir := range []string{d.LogsDir, filepath.Join(d.LogsDir, "squid-logs")} {
			if st, err := os.Stat(filepath.Join(dir, "access.log")); err == nil {
				preserved = append(preserved, Source{Kind: KindPreserved, Path: dir, Label: "AWF_LOGS_DIR", Time: st.ModTime()})
				break
			}
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(d.TmpDir, "squid-logs-*"))
	for _, dir := range dirs {
		st, err := os.Stat(filepath.Join(dir, "access.log"))
		if err != nil {
			continue
		}
		// The original names these by Date.now(); a name that is not a
		// millisecond timestamp falls back to the log's mtime.
		t := st.ModTime()
		if ms, err := strconv.ParseInt(strings.TrimPrefix(filepath.Base(dir), "squid-logs-"), 10, 64); err == nil {
			t = time.UnixMilli(ms)
		}
		preserved = append(preserved, Source{Kind: KindPreserved, Path: dir, Label: KindPreserved, Time: t})
	}
	sort.SliceStable(preserved, func(i, j int) bool { return preserved[i].Time.After(preserved[j].Time) })
	return append(out, preserved...)
}

// Error messages of source selection, as the original prints them after
// "Invalid log source: ".
var (
	ErrNoSources = errors.New("No log sources found. Run awf with a command first to generate logs.")
)

// NotRunningError says no live run was found for --source running.
func (d Discovery) notRunning() error {
	return fmt.Errorf("No awf run is running (no live run in %s)", d.RunDir)
}

// Validate turns a --source value into a Source: "running", a directory
// holding access.log, or a log file.
func (d Discovery) Validate(s string) (Source, error) {
	if s == KindRunning {
		r := d.RunningDirs()
		if len(r) == 0 {
			return Source{}, d.notRunning()
		}
		return r[0], nil
	}
	abs, err := filepath.Abs(s)
	if err != nil {
		return Source{}, fmt.Errorf("Log source not found: %s", s)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return Source{}, fmt.Errorf("Log source not found: %s", s)
	}
	if st.IsDir() {
		if _, err := os.Stat(filepath.Join(abs, "access.log")); err != nil {
			// audit.jsonl alone is enough for awf's own runs.
			if _, err2 := os.Stat(filepath.Join(abs, "audit.jsonl")); err2 != nil {
				return Source{}, fmt.Errorf("Directory does not contain access.log: %s", abs)
			}
		}
		return Source{Kind: KindPreserved, Path: abs, Label: KindPreserved, Time: st.ModTime()}, nil
	}
	if st.Mode().IsRegular() {
		return Source{Kind: KindPreserved, Path: filepath.Dir(abs), File: abs, Label: KindPreserved, Time: st.ModTime()}, nil
	}
	return Source{}, fmt.Errorf("Log source not found: %s", s)
}

// InvalidSourceError wraps a Validate error the way the original reports it.
type InvalidSourceError struct{ Err error }

func (e *InvalidSourceError) Error() string { return "Invalid log source: " + e.Err.Error() }
func (e *InvalidSourceError) Unwrap() error { return e.Err }

// Select picks the source: the --source value if given, else the live run,
// else the newest preserved logs. auto reports whether it was discovered
// (then the caller may say which one it took).
func (d Discovery) Select(flag string) (src Source, auto bool, err error) {
	if flag != "" {
		s, err := d.Validate(flag)
		if err != nil {
			return Source{}, false, &InvalidSourceError{err}
		}
		return s, false, nil
	}
	all := d.Discover()
	if len(all) == 0 {
		return Source{}, true, ErrNoSources
	}
	return all[0], true, nil
}

// InfoLines are the "[INFO]" lines saying which source was picked.
func (s Source) InfoLines() []string {
	if s.Kind == KindRunning {
		return []string{"Using live logs from running awf run " + s.RunID + ": " + s.Path}
	}
	out := []string{"Using preserved logs from: " + s.Path}
	if ds := s.DateString(); ds != "" {
		out = append(out, "Log timestamp: "+ds)
	}
	return out
}

// List renders --list.
func (d Discovery) List() string {
	all := d.Discover()
	if len(all) == 0 {
		return strings.Join([]string{
			ErrNoSources.Error(),
			"",
			"Tip: Set AWF_LOGS_DIR environment variable to auto-discover logs from a custom directory.",
			"Example: export AWF_LOGS_DIR=/tmp/my-logs",
		}, "\n")
	}
	lines := []string{"Available log sources:"}
	for _, s := range all {
		if s.Kind == KindRunning {
			detail := "live run " + s.RunID
			if s.PID > 0 {
				detail += fmt.Sprintf(", pid %d", s.PID)
			}
			lines = append(lines, fmt.Sprintf("  [running] %s (%s)", s.Path, detail))
			continue
		}
		lines = append(lines, fmt.Sprintf("  [%s] %s (%s)", s.Label, s.Path, s.DateString()))
	}
	return strings.Join(lines, "\n")
}
