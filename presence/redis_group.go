package presence

import (
	"context"
	"sync"
)

// groupCommit coalesces concurrent calls into batches (group commit): the
// first caller becomes the leader and runs the batch of everything queued;
// callers arriving meanwhile queue up, and when the leader is done it hands
// the lead to the first of them, which runs the next batch. So a busy node
// sends one pipeline per round trip instead of one per connection, and an
// idle one pays nothing: a lone call is a batch of one. Up to inFlight
// batches run at once (each on its own pooled connection), so one slow
// round trip does not hold up every caller. No goroutine of its own:
// callers do the work.
type groupCommit[Req, Res any] struct {
	max   int
	flush func(ctx context.Context, reqs []Req) []Res

	mu      sync.Mutex
	pending []*groupCall[Req, Res]
	running int // batches in flight
}

// groupInFlight is how many batches of one kind may run at once.
const groupInFlight = 4

type groupCall[Req, Res any] struct {
	req  Req
	res  Res
	lead bool          // woken to lead the next batch rather than with a result
	done chan struct{} // closed when res is set or lead is handed over
}

// do runs req in some batch and returns its result. The batch runs with the
// leader's context values but not its cancellation, since it carries other
// callers' requests; the Redis client's timeouts bound it.
func (g *groupCommit[Req, Res]) do(ctx context.Context, req Req) Res {
	c := &groupCall[Req, Res]{req: req, done: make(chan struct{})}
	g.mu.Lock()
	if g.running >= groupInFlight {
		g.pending = append(g.pending, c)
		g.mu.Unlock()
		<-c.done
		if !c.lead {
			return c.res
		}
		// Handed the lead and its slot (and taken off pending): run the
		// next batch, ours first.
		g.mu.Lock()
	} else {
		g.running++
	}
	n := min(len(g.pending), g.max-1)
	batch := append([]*groupCall[Req, Res]{c}, g.pending[:n]...)
	g.pending = append([]*groupCall[Req, Res](nil), g.pending[n:]...)
	g.mu.Unlock()

	reqs := make([]Req, len(batch))
	for i, b := range batch {
		reqs[i] = b.req
	}
	results := g.flush(context.WithoutCancel(ctx), reqs)
	for i, b := range batch[1:] {
		b.res = results[i+1]
		close(b.done)
	}

	g.mu.Lock()
	if len(g.pending) > 0 {
		next := g.pending[0]
		g.pending = g.pending[1:]
		next.lead = true
		close(next.done)
	} else {
		g.running--
	}
	g.mu.Unlock()
	return results[0]
}
