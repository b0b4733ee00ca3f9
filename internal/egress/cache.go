package egress

import (
	"context"
	"net/netip"
	"sync"
	"time"
)

// cachingResolver keeps answers briefly, as Squid's ipcache does: every
// tunnel to the same name would otherwise cost a lookup (two queries when
// DNS servers are configured). Go's resolver does not expose TTLs, so
// answers live for a fixed, short time; failures for less.
type cachingResolver struct {
	next    Resolver
	ttl     time.Duration
	negTTL  time.Duration
	max     int
	now     func() time.Time
	mu      sync.Mutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	addrs []netip.Addr
	err   error
	until time.Time
}

func newCachingResolver(next Resolver) *cachingResolver {
	return &cachingResolver{next: next, ttl: 10 * time.Second, negTTL: 2 * time.Second, max: 4096,
		now: time.Now, entries: map[string]cacheEntry{}}
}

// LookupNetIP answers network "ip" queries from the cache; "ip4"/"ip6"
// are filtered from the same entry.
func (c *cachingResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[host]
	c.mu.Unlock()
	if !ok || now.After(e.until) {
		addrs, err := c.next.LookupNetIP(ctx, "ip", host)
		if ctx.Err() != nil {
			return nil, err // a cancelled lookup says nothing about the name
		}
		e = cacheEntry{addrs: addrs, err: err, until: now.Add(c.ttl)}
		if err != nil {
			e.until = now.Add(c.negTTL)
		}
		c.mu.Lock()
		if len(c.entries) >= c.max {
			clear(c.entries) // crude, bounded, and rare
		}
		c.entries[host] = e
		c.mu.Unlock()
	}
	if e.err != nil {
		return nil, e.err
	}
	if network == "ip" {
		return e.addrs, nil
	}
	var out []netip.Addr
	for _, a := range e.addrs {
		if (network == "ip4") == a.Unmap().Is4() {
			out = append(out, a)
		}
	}
	return out, nil
}
