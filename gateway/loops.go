package gateway

import (
	"context"
	"time"

	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/wire"
)

// startLoops starts the node's background work; Shutdown stops it.
func (n *Node) startLoops() {
	n.lastBeat = time.Now() // New's first heartbeat
	if n.cfg.Reader != ReaderGoroutine {
		p, err := newPoller(n)
		if err != nil {
			n.log.Warn("PGW_READER=epoll unavailable: one reader goroutine per connection", "err", err)
		}
		n.poll = p
	}
	n.loop("reads", n.readSweepEvery(), n.sweepReads)
	n.loop("sweeper", time.Second, n.sweep)
	n.loop("pings", n.pingTick(), n.pingTurn)
	n.loop("heartbeat", n.cfg.NodeTTL/4, n.heartbeat)
	// Reaping checks more often than heartbeats go, so a dead node is found
	// soon after its TTL lapses (NodeTTL + reapEvery, within 10s at defaults).
	n.loop("reaper", n.reapEvery(), n.reap)
	n.loop("grace", n.graceTick(), n.expireGrace)
	n.loop("bridges", time.Second, n.expireHTTPBridges)
	n.loop("rereads", time.Second, n.rereadLoop)
	if n.cfg.ResyncEvery > 0 {
		n.loop("anti-entropy", n.cfg.ResyncEvery, n.antiEntropy)
	}
}

// graceTick is how often pending grace expiries are checked: a twentieth of
// the grace (so offline comes at most 5% late), between 50ms and 500ms.
func (n *Node) graceTick() time.Duration {
	return min(max(n.cfg.Grace/20, 50*time.Millisecond), 500*time.Millisecond)
}

// loop runs f every period until the node stops.
func (n *Node) loop(name string, period time.Duration, f func(ctx context.Context, now time.Time)) {
	n.loops.Add(1)
	go func() {
		defer n.loops.Done()
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-n.stop:
				return
			case now := <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), max(period, time.Second)*2)
				f(ctx, now)
				cancel()
			}
		}
	}()
}

// pingTick is the pinger's period: a fiftieth of the heartbeat, between
// 20ms and 1s.
func (n *Node) pingTick() time.Duration {
	return min(max(n.cfg.Heartbeat/50, 20*time.Millisecond), time.Second)
}

// pingTurn pings the connections whose turn it is: the one in readers slot
// i at every turn t with t ≡ i (mod k), k = Heartbeat / pingTick, so each
// connection is pinged once per Heartbeat at the latest and a node's pings
// are spread evenly over the period. (The sweep used to ping every
// connection that fell due in its last second at once: a burst of writes
// and pongs each second that showed as the fan-out's p99, 36 ms against
// 15 ms with rare pings; docs/benchmarks.md, "Fan-out, fourth pass".) One
// loop for all connections costs less memory than a timer per connection.
func (n *Node) pingTurn(_ context.Context, _ time.Time) {
	k := max(int(n.cfg.Heartbeat/n.pingTick()), 1)
	t := n.pingNext % k
	n.pingNext = t + 1
	for _, c := range n.readers.stride(t, k) {
		c.ping()
	}
}

// sweep is the one timer of all connections for expiring notices and
// token expiry (pings: pingTurn).
func (n *Node) sweep(_ context.Context, now time.Time) {
	for _, c := range n.hub.all() {
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			continue
		}
		var exp time.Time // zero for a login: its expiry is the tracker's (logins.go)
		if c.expires != 0 {
			exp = time.Unix(c.expires, 0)
		}
		var notify, expired bool
		if !exp.IsZero() {
			if !now.Before(exp) {
				expired = true
			} else if !c.expiringSent && !now.Before(exp.Add(-n.cfg.ExpiringNotice)) {
				c.expiringSent = true
				notify = true
			}
		}
		c.mu.Unlock()
		switch {
		case expired:
			c.closeWith(problem.CloseAuth, problem.TokenExpired, true)
		case notify:
			c.send(mustJSON(expiringFrame{Type: wire.TypeExpiring, Expires: exp.Unix()}))
		}
	}
	n.metrics.connections.Set(float64(n.hub.count()))
	n.recent.prune(now)
}

// heartbeat keeps this node alive in the store and retries disconnects the
// store did not take. A node that finds itself declared dead (or whose store
// lost its state) re-asserts its connections.
func (n *Node) heartbeat(ctx context.Context, now time.Time) {
	alive, err := n.store.Heartbeat(ctx, n.cfg.NodeID, now)
	if err != nil {
		n.log.Warn("heartbeat failed", "err", err)
		return
	}
	// A heartbeat that failed here may still have run in the store (its
	// reply lost on a slow link) and consumed the reaped mark: after no
	// heartbeat got through for NodeTTL, the others may have reaped this
	// node without it ever hearing so. Re-assert then too (it is idempotent).
	// Measured when the heartbeat got through, not from the tick's time: a
	// heartbeat that started before the process was paused carries a tick
	// from before the pause, and the next tick would then find a lapse
	// and re-assert a second time (closing the bridges that had just
	// reconnected and synced).
	got := time.Now()
	lapsed := got.Sub(n.lastBeat) >= n.cfg.NodeTTL
	n.lastBeat = got
	verify := n.verifyConns.Swap(false)
	switch {
	case !alive:
		n.log.Warn("this node was declared dead: re-asserting its connections")
		n.reassert(ctx)
	case lapsed:
		n.log.Warn("no heartbeat got through for PGW_NODE_TTL: re-asserting its connections in case it was declared dead")
		n.reassert(ctx)
	case verify:
		n.assertAll(ctx, n.hub.all(), now)
	}
	n.retryAsserts(ctx, now)
	n.restoreManual(ctx, now)
	n.retryDrops(ctx, now)
}

// reapEvery is the reaper's period: NodeTTL/8, between 100ms and 1s.
func (n *Node) reapEvery() time.Duration {
	return min(max(n.cfg.NodeTTL/8, 100*time.Millisecond), time.Second)
}

// reap removes the connections of dead nodes and publishes what changed.
func (n *Node) reap(ctx context.Context, now time.Time) {
	ended, err := n.store.ReapDeadNodes(ctx, now)
	if err != nil {
		n.log.Warn("reaping dead nodes failed", "err", err)
		return
	}
	if len(ended) > 0 {
		n.log.Info("reaped sessions of dead nodes", "sessions", len(ended))
		n.publishEnded(ended)
		n.sessionsEnded(ctx, ended, now)
	}
}

// expireGrace ends sessions whose grace ran out.
func (n *Node) expireGrace(ctx context.Context, now time.Time) {
	ended, err := n.store.ExpireDue(ctx, now)
	if err != nil {
		n.log.Warn("grace expiry failed", "err", err)
		return
	}
	n.publishEnded(ended)
	n.sessionsEnded(ctx, ended, now)
}
