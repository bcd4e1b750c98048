package loadtest

import (
	"context"
	"sync"
	"time"
)

// hub is the coordinator's side of the barriers: a phase begins when all n
// workers have arrived at it; the hook runs first (with the sum of the
// workers' open connections), then every worker is released.
type hub struct {
	n    int
	hook func(ctx context.Context, phase string, open int64)

	mu     sync.Mutex
	rounds map[string]*round
	phases []Phase
}

type round struct {
	arrived int
	open    int64
	at      time.Time
	done    chan struct{}
}

func newHub(n int, hook func(ctx context.Context, phase string, open int64)) *hub {
	return &hub{n: n, hook: hook, rounds: map[string]*round{}}
}

// arrive records one worker at phase with its open connections and waits
// for the others; it returns the phase's start time.
func (h *hub) arrive(ctx context.Context, phase string, open int64) (time.Time, error) {
	h.mu.Lock()
	r := h.rounds[phase]
	if r == nil {
		r = &round{done: make(chan struct{})}
		h.rounds[phase] = r
	}
	r.arrived++
	r.open += open
	last := r.arrived == h.n
	h.mu.Unlock()
	if last {
		if h.hook != nil {
			h.hook(ctx, phase, r.open)
		}
		h.mu.Lock()
		r.at = time.Now()
		h.phases = append(h.phases, Phase{Name: phase, At: r.at})
		h.mu.Unlock()
		close(r.done)
	}
	select {
	case <-r.done:
		return r.at, nil
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}

// Phases returns the phases begun so far, in order.
func (h *hub) Phases() []Phase {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Phase(nil), h.phases...)
}

// localSync is the Syncer of an in-process worker.
type localSync struct {
	h   *hub
	rec *Recorder
}

func (s localSync) Barrier(ctx context.Context, phase string) (time.Time, error) {
	return s.h.arrive(ctx, phase, s.rec.open.Load())
}
