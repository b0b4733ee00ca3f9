package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Env is what the commands print to and where they look for logs.
type Env struct {
	Stdout, Stderr io.Writer
	StdoutTTY      bool // colour only on a terminal
	Discovery      Discovery
	Pids           PidTracker
}

func (e Env) info(msg string) { fmt.Fprintln(e.Stderr, "[INFO] "+msg) }
func (e Env) warn(msg string) { fmt.Fprintln(e.Stderr, "[WARN] "+msg) }

func (e Env) warnReports(reps []ParseReport) {
	e.warnReportsOf(Source{}, reps)
}

// warnReportsOf does not count a live run's unfinished last line as damage.
func (e Env) warnReportsOf(src Source, reps []ParseReport) {
	for _, r := range reps {
		if src.Kind == KindRunning && r.Truncated {
			r.Truncated = false
			if n := len(r.FirstBad); n > 0 && r.Malformed < n {
				r.FirstBad = r.FirstBad[:n-1]
			}
		}
		if w := r.Warning(); w != "" {
			e.warn(w)
		}
	}
}

// LogsOptions are the flags of `awf logs`.
type LogsOptions struct {
	Follow   bool
	Format   string // raw | pretty | json
	Source   string
	List     bool
	WithPid  bool
	Interval time.Duration // follow poll interval (0: default)
	Backlog  *int          // follow: lines shown first (nil: 10, as tail -f)
}

// RunLogs is `awf logs`.
func RunLogs(ctx context.Context, env Env, o LogsOptions) error {
	if err := CheckFormat(o.Format, LogFormats); err != nil {
		return err
	}
	if o.WithPid && !o.Follow {
		env.warn("--with-pid only works with real-time streaming (-f). PID tracking disabled.")
		o.WithPid = false
	}
	if o.List {
		_, err := fmt.Fprintln(env.Stdout, env.Discovery.List())
		return err
	}
	src, auto, err := env.Discovery.Select(o.Source)
	if err != nil {
		return err
	}
	if auto {
		for _, l := range src.InfoLines() {
			env.info(l)
		}
	}
	if o.WithPid && !env.Pids.Available() {
		env.warn("PID tracking not available on this system (requires /proc filesystem)")
		o.WithPid = false
	}
	path := streamPath(src)
	f := EntryFormatter{Format: o.Format, Color: env.StdoutTTY && o.Format == FormatPretty}
	format := FormatForFile(path)
	bad := 0
	emit := func(line string) error {
		if o.Format == FormatRaw {
			return f.WriteRaw(env.Stdout, line)
		}
		var e Entry
		var err error
		if format == FormatAuditJSONL {
			e, err = ParseAuditLine([]byte(line))
		} else {
			e, err = ParseAccessLine(line)
		}
		if err != nil {
			// As the original: what cannot be parsed is shown as it is.
			bad++
			return f.WriteRaw(env.Stdout, line)
		}
		if o.WithPid {
			env.Pids.Enrich(&e)
		}
		return f.WriteEntry(env.Stdout, &e)
	}
	if o.Follow {
		backlog := 10
		if o.Backlog != nil {
			backlog = *o.Backlog
		}
		err := Follow(ctx, path, FollowOptions{Interval: o.Interval, Backlog: backlog}, emit)
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil
		}
		return err
	}
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("Failed to stream logs: Log file not found: %s", path)
	}
	defer fh.Close()
	var werr error
	rep, err := scanLines(fh, path, func(line []byte) bool {
		before := bad
		if werr == nil {
			werr = emit(string(line))
		}
		return bad == before
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("Failed to stream logs: %w", err)
	}
	env.warnReports([]ParseReport{rep})
	return nil
}

// streamPath is the file `awf logs` shows: the named file, else access.log,
// else (an awf run that wrote only JSON) audit.jsonl.
func streamPath(src Source) string {
	p := src.AccessLog()
	if src.File == "" {
		if _, err := os.Stat(p); err != nil {
			if j := filepath.Join(src.Path, "audit.jsonl"); fileExists(j) {
				return j
			}
		}
	}
	return p
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// StatsOptions are the flags of `awf logs stats` and `awf logs summary`.
type StatsOptions struct {
	Format  string
	Source  string
	Summary bool // summary: info lines only for pretty, so markdown stays clean
}

// RunStats is `awf logs stats` / `awf logs summary`.
func RunStats(ctx context.Context, env Env, o StatsOptions) error {
	if err := CheckFormat(o.Format, StatFormats); err != nil {
		return err
	}
	src, auto, err := env.Discovery.Select(o.Source)
	if err != nil {
		return err
	}
	showInfo := o.Format != FormatJSON
	if o.Summary {
		showInfo = o.Format == FormatPretty
	}
	if auto && showInfo {
		for _, l := range src.InfoLines() {
			env.info(l)
		}
	}
	s, err := LoadStats(src, env.Discovery.AuditDir)
	if err != nil {
		return fmt.Errorf("Failed to load logs: %w", err)
	}
	env.warnReportsOf(src, s.Reports)
	out, err := FormatStats(s, o.Format, env.StdoutTTY && o.Format == FormatPretty)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(env.Stdout, out)
	return err
}

// AuditOptions are the flags of `awf logs audit`.
type AuditOptions struct {
	Format string
	Source string
	Filter AuditFilter
}

// RunAudit is `awf logs audit`.
func RunAudit(ctx context.Context, env Env, o AuditOptions) error {
	if err := CheckFormat(o.Format, StatFormats); err != nil {
		return err
	}
	if err := CheckDecision(o.Filter.Decision); err != nil {
		return err
	}
	src, auto, err := env.Discovery.Select(o.Source)
	if err != nil {
		return err
	}
	if auto && o.Format != FormatJSON {
		for _, l := range src.InfoLines() {
			env.info(l)
		}
	}
	m, _ := FindManifest(src.Dir(), env.Discovery.AuditDir)
	if m == nil {
		// The original checks for entries first; an empty log without a
		// manifest still says "No log entries found."
		n := 0
		reps, err := ScanSource(src, func(*Entry) { n++ })
		if err != nil {
			return err
		}
		env.warnReports(reps)
		if n == 0 {
			return ErrNoEntries
		}
		return ErrNoManifest
	}
	reps, err := Audit(env.Stdout, src, m, o.Filter, o.Format, env.StdoutTTY && o.Format == FormatPretty)
	env.warnReportsOf(src, reps)
	return err
}

// IsTerminal reports whether f is a character device (a TTY).
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && !strings.EqualFold(os.Getenv("TERM"), "dumb")
}
