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
