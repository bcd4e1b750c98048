package bridge

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pgw/pgw/wire"
)

// simSource drives extensions through realistic call cycles without a PBX:
// registered → ringing → answered → (held → resumed)? → ended, with missed
// calls and the odd unregister, at a fixed rate of events per second.
type simSource struct {
	exts  []*simExt
	rate  float64
	rng   *rand.Rand
	calls int
	now   func() time.Time
}

type simExt struct {
	ext, user  string
	registered bool
	call       *simCall
}

type simCall struct {
	id, direction, peer string
	answered, held      bool
	wasHeld             bool
	since               time.Time
}

// SimulatedExt and SimulatedUser name the i-th (from 1) device the simulator
// generates when the users map has too few: ext 1001 owned by u0001, ….
func SimulatedExt(i int) string { return fmt.Sprintf("%d", 1000+i) }

// SimulatedUser: see SimulatedExt.
func SimulatedUser(i int) string { return fmt.Sprintf("u%04d", i) }

// newSimSource takes the first n mapped extensions (sorted) and, when the
// map has fewer, generates the rest: ext 1001… with user u0001….
func newSimSource(n int, rate float64, users Users, seed uint64) *simSource {
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	s := &simSource{rate: rate, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: time.Now}
	taken := map[string]bool{}
	for _, ext := range users.Exts() {
		if len(s.exts) == n {
			break
		}
		s.exts = append(s.exts, &simExt{ext: ext, user: users[ext]})
		taken[ext] = true
	}
	for i := 1; len(s.exts) < n; i++ {
		ext := SimulatedExt(i)
		if taken[ext] {
			continue
		}
		s.exts = append(s.exts, &simExt{ext: ext, user: SimulatedUser(i)})
	}
	return s
}

func (s *simSource) run(ctx context.Context, out chan<- update, resync <-chan struct{}) error {
	for _, e := range s.exts {
		e.registered = true
	}
	if !send(ctx, out, update{sync: true, devices: s.devices()}) {
		return nil
	}
	// Tick at the event interval, but no faster than every 5ms: at high
	// rates each tick carries a batch, so the rate holds without a timer
	// per event.
	interval := time.Duration(float64(time.Second) / s.rate)
	if interval < 5*time.Millisecond {
		interval = 5 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	last, owed := time.Now(), 0.0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-resync:
			if !send(ctx, out, update{sync: true, devices: s.devices()}) {
				return nil
			}
		case now := <-t.C:
			owed += s.rate * now.Sub(last).Seconds()
			last = now
			// After a stall (a slow gateway blocks the core) catch up at
			// most one second's worth, not a burst of everything missed.
			owed = min(owed, max(s.rate, 1))
			for ; owed >= 1; owed-- {
				if !send(ctx, out, update{event: s.step()}) {
					return nil
				}
			}
		}
	}
}

func (s *simSource) devices() []wire.Device {
	out := make([]wire.Device, 0, len(s.exts))
	for _, e := range s.exts {
		d := wire.Device{Ext: e.ext, User: e.user, State: wire.SyncUnregistered}
		if e.registered {
			d.State = wire.SyncRegistered
		}
		if c := e.call; c != nil {
			d.Call = (&channel{linkedid: c.id, direction: c.direction, peer: c.peer,
				answered: c.answered, held: c.held, since: c.since}).call()
		}
		out = append(out, d)
	}
	return out
}

// step advances one random extension by one transition and returns the
// event it amounts to.
func (s *simSource) step() wire.EventFrame {
	e := s.exts[s.rng.IntN(len(s.exts))]
	ev := wire.EventFrame{Type: wire.TypeIPTEvent, EventBody: wire.EventBody{Ext: e.ext, User: e.user, At: s.now().UTC().Format(time.RFC3339Nano)}}
	c := e.call
	p := s.rng.Float64()
	switch {
	case !e.registered:
		e.registered, ev.Event = true, wire.EventRegistered
		return ev
	case c == nil && p < 0.03:
		e.registered, ev.Event = false, wire.EventUnregistered
		return ev
	case c == nil:
		s.calls++
		c = &simCall{id: fmt.Sprintf("sim-%d", s.calls), direction: wire.Inbound, since: s.now()}
		if s.rng.IntN(2) == 0 {
			c.direction = wire.Outbound
		}
		if other := s.exts[s.rng.IntN(len(s.exts))]; other != e && s.rng.IntN(2) == 0 {
			c.peer = other.ext
		} else {
			c.peer = fmt.Sprintf("+4930%07d", s.rng.IntN(10000000))
		}
		e.call, ev.Event = c, wire.EventRinging
	case !c.answered && p < 0.15: // missed or rejected
		e.call, ev.Event = nil, wire.EventEnded
	case !c.answered:
		c.answered, ev.Event = true, wire.EventAnswered
	case c.held:
		c.held, ev.Event = false, wire.EventResumed
	case !c.wasHeld && p < 0.25:
		c.held, c.wasHeld, ev.Event = true, true, wire.EventHeld
	default:
		e.call, ev.Event = nil, wire.EventEnded
	}
	ev.Call, ev.Direction, ev.Peer = c.id, c.direction, c.peer
	return ev
}
