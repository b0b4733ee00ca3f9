package apiproxy

import (
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode"
)

// NewLogger returns the sidecar's logger: one JSON object per line with the
// original's keys (timestamp, level, event, ...). Any string attribute that
// contains one of secrets is rewritten, as a last line of defence: no code
// path logs a key on purpose, and this makes sure none does by accident.
func NewLogger(w io.Writer, level slog.Leveler, secrets []string) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 {
				switch a.Key {
				case slog.TimeKey:
					return slog.String("timestamp", a.Value.Time().UTC().Format(time.RFC3339Nano))
				case slog.MessageKey:
					a.Key = "event"
				case slog.LevelKey:
					return slog.String("level", strings.ToLower(a.Value.String()))
				}
			}
			if a.Value.Kind() == slog.KindString {
				a.Value = slog.StringValue(redact(a.Value.String(), secrets))
			}
			return a
		},
	})
	return slog.New(h)
}

// redact replaces every occurrence of a secret in s.
func redact(s string, secrets []string) string {
	for _, k := range secrets {
		if k != "" && strings.Contains(s, k) {
			s = strings.ReplaceAll(s, k, "[REDACTED]")
		}
	}
	return s
}

// sanitize makes client-controlled text safe for a log line: no control
// characters, at most 200 characters.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// discardLogger is used when the caller gives none.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
