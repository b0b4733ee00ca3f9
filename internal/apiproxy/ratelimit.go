package apiproxy

import (
	"fmt"
	"sync"
	"time"
)

// window is a sliding window of n slots of slot duration each. Counting by
// slots bounds memory whatever the request rate; the retry time it reports
// is the real moment enough old slots expire (rounded up to the slot), not a
// fixed guess.
type window struct {
	slot   time.Duration
	limit  int64
	counts []int64
	epochs []int64 // epoch (time / slot) each slot was last written in
}

func newWindow(slot time.Duration, n int, limit int64) *window {
	return &window{slot: slot, limit: limit, counts: make([]int64, n), epochs: make([]int64, n)}
}

func (w *window) span() time.Duration { return w.slot * time.Duration(len(w.counts)) }

func (w *window) live(epoch, now int64) bool { return now-epoch < int64(len(w.counts)) }

// count is the sum of the slots still inside the window at now.
func (w *window) count(now time.Time) int64 {
	e := now.UnixNano() / int64(w.slot)
	var sum int64
	for i, c := range w.counts {
		if c != 0 && w.live(w.epochs[i], e) {
			sum += c
		}
	}
	return sum
}

func (w *window) add(now time.Time, n int64) {
	e := now.UnixNano() / int64(w.slot)
	i := int(e % int64(len(w.counts)))
	if w.epochs[i] != e {
		w.epochs[i], w.counts[i] = e, 0
	}
	w.counts[i] += n
}

// wait is how long until adding n fits under the limit: the oldest slots
// expire one by one, and the wait ends when the one that frees enough does.
func (w *window) wait(now time.Time, n int64) time.Duration {
	e := now.UnixNano() / int64(w.slot)
	excess := w.count(now) + n - w.limit
	if excess <= 0 {
		return 0
	}
	for age := int64(len(w.counts)) - 1; age >= 0; age-- {
		ep := e - age
		i := int(((ep % int64(len(w.counts))) + int64(len(w.counts))) % int64(len(w.counts)))
		if w.epochs[i] != ep || w.counts[i] == 0 {
			continue
		}
		excess -= w.counts[i]
		if excess <= 0 {
			expiry := time.Unix(0, (ep+int64(len(w.counts)))*int64(w.slot))
			return expiry.Sub(now)
		}
	}
	return w.span() // n alone exceeds the limit: the best answer is a full window
}

// limitKind names one of the three limits as the original does.
type limitKind struct {
	key    string // rpm | rph | bytes_pm (metric label, status key)
	window string // per_minute | per_hour | per_minute_bytes
	unit   string // words in the message
}

var (
	kindRPM   = limitKind{"rpm", "per_minute", "requests per minute"}
	kindRPH   = limitKind{"rph", "per_hour", "requests per hour"}
	kindBytes = limitKind{"bytes_pm", "per_minute_bytes", "bytes per minute"}
)

// limiter holds one provider's three windows.
type limiter struct {
	mu    sync.Mutex
	rpm   *window
	rph   *window
	bytes *window
}

func newLimiter(c RateLimitConfig) *limiter {
	return &limiter{
		rpm:   newWindow(time.Second, 60, c.RPM),
		rph:   newWindow(time.Minute, 60, c.RPH),
		bytes: newWindow(time.Second, 60, c.BytesPM),
	}
}

// rateDecision is the outcome of one rate-limit check.
type rateDecision struct {
	Allowed    bool
	Kind       limitKind
	Limit      int64
	Remaining  int64
	RetryAfter time.Duration
	Reset      time.Time
}

// RetryAfterSeconds rounds the wait up: a client that waits exactly this
// long is admitted.
func (d rateDecision) RetryAfterSeconds() int64 {
	s := int64((d.RetryAfter + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// Message is the original's human-readable 429 text.
func (d rateDecision) Message(provider string) string {
	return fmt.Sprintf("Rate limit exceeded for %s provider. Limit: %d %s. Retry after %d seconds.",
		provider, d.Limit, d.Kind.unit, d.RetryAfterSeconds())
}

// check admits and records one request of n bytes, or says which limit it
// hits first (rpm, then rph, then bytes). A denied request is not recorded.
func (l *limiter) check(now time.Time, n int64) rateDecision {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range []struct {
		w    *window
		kind limitKind
		n    int64
	}{{l.rpm, kindRPM, 1}, {l.rph, kindRPH, 1}, {l.bytes, kindBytes, n}} {
		if c.n == 0 {
			continue
		}
		if wait := c.w.wait(now, c.n); wait > 0 {
			return rateDecision{
				Kind: c.kind, Limit: c.w.limit,
				Remaining:  max(0, c.w.limit-c.w.count(now)),
				RetryAfter: wait, Reset: now.Add(wait),
			}
		}
	}
	l.rpm.add(now, 1)
	l.rph.add(now, 1)
	if n > 0 {
		l.bytes.add(now, n)
	}
	return rateDecision{Allowed: true}
}

// windowStatus is one limit in /health's rate_limits.
type windowStatus struct {
	Limit     int64 `json:"limit"`
	Remaining int64 `json:"remaining"`
	Reset     int64 `json:"reset"` // epoch seconds when the oldest counted slot expires
}

func (l *limiter) status(now time.Time) map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := func(w *window) windowStatus {
		c := w.count(now)
		reset := now
		if c > 0 {
			reset = now.Add(w.wait(now, w.limit-c+1))
		}
		return windowStatus{Limit: w.limit, Remaining: max(0, w.limit-c), Reset: reset.Unix()}
	}
	return map[string]any{"enabled": true, "rpm": st(l.rpm), "rph": st(l.rph), "bytes_pm": st(l.bytes)}
}
