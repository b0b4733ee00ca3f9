package logs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// MaxLineBytes bounds one log line. A longer line is skipped and counted as
// malformed rather than buffered: a hostile or corrupt log must not be able
// to make awf allocate without limit.
const MaxLineBytes = 64 << 10

// ParseReport says what reading one file found. Bad lines are counted and
// skipped, never fatal; the first few are kept so the user can look.
type ParseReport struct {
	File      string `json:"file"`
	Lines     int    `json:"lines"`     // non-empty lines seen
	Parsed    int    `json:"parsed"`    // lines that became records
	Malformed int    `json:"malformed"` // complete lines that did not parse (or were too long)
	Truncated bool   `json:"truncated"` // the last line had no newline and did not parse
	FirstBad  []int  `json:"firstBad,omitempty"`
}

// Skipped is the number of lines that were not used.
func (r ParseReport) Skipped() int {
	n := r.Malformed
	if r.Truncated {
		n++
	}
	return n
}

// Warning is the one-line notice for stderr, or "" when nothing was skipped.
func (r ParseReport) Warning() string {
	if r.Skipped() == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Skipped %d malformed line(s) in %s", r.Skipped(), r.File)
	if len(r.FirstBad) > 0 {
		parts := make([]string, len(r.FirstBad))
		for i, n := range r.FirstBad {
			parts[i] = fmt.Sprint(n)
		}
		fmt.Fprintf(&b, " (line %s)", strings.Join(parts, ", "))
	}
	if r.Truncated {
		b.WriteString("; the last line is truncated")
	}
	return b.String()
}

const keepBad = 5

func (r *ParseReport) bad(line int, last bool) {
	if last {
		r.Truncated = true
	} else {
		r.Malformed++
	}
	if len(r.FirstBad) < keepBad {
		r.FirstBad = append(r.FirstBad, line)
	}
}

// scanLines calls fn for every non-empty line of rd. fn returns false when
// the line did not parse; last tells it the line had no trailing newline.
// Lines over MaxLineBytes are skipped without being held in memory.
func scanLines(rd io.Reader, name string, fn func(line []byte) bool) (ParseReport, error) {
	rep := ParseReport{File: name}
	br := bufio.NewReaderSize(rd, 256<<10)
	lineNo := 0
	for {
		line, err := br.ReadSlice('\n')
		tooLong := false
		if errors.Is(err, bufio.ErrBufferFull) || (len(line) > MaxLineBytes) {
			// Drain the rest of this line without keeping it.
			tooLong = true
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
		}
		if len(line) == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				return rep, nil
			}
			return rep, err
		}
		lineNo++
		last := err != nil // no newline: the writer may have been cut off
		if tooLong {
			rep.Lines++
			rep.bad(lineNo, false)
		} else if t := trimLine(line); len(t) > 0 {
			rep.Lines++
			if fn(t) {
				rep.Parsed++
			} else {
				rep.bad(lineNo, last)
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return rep, nil
			}
			return rep, err
		}
	}
}

func trimLine(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// LogFormat tells which parser a file needs.
type LogFormat int

const (
	FormatAccessLog  LogFormat = iota // squid firewall_detailed text
	FormatAuditJSONL                  // audit.jsonl
)

// FormatForFile picks the parser by file name: *.jsonl is audit JSON.
func FormatForFile(path string) LogFormat {
	if strings.HasSuffix(path, ".jsonl") || strings.HasSuffix(path, ".json") {
		return FormatAuditJSONL
	}
	return FormatAccessLog
}

// ScanEntries streams the entries of an access.log or audit.jsonl reader.
func ScanEntries(rd io.Reader, name string, f LogFormat, fn func(*Entry)) (ParseReport, error) {
	return scanLines(rd, name, func(line []byte) bool {
		var e Entry
		var err error
		if f == FormatAuditJSONL {
			e, err = ParseAuditLine(line)
		} else {
			e, err = ParseAccessLine(string(line))
		}
		if err != nil {
			return false
		}
		fn(&e)
		return true
	})
}

// ScanEntriesFile is ScanEntries over a file, choosing the parser by name.
func ScanEntriesFile(path string, fn func(*Entry)) (ParseReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return ParseReport{File: path}, err
	}
	defer f.Close()
	return ScanEntries(f, path, FormatForFile(path), fn)
}

// ScanSource streams the entries of a log source. As the original, a
// directory's audit.jsonl is preferred (it is structured and carries bytes)
// and access.log is the fallback when audit.jsonl is absent or has no
// parseable entry. The reports of every file read are returned.
func ScanSource(src Source, fn func(*Entry)) ([]ParseReport, error) {
	if src.File != "" {
		rep, err := ScanEntriesFile(src.File, fn)
		return []ParseReport{rep}, err
	}
	var reps []ParseReport
	jsonl := filepath.Join(src.Path, "audit.jsonl")
	if _, err := os.Stat(jsonl); err == nil {
		// Buffer nothing: if audit.jsonl turns out empty, fn was never called.
		rep, err := ScanEntriesFile(jsonl, fn)
		reps = append(reps, rep)
		if err != nil {
			return reps, err
		}
		if rep.Parsed > 0 {
			return reps, nil
		}
	}
	text := filepath.Join(src.Path, "access.log")
	if _, err := os.Stat(text); err != nil {
		return reps, nil
	}
	rep, err := ScanEntriesFile(text, fn)
	return append(reps, rep), err
}
