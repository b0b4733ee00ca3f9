package usage

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// limits bounds the memory and CPU one tracked response may cost.
type limits struct {
	maxBody    int   // buffered JSON body (decoded)
	maxEvent   int   // one SSE event or ndjson line
	maxPending int   // compressed bytes waiting for the decoder
	maxDecoded int64 // decoded bytes per response
}

var defaultLimits = limits{
	maxBody:    16 << 20,
	maxEvent:   16 << 20,
	maxPending: 16 << 20,
	maxDecoded: 64 << 20,
}

// Tracker observes a copy of one HTTP response body as it streams to the
// client. Write and Finish may be called from different goroutines. A
// compressed body is decoded on a goroutine started by the first Write, so
// a Tracker that was written to must be finished.
type Tracker struct {
	mu        sync.Mutex
	provider  string
	streaming bool
	acc       accum
	sink      sink     // nil: nothing to track
	encs      []string // content decoders to apply, outermost first
	lim       limits
	feed      *feed
	done      chan struct{}
	bytes     int64
	finished  bool
}

// NewTracker prepares a tracker for a response with upstream headers h.
func NewTracker(provider string, h http.Header) *Tracker {
	return newTracker(provider, h, defaultLimits)
}

func newTracker(provider string, h http.Header, lim limits) *Tracker {
	t := &Tracker{provider: provider}
	encs, ok := parseEncodings(strings.Join(h.Values("Content-Encoding"), ","))
	if !ok {
		return t
	}
	switch mediaType(h.Get("Content-Type")) {
	case "text/event-stream":
		t.streaming = true
		t.sink = &streamSink{acc: &t.acc, maxEvent: lim.maxEvent}
	case MediaEventStream: // Bedrock streaming (eventstream.go)
		t.streaming = true
		t.sink = &eventStreamSink{acc: &t.acc, maxEvent: lim.maxEvent}
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines":
		t.streaming = true
		t.sink = &streamSink{acc: &t.acc, ndjson: true, maxEvent: lim.maxEvent}
	default:
		js := &jsonSink{max: lim.maxBody}
		if n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
			if len(encs) == 0 && n > int64(lim.maxBody) {
				return t // too big to buffer: skip it entirely
			}
			if len(encs) == 0 {
				js.hint = int(n)
			}
		}
		t.sink = js
	}
	t.encs, t.lim = encs, lim
	return t
}

// startDecoder runs the content decoders on their own goroutine, fed
// through a feed: they pull through io.Reader, and Write must not block.
// It starts at the first byte, so a tracker that sees no body costs none.
func (t *Tracker) startDecoder() {
	t.feed = newFeed(t.lim.maxPending)
	t.done = make(chan struct{})
	go func(f *feed, s sink, done chan struct{}) {
		defer close(done)
		decodeInto(s, t.encs, f, t.lim.maxDecoded)
		f.kill()
	}(t.feed, t.sink, t.done)
}

func mediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// Write observes p, which it neither modifies nor retains. It always
// returns len(p), nil so it can sit in an io.MultiWriter or TeeReader.
func (t *Tracker) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.finished {
		return len(p), nil
	}
	t.bytes += int64(len(p))
	switch {
	case t.sink == nil || len(p) == 0:
	case len(t.encs) > 0:
		if t.feed == nil {
			t.startDecoder()
		}
		t.feed.push(p)
	default:
		if !t.sink.write(p) {
			t.sink = nil
		}
	}
	return len(p), nil
}

// Finish ends the body (complete or aborted) and returns what was found.
// It is idempotent; later Writes are ignored.
func (t *Tracker) Finish() Usage {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.finished {
		return t.acc.u
	}
	t.finished = true
	if t.feed != nil {
		t.feed.close()
		<-t.done
	}
	if t.sink != nil {
		t.sink.finish(&t.acc)
		t.sink = nil
	}
	return t.acc.u
}

// Streaming reports whether the body is an event stream (SSE or ndjson).
func (t *Tracker) Streaming() bool { return t.streaming }

// Provider is the label the tracker was created with.
func (t *Tracker) Provider() string { return t.provider }

// Bytes is the number of body bytes observed, as sent to the client.
func (t *Tracker) Bytes() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.bytes
}
