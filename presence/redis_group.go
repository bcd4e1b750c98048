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
// idle one pays nothing: a lone call is a batch of one. No goroutine of its
// own: callers do the work.
type groupCommit[Req, Res any] struct {
	max   int
	flush func(ctx context.Context, reqs []Req) []Res

	mu      sync.Mutex
	pending []*groupCall[Req, Res]
	running bool
}

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
	g.pending = append(g.pending, c)
	if g.running {
		g.mu.Unlock()
		<-c.done
		if !c.lead {
			return c.res
		}
		// Handed the lead: our request is in the batch we now run.
		g.mu.Lock()
	}
	g.running = true
	batch := g.pending
	if len(batch) > g.max {
		batch = batch[:g.max]
	}
	g.pending = append([]*groupCall[Req, Res](nil), g.pending[len(batch):]...)
	g.mu.Unlock()

	reqs := make([]Req, len(batch))
	for i, b := range batch {
		reqs[i] = b.req
	}
	results := g.flush(context.WithoutCancel(ctx), reqs)
	for i, b := range batch {
		if b != c {
			b.res = results[i]
			close(b.done)
		}
	}

	g.mu.Lock()
	if len(g.pending) > 0 {
		next := g.pending[0]
		next.lead = true
		close(next.done)
	} else {
		g.running = false
	}
	g.mu.Unlock()
	return results[indexOf(batch, c)]
}

func indexOf[T comparable](s []T, x T) int {
	for i, y := range s {
		if y == x {
			return i
		}
	}
	return -1
}
