package usage

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

var errGaveUp = errors.New("usage: decoder gave up")

// parseEncodings turns a Content-Encoding header into the decoders to apply,
// outermost first. ok is false for an encoding we cannot decode.
func parseEncodings(v string) (encs []string, ok bool) {
	for part := range strings.SplitSeq(v, ",") {
		e := strings.ToLower(strings.TrimSpace(part))
		switch e {
		case "", "identity":
		case "gzip", "x-gzip", "deflate", "br", "zstd":
			encs = append(encs, e)
		default:
			return nil, false
		}
	}
	// The header lists codings in the order applied; undo the last first.
	for i, j := 0, len(encs)-1; i < j; i, j = i+1, j-1 {
		encs[i], encs[j] = encs[j], encs[i]
	}
	return encs, true
}

// newDecoder wraps r in one content decoder. close releases decoder
// resources (zstd holds buffers until closed).
func newDecoder(enc string, r io.Reader) (rd io.Reader, close func(), err error) {
	nop := func() {}
	switch enc {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return zr, nop, nil
	case "deflate":
		// RFC 9110 says zlib-wrapped, but some servers send raw deflate.
		br := bufio.NewReader(r)
		if h, err := br.Peek(2); err == nil && isZlibHeader(h) {
			zr, err := zlib.NewReader(br)
			if err != nil {
				return nil, nil, err
			}
			return zr, nop, nil
		}
		return flate.NewReader(br), nop, nil
	case "br":
		return brotli.NewReader(r), nop, nil
	case "zstd":
		// RFC 9659 caps the window of HTTP zstd at 8 MB; refusing more
		// bounds what one response can make us allocate.
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(8<<20))
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	}
	return nil, nil, errGaveUp
}

func isZlibHeader(h []byte) bool {
	return h[0]&0x0f == 8 && h[0]>>4 <= 7 && (uint16(h[0])<<8|uint16(h[1]))%31 == 0
}

// feed is the hand-off between Write (which must never block) and the
// decoder goroutine (which pulls through io.Reader). Write appends a copy;
// past max pending bytes, or once the decoder is gone, bytes are dropped
// and the reader gives up.
type feed struct {
	mu     sync.Mutex
	cond   sync.Cond
	buf    []byte
	off    int
	max    int
	closed bool // no more writes
	dead   bool // the consumer gave up
}

func newFeed(max int) *feed {
	f := &feed{max: max}
	f.cond.L = &f.mu
	return f
}

func (f *feed) push(p []byte) {
	f.mu.Lock()
	if f.closed || f.dead {
		f.mu.Unlock()
		return
	}
	pending := len(f.buf) - f.off
	if pending+len(p) > f.max {
		f.dead = true
		f.buf = nil
		f.mu.Unlock()
		f.cond.Signal()
		return
	}
	if f.off > 0 && len(f.buf)+len(p) > cap(f.buf) {
		n := copy(f.buf, f.buf[f.off:])
		f.buf, f.off = f.buf[:n], 0
	}
	f.buf = append(f.buf, p...)
	f.mu.Unlock()
	f.cond.Signal()
}

func (f *feed) close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.cond.Signal()
}

// kill is called by the consumer when it stops reading.
func (f *feed) kill() {
	f.mu.Lock()
	f.dead = true
	f.buf = nil
	f.mu.Unlock()
}

func (f *feed) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.off == len(f.buf) && !f.closed && !f.dead {
		f.cond.Wait()
	}
	if f.dead {
		return 0, errGaveUp
	}
	if f.off == len(f.buf) {
		return 0, io.EOF
	}
	n := copy(p, f.buf[f.off:])
	f.off += n
	if f.off == len(f.buf) {
		f.buf, f.off = f.buf[:0], 0
	}
	return n, nil
}

// decodeInto runs the decoder chain over r and writes the output to s,
// stopping when s loses interest or after maxOut decoded bytes (a
// decompression bomb must not burn the proxy's CPU).
func decodeInto(s sink, encs []string, r io.Reader, maxOut int64) {
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	for _, e := range encs {
		d, c, err := newDecoder(e, r)
		if err != nil {
			return
		}
		closers = append(closers, c)
		r = d
	}
	buf := make([]byte, 32<<10)
	var total int64
	for total < maxOut {
		n, err := r.Read(buf)
		if n > 0 {
			total += int64(n)
			if !s.write(buf[:n]) {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
