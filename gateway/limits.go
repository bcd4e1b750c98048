package gateway

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/pgw/pgw/wire"
)

// frameBucket is a connection's frame token bucket (§6; the tenant's
// limits when its policy has them, §9): rate.Limiter's Allow, decision for
// decision (TestFrameBucketMatchesRateLimiter), in 32 bytes inside the conn
// instead of a pointer to an 80-byte rate.Limiter with a mutex and
// reservation state a reader-goroutine-only bucket never needs. Reader
// goroutine only; the zero value allows nothing.
type frameBucket struct {
	rate   float64 // tokens per second (positive)
	tokens float64 // after the last allowed frame
	last   int64   // monoNow of the last allowed frame
	burst  int32
}

func newFrameBucket(perSecond float64, burst int, now int64) frameBucket {
	return frameBucket{rate: perSecond, tokens: float64(burst), last: now, burst: int32(burst)}
}

// allow takes a token at now (monoNow) if one is there, computing as
// rate.Limiter.AllowN(now, 1) does: the tokens grown since the last allowed
// frame, capped at burst, minus one; allowed unless that leaves a wait of
// at least a nanosecond (an infinite rate allows everything).
func (b *frameBucket) allow(now int64) bool {
	if math.IsInf(b.rate, 1) {
		return true
	}
	last := min(b.last, now)
	tokens := min(b.tokens+time.Duration(now-last).Seconds()*b.rate, float64(b.burst))
	tokens--
	if b.burst < 1 || tokens < 0 && -tokens/b.rate*float64(time.Second) >= 1 {
		return false
	}
	b.tokens, b.last = tokens, now
	return true
}

// monoBase is the origin of monoNow.
var monoBase = time.Now()

// monoNow is the monotonic clock in nanoseconds since monoBase: an 8-byte
// time for per-connection state (a time.Time is 24).
func monoNow() int64 { return int64(time.Since(monoBase)) }

// monoAt is t (a time.Now reading) on monoNow's scale.
func monoAt(t time.Time) int64 { return int64(t.Sub(monoBase)) }

// floodQuiet is the pause that ends a flood: a connection with no frame
// dropped for this long starts afresh (it is also the Retry-After of a
// dropped frame, so a client that honours it is never closed).
const floodQuiet = time.Second

// flood tracks one connection's run of rate-limited frames. Frames that
// pass between drops do not end the run: a client sending at twice the
// rate has every other frame dropped and is flooding, even when each frame
// it gets through costs a store round trip. Reader goroutine only.
type flood struct {
	start, last time.Time
}

// dropped records a dropped frame at now and reports whether the run has
// lasted sustain: the connection is then closed 4429.
func (f *flood) dropped(now time.Time, sustain time.Duration) bool {
	if f.last.IsZero() || now.Sub(f.last) >= floodQuiet {
		f.start = now
	}
	f.last = now
	return now.Sub(f.start) >= sustain
}

// writesStore reports whether a frame type reaches the store (a write, or a
// subscribe's snapshot read): those also draw from the user's budget shared
// by all of the user's connections and HTTP requests on this node.
func writesStore(frameType string) bool {
	switch frameType {
	case wire.TypeStatus, wire.TypeIdle, wire.TypeSubscribe, wire.TypeLogout, wire.TypeIPTSync, wire.TypeIPTEvent:
		return true
	}
	return false
}

// writeKey is a user's key in the node's write budget.
func writeKey(tenant, user string) string { return tenant + "/" + user }

// maxVersionLead is how far ahead of this node's clock a presence version
// from the bus may be. Versions are at least the change time in
// microseconds, so only a broken clock or a bug makes one lead by minutes;
// taking it would make every real change after it look old.
const maxVersionLead = 10 * time.Minute

// rereads are users whose bus presence was refused as implausible; the
// node re-reads them from the store.
type rereads struct {
	mu sync.Mutex
	m  map[userKey]bool
}

func (r *rereads) add(tenant, user string) {
	r.mu.Lock()
	if r.m == nil {
		r.m = map[userKey]bool{}
	}
	r.m[userKey{tenant, user}] = true
	r.mu.Unlock()
}

func (r *rereads) take() map[userKey]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.m
	r.m = nil
	return m
}

// rereadLoop delivers the store's state of the users whose bus version was
// refused (the store is the truth; its version is taken as it is).
func (n *Node) rereadLoop(ctx context.Context, _ time.Time) {
	for k := range n.rereads.take() {
		ps, err := n.store.GetMany(ctx, k.tenant, []string{k.user})
		if err != nil || len(ps) != 1 {
			n.rereads.add(k.tenant, k.user)
			continue
		}
		if p := ps[0]; p.Version > 0 {
			n.deliverPresence(p.Tenant, p.User, p.Version, mustJSON(p))
		}
	}
}
