package gateway

import (
	"context"
	"sync"
	"time"
)

// republishWindow bounds the publishes a node sends again after NATS
// reconnects. A publish written to a connection that then breaks is lost
// without an error (TCP drops what it had not delivered), and only the
// publishing node knows it published: the other nodes' watchers would keep
// the old state until the user's next change. NATS pings every 5 s and
// gives up after two missed pongs, so a broken connection is noticed well
// within the window. Found by the chaos checker (a reset on a node's NATS
// link).
const republishWindow = 30 * time.Second

// recentPublishes remembers which users this node published lately (by
// monoAt time: 8 bytes a user, not a 24-byte time.Time).
type recentPublishes struct {
	mu     sync.Mutex
	at     map[userKey]int64
	pruned int64
}

func (r *recentPublishes) note(k userKey, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.at == nil {
		r.at = map[userKey]int64{}
	}
	r.at[k] = monoAt(now)
	r.pruneDueLocked(now)
}

// prune forgets what is past the window (the sweeper calls it, so a node
// that stopped publishing after a burst does not keep the burst's users).
func (r *recentPublishes) prune(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneDueLocked(now)
}

func (r *recentPublishes) pruneDueLocked(now time.Time) {
	if monoAt(now)-r.pruned > int64(republishWindow) {
		r.pruneLocked(now)
	}
}

func (r *recentPublishes) pruneLocked(now time.Time) {
	mono := monoAt(now)
	for k, t := range r.at {
		if mono-t > int64(republishWindow) {
			delete(r.at, k)
		}
	}
	if len(r.at) == 0 {
		r.at = nil // a map keeps its largest table: let the GC have it
	}
	r.pruned = mono
}

// users returns, per tenant, the users published within the window.
func (r *recentPublishes) users(now time.Time) map[string][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked(now)
	out := map[string][]string{}
	for k := range r.at {
		out[k.tenant] = append(out[k.tenant], k.user)
	}
	return out
}

// republish publishes again, from the store, every user this node
// published within the window (after a NATS reconnect). Nodes that already
// have a version drop it; those that missed it deliver it.
func (n *Node) republish(ctx context.Context) {
	for t, us := range n.recent.users(time.Now()) {
		for len(us) > 0 {
			batch := us[:min(len(us), 1000)]
			us = us[len(batch):]
			ps, err := n.store.GetMany(ctx, t, batch)
			if err != nil {
				n.log.Warn("republish after reconnect failed", "tenant", t, "err", err)
				break
			}
			for _, p := range ps {
				if p.Version == 0 {
					continue
				}
				if err := n.bus.PublishPresence(p.Tenant, p.User, p.Version, mustJSON(p)); err != nil {
					n.log.Warn("republish presence failed", "tenant", p.Tenant, "user", p.User, "err", err)
				}
			}
		}
	}
}
