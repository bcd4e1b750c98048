package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/wire"
)

// runConcurrent: the windows of one session open and close from many
// goroutines at once (several nodes). Every change must carry its own
// version, and the user ends in one state: online while the session is in
// grace, then one offline change when it expires.
func runConcurrent(t *testing.T, newStore Factory) {
	s := newStore(t, Options())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := time.Now()
	const workers, rounds = 8, 20
	var mu sync.Mutex
	versions := map[int64]bool{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				c := conn("u1", "s1", fmt.Sprintf("c%d-%d", w, i), on(fmt.Sprintf("n%d", w%3)))
				if i%2 == 1 {
					c.Window = "child"
				}
				for _, step := range []func() (presence.Change, error){
					func() (presence.Change, error) { return s.Connect(ctx, c, now) },
					func() (presence.Change, error) { return s.Disconnect(ctx, c.Ref(), now) },
				} {
					ch, err := step()
					if err != nil {
						t.Error(err)
						return
					}
					if ch.Changed {
						mu.Lock()
						if versions[ch.Presence.Version] {
							t.Errorf("version %d reported twice", ch.Presence.Version)
						}
						versions[ch.Presence.Version] = true
						mu.Unlock()
					}
				}
			}
		})
	}
	wg.Wait()
	if len(versions) != 1 {
		t.Errorf("%d changes, want 1 (the first connect): windows of one session never change presence", len(versions))
	}
	p, err := s.Get(ctx, Tenant, "u1")
	if err != nil || p.Status != wire.Online || p.Sessions != 1 {
		t.Fatalf("after the storm: %+v %v, want online with one session in grace", p, err)
	}
	var offline int
	var ends sync.Mutex
	for range 3 {
		wg.Go(func() {
			ended, err := s.ExpireDue(ctx, now.Add(Options().Grace))
			if err != nil {
				t.Error(err)
			}
			ends.Lock()
			defer ends.Unlock()
			for _, e := range ended {
				if e.Change.Changed && e.Change.Presence.Status == wire.Offline {
					offline++
				}
			}
		})
	}
	wg.Wait()
	if offline != 1 {
		t.Fatalf("%d offline changes from concurrent ExpireDue, want 1", offline)
	}
}
