package usage

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"io"
	"slices"
	"sync"
)

const (
	maxWSMessage = 1 << 20
	flateWindow  = 32 << 10
)

// deflateTail is the empty stored block permessage-deflate strips from the
// end of every message (RFC 7692 section 7.2.2). deflateEnd restores it and
// adds an empty final block, so the decoder stops with io.EOF exactly at
// the end of the message instead of asking for more input.
var (
	deflateTail = []byte{0x00, 0x00, 0xff, 0xff}
	deflateEnd  = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}
)

type wsState uint8

const (
	wsStart   wsState = iota // first byte decides: HTTP response or frames
	wsHTTP                   // skipping a 101 response head
	wsHeader                 // reading a frame header
	wsPayload                // reading a frame payload
	wsClosed                 // after a close frame
)

// WSTracker observes the server-to-client bytes of a WebSocket after the 101
// response (a leading HTTP response head is skipped if present). It parses
// RFC 6455 frames, reassembles text messages (up to 1 MiB each), inflates
// permessage-deflate messages (RSV1) and feeds each message to the same
// event parser as SSE.
type WSTracker struct {
	mu       sync.Mutex
	provider string
	acc      accum
	finished bool
	bytes    int64

	state   wsState
	crlf    int // matched bytes of "\r\n\r\n" while skipping the HTTP head
	hdr     [14]byte
	hdrN    int
	hdrNeed int

	// the current frame
	fin       bool
	opcode    byte
	masked    bool
	mask      [4]byte
	maskPos   int
	remaining uint64
	control   bool

	// the current data message
	inMsg      bool
	text       bool
	compressed bool
	collect    bool
	over       bool
	msg        []byte

	// permessage-deflate state: the peer may use context takeover, so each
	// message is inflated with the previous output as dictionary.
	hist     []byte // recent output; the last 32 KiB is the window
	src      bytes.Reader
	inflater io.ReadCloser
	out      []byte
	inflated int // messages inflated, for tests and diagnostics

	maxMsg    int                          // 0: maxWSMessage
	onMessage func(msg []byte, whole bool) // see SetOnMessage
}

// SetOnMessage makes the tracker call f with each text message, in order,
// as its last frame arrives (inflated; whole false and msg nil when it was
// too large to keep). f runs with the tracker locked: it must not call the
// tracker, and msg is only valid during the call.
func (t *WSTracker) SetOnMessage(f func(msg []byte, whole bool)) { t.onMessage = f }

// SetMaxMessage sets the largest message kept (default 1 MiB).
func (t *WSTracker) SetMaxMessage(n int) { t.maxMsg = n }

func (t *WSTracker) limit() int {
	if t.maxMsg > 0 {
		return t.maxMsg
	}
	return maxWSMessage
}

// AtBoundary reports whether the bytes seen so far end exactly between
// two messages (no frame or fragmented message open), where another frame
// could be spliced into the stream.
func (t *WSTracker) AtBoundary() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state == wsStart || t.state == wsHeader && t.hdrN == 0 && !t.inMsg
}

// EventUsage is the usage one event (SSE data, WebSocket message) reports.
func EventUsage(msg []byte) Usage {
	var a accum
	a.event(msg)
	return a.u
}

// NewWSTracker prepares a tracker for one WebSocket connection.
func NewWSTracker(provider string) *WSTracker {
	return &WSTracker{provider: provider, hdrNeed: 2}
}

// Provider is the label the tracker was created with.
func (t *WSTracker) Provider() string { return t.provider }

// Bytes is the number of bytes observed.
func (t *WSTracker) Bytes() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.bytes
}

// Write observes p, which it neither modifies nor retains; it always
// returns len(p), nil.
func (t *WSTracker) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if t.finished {
		return n, nil
	}
	t.bytes += int64(n)
	for len(p) > 0 {
		switch t.state {
		case wsStart:
			if p[0] == 'H' { // 0x48 would be a fragmented control frame: invalid
				t.state = wsHTTP
			} else {
				t.state = wsHeader
			}
		case wsHTTP:
			p = t.skipHTTP(p)
		case wsHeader:
			p = t.readHeader(p)
		case wsPayload:
			p = t.readPayload(p)
		case wsClosed:
			return n, nil
		}
	}
	return n, nil
}

func (t *WSTracker) skipHTTP(p []byte) []byte {
	const end = "\r\n\r\n"
	for i, c := range p {
		switch {
		case c == end[t.crlf]:
			t.crlf++
		case c == '\r':
			t.crlf = 1
		default:
			t.crlf = 0
		}
		if t.crlf == len(end) {
			t.state = wsHeader
			return p[i+1:]
		}
	}
	return nil
}

func (t *WSTracker) readHeader(p []byte) []byte {
	for len(p) > 0 && t.hdrN < t.hdrNeed {
		c := copy(t.hdr[t.hdrN:t.hdrNeed], p)
		t.hdrN += c
		p = p[c:]
		if t.hdrN == 2 {
			t.hdrNeed = 2
			switch t.hdr[1] & 0x7f {
			case 126:
				t.hdrNeed += 2
			case 127:
				t.hdrNeed += 8
			}
			if t.hdr[1]&0x80 != 0 {
				t.hdrNeed += 4
			}
		}
	}
	if t.hdrN < t.hdrNeed {
		return p
	}
	h := t.hdr[:t.hdrN]
	t.fin = h[0]&0x80 != 0
	rsv1 := h[0]&0x40 != 0
	t.opcode = h[0] & 0x0f
	t.masked = h[1]&0x80 != 0
	i := 2
	switch l := h[1] & 0x7f; l {
	case 126:
		t.remaining = uint64(binary.BigEndian.Uint16(h[2:]))
		i += 2
	case 127:
		t.remaining = binary.BigEndian.Uint64(h[2:])
		i += 8
	default:
		t.remaining = uint64(l)
	}
	if t.masked {
		copy(t.mask[:], h[i:i+4])
	}
	t.maskPos = 0
	t.hdrN, t.hdrNeed = 0, 2
	t.startFrame(rsv1)
	t.state = wsPayload
	if t.remaining == 0 {
		t.endFrame()
	}
	return p
}

func (t *WSTracker) startFrame(rsv1 bool) {
	t.control = t.opcode >= 8
	switch t.opcode {
	case 0x1, 0x2: // a new message; an unfinished one is abandoned
		t.inMsg = true
		t.text = t.opcode == 0x1
		t.compressed = rsv1
		// Compressed binary messages are inflated too, only to keep the
		// shared deflate window right for the text messages after them.
		t.collect = t.text || t.compressed
		t.over = false
		t.msg = t.msg[:0]
	case 0x0:
		if !t.inMsg {
			t.collect = false
		}
	default:
		if !t.control {
			t.inMsg, t.collect = false, false // reserved opcode
		}
	}
}

func (t *WSTracker) readPayload(p []byte) []byte {
	n := len(p)
	if uint64(n) > t.remaining {
		n = int(t.remaining)
	}
	chunk := p[:n]
	t.remaining -= uint64(n)
	if !t.control && t.inMsg && t.collect && !t.over {
		if len(t.msg)+n > t.limit() {
			t.over = true
			t.msg = t.msg[:0]
		} else {
			start := len(t.msg)
			t.msg = append(t.msg, chunk...)
			if t.masked {
				m := t.msg[start:]
				for i := range m {
					m[i] ^= t.mask[(t.maskPos+i)&3]
				}
				t.maskPos = (t.maskPos + n) & 3
			}
		}
	}
	if t.remaining == 0 {
		t.endFrame()
	}
	return p[n:]
}

func (t *WSTracker) endFrame() {
	t.state = wsHeader
	if t.control {
		if t.opcode == 0x8 {
			t.state = wsClosed
		}
		return
	}
	if !t.fin || !t.inMsg {
		return
	}
	t.inMsg = false
	if !t.collect {
		return
	}
	msg := t.msg
	if t.compressed {
		if t.over {
			// Inflating later messages against a window we never saw may
			// produce garbage; the JSON parser will then reject it.
			t.hist = t.hist[:0]
			t.notify(nil, false)
			return
		}
		var ok bool
		if msg, ok = t.inflate(msg); !ok {
			t.notify(nil, false)
			return
		}
	}
	if t.text && !t.over {
		t.acc.event(msg)
		t.notify(msg, true)
	} else {
		t.notify(nil, false)
	}
}

func (t *WSTracker) notify(msg []byte, whole bool) {
	if t.onMessage != nil && t.text {
		t.onMessage(msg, whole)
	}
}

// inflate decompresses one permessage-deflate message, capped at 1 MiB of
// output, and slides the window. msg must be t.msg: the tail is appended
// in place so the decoder reads from one *bytes.Reader (its fast path).
func (t *WSTracker) inflate(msg []byte) ([]byte, bool) {
	t.msg = append(msg, deflateEnd...)
	t.src.Reset(t.msg)
	dict := t.hist[len(t.hist)-min(len(t.hist), flateWindow):]
	if t.inflater == nil {
		t.inflater = flate.NewReaderDict(&t.src, dict)
	} else if err := t.inflater.(flate.Resetter).Reset(&t.src, dict); err != nil {
		return nil, false
	}
	t.out = t.out[:0]
	for {
		if len(t.out) > t.limit() {
			t.hist = t.hist[:0]
			return nil, false
		}
		t.out = slices.Grow(t.out, 16<<10)
		n, err := t.inflater.Read(t.out[len(t.out):cap(t.out)])
		t.out = t.out[:len(t.out)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			t.hist = t.hist[:0]
			return nil, false
		}
	}
	t.slide(t.out)
	t.inflated++
	return t.out, true
}

// slide appends out to the history the next message may refer to,
// compacting to the last 32 KiB only when the 64 KiB buffer fills, so the
// copying is amortised over the output.
func (t *WSTracker) slide(out []byte) {
	if len(out) >= flateWindow {
		t.hist = append(t.hist[:0], out[len(out)-flateWindow:]...)
		return
	}
	if len(t.hist)+len(out) > 2*flateWindow {
		keep := t.hist[len(t.hist)-(flateWindow-len(out)):]
		t.hist = append(t.hist[:0], keep...)
	}
	t.hist = append(t.hist, out...)
}

// Finish ends the connection and returns what was found. Idempotent.
func (t *WSTracker) Finish() Usage {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.finished {
		t.finished = true
		t.msg, t.hist, t.out, t.inflater = nil, nil, nil, nil
	}
	return t.acc.u
}
