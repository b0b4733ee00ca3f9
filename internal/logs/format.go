package logs

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Output formats of `awf logs`.
const (
	FormatRaw      = "raw"
	FormatPretty   = "pretty"
	FormatJSON     = "json"
	FormatMarkdown = "markdown"
)

// Valid format lists, in the order the original's error message gives them.
var (
	LogFormats  = []string{FormatRaw, FormatPretty, FormatJSON}
	StatFormats = []string{FormatJSON, FormatMarkdown, FormatPretty}
)

// CheckFormat returns the original's error for a format not in valid.
func CheckFormat(format string, valid []string) error {
	for _, v := range valid {
		if v == format {
			return nil
		}
	}
	return fmt.Errorf("Invalid format: %s. Must be one of: %s", format, strings.Join(valid, ", "))
}

// palette holds the ANSI codes chalk uses; the zero palette prints plain.
type palette struct{ on bool }

func (p palette) wrap(open, close, s string) string {
	if !p.on {
		return s
	}
	return "\x1b[" + open + "m" + s + "\x1b[" + close + "m"
}
func (p palette) green(s string) string { return p.wrap("32", "39", s) }
func (p palette) red(s string) string   { return p.wrap("31", "39", s) }
func (p palette) gray(s string) string  { return p.wrap("90", "39", s) }
func (p palette) bold(s string) string  { return p.wrap("1", "22", s) }

// EntryFormatter writes `awf logs` lines.
type EntryFormatter struct {
	Format string // raw, pretty or json
	Color  bool   // pretty only: green allowed, red denied
}

// WriteRaw writes a line unchanged (with one newline).
func (f EntryFormatter) WriteRaw(w io.Writer, line string) error {
	line = strings.TrimRight(line, "\r\n")
	_, err := io.WriteString(w, line+"\n")
	return err
}

// WriteEntry writes a parsed entry as pretty text or one JSON line.
func (f EntryFormatter) WriteEntry(w io.Writer, e *Entry) error {
	if f.Format == FormatJSON {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false) // as JSON.stringify: "<" stays "<"
		return enc.Encode(e)
	}
	_, err := io.WriteString(w, f.Pretty(e)+"\n")
	return err
}

// Pretty renders `[YYYY-MM-DD HH:MM:SS.mmm] METHOD domain[:port] → STATUS
// (ALLOWED|DENIED)[ [UA]][ <PID:n comm>]`.
func (f EntryFormatter) Pretty(e *Entry) string {
	target := e.Domain
	if p := displayPort(e); p != "" {
		target += ":" + p
	}
	status := "DENIED"
	if e.IsAllowed {
		status = "ALLOWED"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s %s → %d (%s)", e.Time().Format("2006-01-02 15:04:05.000"), e.Method, target, e.StatusCode, status)
	if e.UserAgent != "" && e.UserAgent != "-" {
		fmt.Fprintf(&b, " [%s]", e.UserAgent)
	}
	if e.PID != nil && *e.PID != -1 {
		comm := e.Comm
		if comm == "" {
			comm = "unknown"
		}
		fmt.Fprintf(&b, " <PID:%d %s>", *e.PID, comm)
	}
	p := palette{f.Color}
	if e.IsAllowed {
		return p.green(b.String())
	}
	return p.red(b.String())
}

// displayPort hides the standard ports: 443 for CONNECT, 80 and 443 else.
func displayPort(e *Entry) string {
	if e.Method == "CONNECT" {
		if i := strings.LastIndexByte(e.URL, ':'); i >= 0 {
			if p := e.URL[i+1:]; p != "443" {
				return p
			}
			return ""
		}
	}
	if e.DestPort != "" && e.DestPort != "-" && e.DestPort != "443" && e.DestPort != "80" {
		return e.DestPort
	}
	return ""
}

// humanBytes renders a byte count for people (1024-based).
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// thousands renders 1234567 as 1,234,567.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func seconds(ms int64) string { return fmt.Sprintf("%.1f s", float64(ms)/1000) }
