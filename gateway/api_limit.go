package gateway

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// keyedLimiter is the HTTP API's request rate limit: one token bucket per
// key (an authenticated principal or a client address), with the same
// budget as a WebSocket connection's frames (PGW_RATE_LIMIT per second,
// burst PGW_RATE_BURST). It starts no goroutine: buckets idle long enough
// to be full again are dropped while new keys arrive, so memory stays
// bounded by the keys active within one refill time.
type keyedLimiter struct {
	limit rate.Limit
	burst int
	// idle is how long a bucket takes to refill completely; a bucket idle
	// that long is the same as a new one and may be forgotten.
	idle time.Duration

	mu      sync.Mutex
	buckets map[string]*bucket
	sweepAt int // sweep when the map reaches this size
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

// minSweep is the map size below which no sweep runs.
const minSweep = 1024

func newKeyedLimiter(perSecond float64, burst int) *keyedLimiter {
	idle := time.Duration(float64(burst)/perSecond*float64(time.Second)) + time.Second
	return &keyedLimiter{limit: rate.Limit(perSecond), burst: burst, idle: idle,
		buckets: map[string]*bucket{}, sweepAt: minSweep}
}

// allow takes one token for key. When none is left it reports false and
// the whole seconds until one is (at least 1), for Retry-After.
func (k *keyedLimiter) allow(key string, now time.Time) (retryAfter int, ok bool) {
	return k.allowAt(key, now, k.limit, k.burst)
}

// allowAt is allow with the key's own rate and burst (a tenant's policy):
// a bucket made at another rate takes the new one from now on.
func (k *keyedLimiter) allowAt(key string, now time.Time, limit rate.Limit, burst int) (retryAfter int, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	b := k.buckets[key]
	if b == nil {
		if len(k.buckets) >= k.sweepAt {
			k.sweep(now)
		}
		b = &bucket{lim: rate.NewLimiter(limit, burst)}
		k.buckets[key] = b
	} else if b.lim.Limit() != limit || b.lim.Burst() != burst {
		b.lim.SetLimitAt(now, limit)
		b.lim.SetBurstAt(now, burst)
	}
	b.last = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return max(1, int(math.Ceil(d.Seconds()))), false
	}
	return 0, true
}

// sweep drops the buckets idle for a whole refill time and sets the next
// sweep size so sweeping costs O(1) per new key.
func (k *keyedLimiter) sweep(now time.Time) {
	for key, b := range k.buckets {
		// A bucket's own refill time: a tenant's rate may differ from k's.
		idle := max(k.idle, time.Duration(float64(b.lim.Burst())/float64(b.lim.Limit())*float64(time.Second))+time.Second)
		if now.Sub(b.last) >= idle {
			delete(k.buckets, key)
		}
	}
	k.sweepAt = max(minSweep, 2*len(k.buckets))
}
