package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
)

// faultSchedule injects faults one after another until ctx ends, each
// drawn from the seeded generator and each healed before the next (heal
// cleans up whatever the round's end interrupted).
func (r *run) faultSchedule(ctx context.Context, rng *rand.Rand) {
	for i := 0; ; i++ {
		pause(ctx, time.Duration(200+rng.IntN(1300))*time.Millisecond)
		if ctx.Err() != nil {
			return
		}
		var kind string
		if r.opt.InOrder {
			kind = r.opt.Faults[i%len(r.opt.Faults)]
		} else {
			kind = r.opt.Faults[rng.IntN(len(r.opt.Faults))]
		}
		r.fault(ctx, rng, kind)
	}
}

func (r *run) fault(ctx context.Context, rng *rand.Rand, kind string) {
	e := r.env
	hold := func(min, spread time.Duration) time.Duration {
		return min + time.Duration(rng.Int64N(int64(spread)))
	}
	note := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		r.mu.Lock()
		r.faults = append(r.faults, s)
		r.mu.Unlock()
		r.log("FAULT %s", s)
	}
	switch kind {
	case "latency", "timeout", "reset", "stall":
		ps := e.Proxies()
		if r.opt.RedisLinksOnly {
			ps = nil
			for _, n := range e.Nodes {
				ps = append(ps, n.RedisPxs...)
			}
		}
		if len(ps) == 0 {
			return
		}
		p := ps[rng.IntN(len(ps))]
		stream := []string{"upstream", "downstream"}[rng.IntN(2)]
		var attrs string
		typ := kind
		d := hold(time.Second, 3*time.Second)
		switch kind {
		case "latency":
			typ, attrs = "latency", fmt.Sprintf(`{"latency":%d,"jitter":%d}`, 100+rng.IntN(1400), rng.IntN(300))
		case "timeout":
			attrs = fmt.Sprintf(`{"timeout":%d}`, rng.IntN(2000))
		case "reset":
			typ, attrs = "reset_peer", fmt.Sprintf(`{"timeout":%d}`, rng.IntN(500))
		case "stall":
			// One direction stalls for longer than the gateway's 5 s
			// bound on a frame's work.
			typ, attrs, d = "latency", `{"latency":6000}`, hold(2*time.Second, 4*time.Second)
		}
		for _, n := range e.Nodes {
			if slices.Contains(n.RedisPxs, p) {
				r.suspectNode(n)
			}
		}
		if err := addToxic(p, kind, typ, stream, attrs); err != nil {
			r.log("FAULT %s on %s: %v", kind, p.Name, err)
			return
		}
		note("%s %s on %s %s for %v", kind, attrs, p.Name, stream, d.Round(time.Millisecond))
		pause(ctx, d)
		_ = p.Toxics.RemoveToxic(context.Background(), kind)
	case "kill":
		n := e.Nodes[rng.IntN(len(e.Nodes))]
		if n.Down() {
			return
		}
		d := hold(300*time.Millisecond, 3*time.Second)
		r.suspectNode(n)
		note("kill -9 %s, restart after %v", n.ID, d.Round(time.Millisecond))
		n.Kill()
		pause(ctx, d)
		if err := n.Restart(); err != nil {
			r.log("FAULT restart %s: %v", n.ID, err)
		}
	case "stop":
		n := e.Nodes[rng.IntN(len(e.Nodes))]
		if n.Down() {
			return
		}
		// Longer than PGW_NODE_TTL: the others declare it dead and reap
		// its connections; it wakes up and must re-assert them.
		d := nodeTTL + hold(time.Second, 2*time.Second)
		r.suspectNode(n)
		note("SIGSTOP %s for %v", n.ID, d.Round(time.Millisecond))
		n.Stop()
		pause(context.Background(), d) // a stopped node always wakes, even at the round's end
		n.Cont()
	case "redis":
		if e.Redis == nil {
			return
		}
		d := hold(200*time.Millisecond, 2*time.Second)
		note("Redis killed, restarted empty after %v", d.Round(time.Millisecond))
		e.Redis.Kill()
		pause(context.Background(), d)
		e.Redis.Restart()
	case "nats":
		d := hold(200*time.Millisecond, 2*time.Second)
		note("NATS stopped, restarted after %v", d.Round(time.Millisecond))
		e.NATS.Shutdown()
		pause(context.Background(), d)
		e.NATS.Restart()
	}
}

func addToxic(p *toxiproxy.Proxy, name, typ, stream, attrs string) error {
	body := fmt.Sprintf(`{"name":%q,"type":%q,"stream":%q,"toxicity":1,"attributes":%s}`, name, typ, stream, attrs)
	_, err := p.Toxics.AddToxicJson(strings.NewReader(body))
	return err
}

// suspectNode records that n may be declared dead this round: its users
// may have gone offline meanwhile (which clears a manual status) although
// their clients saw nothing.
func (r *run) suspectNode(n *Node) {
	r.mu.Lock()
	r.suspect[n] = true
	r.mu.Unlock()
}

// touchedBySuspect reports whether user had a connection open on a suspect
// node during this round.
func (r *run) touchedBySuspect(user string) bool {
	r.mu.Lock()
	suspect, start := r.suspect, r.roundStart
	r.mu.Unlock()
	for _, c := range r.allConns() {
		if c.User != user || !suspect[c.Node] {
			continue
		}
		if at := c.ClosedAt(); at.IsZero() || at.After(start) {
			return true
		}
	}
	return false
}
