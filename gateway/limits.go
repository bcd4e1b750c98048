package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/pgw/pgw/wire"
	"golang.org/x/time/rate"
)

// newLimiter is a connection's frame token bucket (§6; the tenant's
// limits when its policy has them, §9).
func newLimiter(perSecond float64, burst int) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(perSecond), burst)
}

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
