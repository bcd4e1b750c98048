package loadtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"
)

// runStorm connects everyone, then drops every connection at once (no close
// frame, as a network cut would) and reconnects each to its session after a
// random jitter, retrying with backoff; it measures drop → welcome per
// connection and drop → last connection back.
func (w *Worker) runStorm(ctx context.Context) error {
	jobs := w.userJobs(0)
	w.Rec.Add(CWanted, int64(len(jobs)))
	start, err := w.barrier(ctx, PhaseConnect)
	if err != nil {
		return err
	}
	clients := w.ramp(ctx, start, jobs, w.plainSpec)
	if _, err := w.barrier(ctx, PhaseDrive); err != nil {
		closeAll(clients)
		return err
	}

	// The drop: every socket cut at once, in parallel.
	dropAt := time.Now()
	var wg sync.WaitGroup
	for _, c := range clients {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func(c *Client) {
			defer wg.Done()
			c.Drop()
		}(c)
	}
	wg.Wait()

	// Reconnect in jittered order; the schedule is sorted so one pacer
	// walks it without a sleeping goroutine per connection.
	rng := rand.New(rand.NewPCG(uint64(w.Cfg.Seed), uint64(w.Index)))
	type slot struct {
		job int
		at  time.Time
	}
	var plan []slot
	for i, c := range clients {
		if c == nil {
			continue
		}
		var j time.Duration
		if w.Cfg.Jitter > 0 {
			j = time.Duration(rng.Int64N(int64(w.Cfg.Jitter)))
		}
		plan = append(plan, slot{job: i, at: dropAt.Add(j)})
	}
	sort.Slice(plan, func(a, b int) bool { return plan[a].at.Before(plan[b].at) })
	limit := dropAt.Add(w.Cfg.StormLimit)
	lctx, cancel := context.WithDeadline(ctx, limit)
	defer cancel()
	back := make([]*Client, len(clients))
	sem := make(chan struct{}, maxInflightDials)
	timer := time.NewTimer(0)
	for _, p := range plan {
		if wait := time.Until(p.at); wait > 0 {
			timer.Reset(wait)
			select {
			case <-lctx.Done():
			case <-timer.C:
			}
		}
		if lctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			back[i] = w.reconnect(lctx, w.plainSpec(jobs[i]), dropAt)
		}(p.job)
	}
	timer.Stop()
	wg.Wait()
	if missing := int64(len(plan)) - w.Rec.Counter(CBack); missing > 0 {
		w.Rec.Error("not_back")
		w.Rec.Note(fmt.Sprintf("storm: %d connections not back within the storm limit", missing))
	}
	if err := w.verifyConnected(ctx, jobs, back); err != nil {
		return err
	}
	return w.teardown(ctx, back)
}

// reconnect dials until welcome or ctx ends, with capped exponential
// backoff; failures along the way are counted as errors.
func (w *Worker) reconnect(ctx context.Context, spec DialSpec, since time.Time) *Client {
	backoff := 100 * time.Millisecond
	for {
		c, err := w.dial(ctx, spec)
		if err == nil {
			d := c.Welcomed.Sub(since)
			w.Rec.Latency(LReconnect, d)
			w.Rec.Max(MAllBackMicros, d.Microseconds())
			w.Rec.Add(CBack, 1)
			w.Rec.Add(CConnects, 1)
			w.Rec.Opened()
			return c
		}
		if ctx.Err() != nil {
			return nil
		}
		w.Rec.Add(CConnectFailed, 1)
		w.Rec.Error("reconnect " + ErrorKey(err))
		if sleep(ctx, backoff) != nil {
			return nil
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}
