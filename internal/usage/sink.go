package usage

import "bytes"

// sink consumes the decoded body. write reports false once the sink has
// lost interest (cap exceeded, not JSON), so a decoder can stop early.
type sink interface {
	write(p []byte) bool
	finish(a *accum)
}

// streamSink splits a body into lines and hands events to the accumulator
// as soon as they are complete: SSE (events end at a blank line, data
// lines are joined with "\n") or ndjson (every non-empty line is an event).
// Lines may be split anywhere across writes; \n, \r\n and \r all end a line.
type streamSink struct {
	acc      *accum
	ndjson   bool
	maxEvent int

	partial   []byte // the incomplete last line
	data      []byte // data lines of the current SSE event
	hasData   bool
	lineOver  bool // the current line exceeded maxEvent: drop it
	eventOver bool // the current SSE event exceeded maxEvent: drop it
	afterCR   bool // last byte seen was \r: a leading \n is its partner
}

func (s *streamSink) write(p []byte) bool {
	for len(p) > 0 {
		if s.afterCR {
			s.afterCR = false
			if p[0] == '\n' {
				p = p[1:]
				continue
			}
		}
		seg := p
		nl := bytes.IndexByte(p, '\n')
		if nl >= 0 {
			seg = p[:nl]
		}
		var consumed int
		if cr := bytes.IndexByte(seg, '\r'); cr >= 0 {
			seg = seg[:cr]
			consumed = cr + 1
			if consumed == len(p) {
				s.afterCR = true
			} else if p[consumed] == '\n' {
				consumed++
			}
		} else if nl >= 0 {
			consumed = nl + 1
		} else {
			s.appendPartial(p)
			return true
		}
		p = p[consumed:]
		if s.lineOver {
			s.lineOver = false
			s.eventOver = !s.ndjson
			continue
		}
		if len(s.partial) > 0 {
			s.appendPartial(seg)
			if s.lineOver {
				s.lineOver = false
				s.eventOver = !s.ndjson
				continue
			}
			seg = s.partial
		}
		s.line(seg)
		s.partial = s.partial[:0]
	}
	return true
}

func (s *streamSink) appendPartial(p []byte) {
	if s.lineOver {
		return
	}
	if len(s.partial)+len(p) > s.maxEvent {
		s.lineOver = true
		s.partial = nil
		return
	}
	s.partial = append(s.partial, p...)
}

func (s *streamSink) line(l []byte) {
	if s.ndjson {
		if len(l) > 0 {
			s.acc.event(l)
		}
		return
	}
	if len(l) == 0 {
		s.dispatch()
		return
	}
	if s.eventOver || l[0] != 'd' || !bytes.HasPrefix(l, []byte("data")) {
		return // comments, event:, id:, retry: and dropped lines
	}
	v := l[4:]
	switch {
	case len(v) == 0:
	case v[0] == ':':
		v = v[1:]
		if len(v) > 0 && v[0] == ' ' {
			v = v[1:]
		}
	default:
		return // a field named data-something
	}
	if s.hasData {
		s.data = append(s.data, '\n')
	}
	if len(s.data)+len(v) > s.maxEvent {
		s.eventOver = true
		s.data = nil
		return
	}
	s.data = append(s.data, v...)
	s.hasData = true
}

func (s *streamSink) dispatch() {
	if s.hasData && !s.eventOver {
		s.acc.event(s.data)
	}
	s.data = s.data[:0]
	s.hasData = false
	s.eventOver = false
}

// finish treats end of body as end of line and end of event: a stream cut
// short still yields the usage seen so far, and a complete last event that
// lacked its blank line is not lost.
func (s *streamSink) finish(a *accum) {
	if s.lineOver && !s.ndjson {
		s.eventOver = true
	} else if len(s.partial) > 0 {
		s.line(s.partial)
	}
	s.partial = nil
	if !s.ndjson {
		s.dispatch()
	}
}

// jsonSink buffers a body that is parsed at finish. It gives up, dropping
// its copy, when the body does not start like JSON or exceeds max.
type jsonSink struct {
	buf     []byte
	max     int
	hint    int // Content-Length, to size buf once the body looks like JSON
	sniffed bool
	gaveUp  bool
}

func (j *jsonSink) write(p []byte) bool {
	if j.gaveUp {
		return false
	}
	if !j.sniffed {
		t := skipSpace(p)
		if len(t) == 0 {
			return true // whitespace so far: keep nothing, decide later
		}
		if t[0] != '{' && t[0] != '[' {
			j.gaveUp = true
			return false
		}
		j.sniffed = true
		j.buf = make([]byte, 0, max(j.hint, len(t)))
		p = t
	}
	n := len(j.buf) + len(p)
	if n > j.max {
		j.gaveUp = true
		j.buf = nil
		return false
	}
	if n > cap(j.buf) {
		// Double: append's 1.25x growth for large slices would copy a
		// multi-megabyte body five times over.
		j.buf = append(make([]byte, 0, min(max(2*cap(j.buf), n), j.max)), j.buf...)
	}
	j.buf = append(j.buf, p...)
	return true
}

func (j *jsonSink) finish(a *accum) {
	if !j.gaveUp {
		a.parseBody(j.buf)
	}
	j.buf = nil
}
