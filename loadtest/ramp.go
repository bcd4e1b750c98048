package loadtest

import (
	"context"
	"sync"
	"time"
)

// maxInflightDials bounds the dials in progress, so a stalled server makes
// the ramp late (visible as connect latency from the intended time) instead
// of piling up goroutines without limit.
const maxInflightDials = 2048

// connJob is one connection a scenario wants open.
type connJob struct {
	User, Slot int
	Session    string
}

// userJobs lists the connections of users [lo, hi): a main window and the
// user's child windows, all in one session.
func (w *Worker) userJobs(gen int) []connJob {
	var jobs []connJob
	for i := w.Lo; i < w.Hi; i++ {
		for s := 0; s <= w.Cfg.ChildWindows(i); s++ {
			jobs = append(jobs, connJob{User: i, Slot: s, Session: w.Cfg.SessionID(i, gen)})
		}
	}
	return jobs
}

// ramp opens every job's connection at the worker's share of the connect
// rate, starting at start, and returns the clients in job order (nil where
// the dial failed). mk builds the spec of a job.
func (w *Worker) ramp(ctx context.Context, start time.Time, jobs []connJob, mk func(connJob) DialSpec) []*Client {
	out := make([]*Client, len(jobs))
	rate := w.Cfg.ConnectRate / float64(w.Procs)
	sem := make(chan struct{}, maxInflightDials)
	var wg sync.WaitGroup
	pace(ctx, start, rate, len(jobs), time.Time{}, func(i int, due time.Time) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if c := w.connectTimed(ctx, mk(jobs[i]), due, LConnect); c != nil {
				out[i] = c
				w.Rec.Max(MRampMicros, c.Welcomed.Sub(start).Microseconds())
			}
		}()
	})
	wg.Wait()
	return out
}
