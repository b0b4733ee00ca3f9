package cloudauth

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errExpiredOnArrival: a refresh succeeded but returned an already expired
// credential.
var errExpiredOnArrival = errors.New("the token endpoint returned an already expired credential")

// cache holds one credential and refreshes it before it expires:
//   - before refreshAt the cached value is returned;
//   - between refreshAt and expiry it is still returned while one
//     background refresh runs;
//   - once expired (or before the first success) callers wait for a
//     refresh, bounded by their context.
//
// refreshAt is min(75% of the lifetime, lifetime - 5 min) as the original,
// but never earlier than half the lifetime, so a short-lived token is not
// refreshed on every request. A failed refresh is not retried for
// retryDelay; callers in that window get the last error at once.
type cache[T any] struct {
	fetch      func(ctx context.Context) (T, time.Time, error) // value and its expiry
	now        func() time.Time
	timeout    time.Duration // per fetch
	retryDelay time.Duration

	mu        sync.Mutex
	val       T
	have      bool
	exp       time.Time
	refreshAt time.Time
	inflight  chan struct{}
	lastErr   error
	failedAt  time.Time
	fetches   int
}

func newCache[T any](fetch func(ctx context.Context) (T, time.Time, error), now func() time.Time) *cache[T] {
	if now == nil {
		now = time.Now
	}
	return &cache[T]{fetch: fetch, now: now, timeout: 30 * time.Second, retryDelay: 2 * time.Second}
}

func refreshPoint(obtained, exp time.Time) time.Time {
	life := exp.Sub(obtained)
	in := min(life*3/4, life-5*time.Minute)
	in = max(in, life/2)
	return obtained.Add(in)
}

// get returns a valid value, refreshing as described above.
func (c *cache[T]) get(ctx context.Context) (T, error) {
	c.mu.Lock()
	now := c.now()
	if c.have && now.Before(c.exp) {
		if !now.Before(c.refreshAt) && c.inflight == nil && now.Sub(c.failedAt) >= c.retryDelay {
			c.start()
		}
		v := c.val
		c.mu.Unlock()
		return v, nil
	}
	if c.inflight == nil {
		if c.lastErr != nil && now.Sub(c.failedAt) < c.retryDelay {
			err := c.lastErr
			c.mu.Unlock()
			var zero T
			return zero, err
		}
		c.start()
	}
	ch := c.inflight
	c.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.have && c.now().Before(c.exp) {
		return c.val, nil
	}
	var zero T
	if c.lastErr != nil {
		return zero, c.lastErr
	}
	return zero, errExpiredOnArrival
}

// start runs one fetch in the background; c.mu is held.
func (c *cache[T]) start() {
	ch := make(chan struct{})
	c.inflight = ch
	c.fetches++
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		defer cancel()
		obtained := c.now()
		v, exp, err := c.fetch(ctx)
		c.mu.Lock()
		if err != nil {
			c.lastErr, c.failedAt = err, c.now()
		} else {
			c.val, c.have, c.exp, c.lastErr = v, true, exp, nil
			c.refreshAt = refreshPoint(obtained, exp)
		}
		c.inflight = nil
		c.mu.Unlock()
		close(ch)
	}()
}

// prime starts the first fetch without waiting (at start-up).
func (c *cache[T]) prime() {
	c.mu.Lock()
	if !c.have && c.inflight == nil {
		c.start()
	}
	c.mu.Unlock()
}

// count is how many fetches ran (tests).
func (c *cache[T]) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fetches
}
