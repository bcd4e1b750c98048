package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pgw/pgw/internal/testenv"
	"github.com/pgw/pgw/presence"
)

// lostReplyStore runs every heartbeat in the store but, while failing is
// set, answers an error as if the reply had been lost on a slow link: the
// store did the work (and consumed a reaped mark) but the node never hears.
type lostReplyStore struct {
	presence.Store
	mu       sync.Mutex
	failing  bool
	consumed int // failing heartbeats that consumed a reaped mark
	after    int // failing heartbeats since the first consumed mark
}

var errLostReply = errors.New("test: heartbeat reply lost")

func (s *lostReplyStore) Heartbeat(ctx context.Context, node string, now time.Time) (bool, error) {
	alive, err := s.Store.Heartbeat(ctx, node, now)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.failing {
		return alive, err
	}
	if !alive {
		s.consumed++
	}
	if s.consumed > 0 {
		s.after++
	}
	return false, errLostReply
}

func (s *lostReplyStore) state() (consumed, after int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.consumed, s.after
}

// TestReassertAfterLostHeartbeats: a node whose heartbeats ran in the store
// but whose replies were lost (a stalled link) for longer than NodeTTL may
// have been declared dead with the mark consumed by a heartbeat it never
// heard back from; it must re-assert its connections anyway. Found by the
// chaos checker (fault `stall` on a node's Redis link: live connections
// without :conn: keys, their users offline).
func TestReassertAfterLostHeartbeats(t *testing.T) {
	const ttl = 400 * time.Millisecond
	st := &lostReplyStore{Store: presence.NewMemory(presence.Options{Grace: 300 * time.Millisecond, NodeTTL: ttl, MaxConnsPerUser: 32, Prefix: "pgw"})}
	tn := startNodeDeps(t, func(c *Config) { c.NodeTTL = ttl }, Deps{Store: st})
	connectUser(t, tn, "u1", "acme", "s1", "main")
	ctx := context.Background()
	st.mu.Lock()
	st.failing = true
	st.mu.Unlock()
	// Another node reaps this one (its heartbeat looks old from there).
	if _, err := st.ReapDeadNodes(ctx, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// The node's next heartbeats consume the mark, unheard; they keep
	// failing for longer than NodeTTL.
	testenv.WaitFor(t, 10*time.Second, func() error {
		if consumed, after := st.state(); consumed == 0 || after < 6 {
			return fmt.Errorf("consumed %d, failing heartbeats after %d", consumed, after)
		}
		return nil
	})
	st.mu.Lock()
	st.failing = false
	st.mu.Unlock()
	testenv.WaitFor(t, 10*time.Second, func() error {
		p, err := st.Get(ctx, "acme", "u1")
		if err != nil {
			return err
		}
		if p.Sessions != 1 {
			return fmt.Errorf("u1 %s with %d sessions: the node did not re-assert its connection", p.Status, p.Sessions)
		}
		return nil
	})
}

// nowStore records every heartbeat at the store's own clock, whatever the
// caller's: only the node's view of time is stale in the test below.
type nowStore struct{ presence.Store }

func (s nowStore) Heartbeat(ctx context.Context, node string, _ time.Time) (bool, error) {
	return s.Store.Heartbeat(ctx, node, time.Now())
}

// TestStaleTickReassertsOnce: a heartbeat that started before the process
// was paused (SIGSTOP, a VM pause) carries the tick's time from before the
// pause, and gets through only after it. The node was declared dead
// meanwhile and re-asserts; the next tick must not find a lapse and re-assert
// a second time, which closes the bridge connections that just reconnected
// and synced. Found by the chaos checker (10-minute run, rounds 14 and 15:
// "declared dead", then "no heartbeat got through" 60-100 ms later).
func TestStaleTickReassertsOnce(t *testing.T) {
	const ttl = time.Hour // the heartbeat loop never ticks during the test
	st := nowStore{presence.NewMemory(presence.Options{Grace: 300 * time.Millisecond, NodeTTL: ttl, MaxConnsPerUser: 32, Prefix: "pgw"})}
	tn := startNodeDeps(t, func(c *Config) { c.NodeTTL = ttl }, Deps{Store: st})
	ctx := context.Background()
	// Another node declares this one dead.
	if _, err := st.ReapDeadNodes(ctx, time.Now().Add(2*ttl)); err != nil {
		t.Fatal(err)
	}
	before := readCounter(tn.metrics.reasserts)
	tn.heartbeat(ctx, time.Now().Add(-2*ttl)) // the tick from before the pause
	tn.heartbeat(ctx, time.Now())             // the tick sent after it
	if got := readCounter(tn.metrics.reasserts) - before; got != 1 {
		t.Fatalf("re-asserts after a paused heartbeat and the next tick: %v, want 1", got)
	}
}
