package logs

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// parseFlatAudit reads an audit.jsonl object without reflection: these
// lines are flat objects of strings and numbers, and encoding/json made a
// million-line summary several times slower. ok is false when the line is
// not such an object (nested values, bad syntax); the caller then falls back
// to encoding/json, which also gets the last word on what is malformed.
func parseFlatAudit(b string, a *auditFields) (ok bool) {
	p := flatParser{b: b}
	p.ws()
	if !p.eat('{') {
		return false
	}
	p.ws()
	if p.eat('}') {
		return p.end()
	}
	for {
		p.ws()
		key, ok := p.str()
		if !ok {
			return false
		}
		p.ws()
		if !p.eat(':') {
			return false
		}
		p.ws()
		if !p.value(key, a) {
			return false
		}
		p.ws()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			return p.end()
		}
		return false
	}
}

// flatParser works on one string holding the whole line: the values it
// returns are substrings of it, so a line costs one allocation, not one per
// field.
type flatParser struct {
	b string
	i int
}

func (p *flatParser) ws() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\r' || p.b[p.i] == '\n') {
		p.i++
	}
}

func (p *flatParser) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *flatParser) end() bool { p.ws(); return p.i == len(p.b) }

// str reads a JSON string; escapes are rare, so they go to strconv.
func (p *flatParser) str() (string, bool) {
	if !p.eat('"') {
		return "", false
	}
	start := p.i
	escaped := false
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			raw := p.b[start:p.i]
			p.i++
			if !escaped {
				if !utf8.ValidString(raw) {
					return "", false
				}
				return raw, true
			}
			var s string
			if err := json.Unmarshal([]byte(p.b[start-1:p.i]), &s); err != nil {
				return "", false
			}
			return s, true
		case c == '\\':
			escaped = true
			p.i += 2
			continue
		case c < 0x20:
			return "", false
		}
		p.i++
	}
	return "", false
}

// number reads a number with JSON's grammar exactly:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *flatParser) number() (string, bool) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	p.eat('-')
	if p.eat('0') {
		if p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			return "", false
		}
	} else if digits() == 0 {
		return "", false
	}
	if p.eat('.') && digits() == 0 {
		return "", false
	}
	if p.eat('e') || p.eat('E') {
		if !p.eat('+') {
			p.eat('-')
		}
		if digits() == 0 {
			return "", false
		}
	}
	return p.b[start:p.i], true
}

// knownKeys are the audit.jsonl keys Entry uses. encoding/json matches
// keys case-insensitively; the fast path leaves any such near-miss to it.
var knownKeys = []string{"ts", "client", "host", "dest", "method", "status", "decision", "url",
	"bytes_in", "bytes_out", "duration_ms", "rule", "reason"}

func nearMissKey(key string) bool {
	for _, k := range knownKeys {
		if key != k && strings.EqualFold(key, k) {
			return true
		}
	}
	return false
}

func (p *flatParser) literal(lit string) bool {
	if len(p.b)-p.i >= len(lit) && p.b[p.i:p.i+len(lit)] == lit {
		p.i += len(lit)
		return true
	}
	return false
}

// value reads one scalar and stores it when key is a field we use. A type
// that does not fit the field fails the fast path (encoding/json decides).
func (p *flatParser) value(key string, a *auditFields) bool {
	if p.i >= len(p.b) || nearMissKey(key) {
		return false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		s, ok := p.str()
		if !ok {
			return false
		}
		switch key {
		case "client":
			a.Client = s
		case "host":
			a.Host = s
		case "dest":
			a.Dest = s
		case "method":
			a.Method = s
		case "decision":
			a.Decision = s
		case "url":
			a.URL = s
		case "rule":
			a.Rule = s
		case "reason":
			a.Reason = s
		case "ts", "status", "bytes_in", "bytes_out", "duration_ms":
			return false
		}
		return true
	case c == '-' || (c >= '0' && c <= '9'):
		raw, ok := p.number()
		if !ok {
			return false
		}
		var err error
		switch key {
		case "ts":
			a.TS, err = strconv.ParseFloat(raw, 64)
		case "duration_ms":
			var f float64
			f, err = strconv.ParseFloat(raw, 64)
			a.DurationMs = int64(f)
		case "status":
			a.Status, err = strconv.Atoi(raw)
		case "bytes_in":
			a.BytesIn, err = strconv.ParseInt(raw, 10, 64)
			a.HasBytes = true
		case "bytes_out":
			a.BytesOut, err = strconv.ParseInt(raw, 10, 64)
			a.HasBytes = true
		case "client", "host", "dest", "method", "decision", "url", "rule", "reason":
			return false
		}
		return err == nil
	case p.literal("null"):
		return true // as encoding/json: null leaves the field unset
	case p.literal("true"), p.literal("false"):
		switch key {
		case "ts", "status", "bytes_in", "bytes_out", "duration_ms", "client", "host", "dest", "method", "decision", "url", "rule", "reason":
			return false
		}
		return true
	}
	return false
}
