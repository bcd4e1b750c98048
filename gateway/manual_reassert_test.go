package gateway

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pgw/pgw/internal/testenv"
	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/wire"
)

// gatedStore is a real store whose heartbeats stop getting through while
// the gate is shut (a paused node, a stalled link), and whose SetStatus
// fails without reaching the store as often as failStatus says.
type gatedStore struct {
	presence.Store
	mu         sync.Mutex
	gate       chan struct{} // nil: open
	failStatus atomic.Int32
}

func (s *gatedStore) shut() {
	s.mu.Lock()
	s.gate = make(chan struct{})
	s.mu.Unlock()
}

func (s *gatedStore) open() {
	s.mu.Lock()
	close(s.gate)
	s.gate = nil
	s.mu.Unlock()
}

func (s *gatedStore) Heartbeat(ctx context.Context, node string, now time.Time) (bool, error) {
	s.mu.Lock()
	g := s.gate
	s.mu.Unlock()
	if g != nil {
		select {
		case <-g:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	return s.Store.Heartbeat(ctx, node, now)
}

func (s *gatedStore) SetStatus(ctx context.Context, tenant, user string, st wire.Status, note string, now time.Time) (presence.Change, error) {
	if s.failStatus.Add(-1) >= 0 {
		return presence.Change{}, fmt.Errorf("set status: %w", presence.ErrUnavailable)
	}
	return s.Store.SetStatus(ctx, tenant, user, st, note, now)
}

// newGatedStore opens a Redis store on srv wrapped in a gatedStore.
func newGatedStore(t *testing.T, srv *testenv.RedisServer, ttl time.Duration) *gatedStore {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opt := presence.DefaultOptions()
	opt.Grace, opt.NodeTTL = 300*time.Millisecond, ttl
	rs, err := presence.NewRedis(ctx, redis.NewClient(&redis.Options{Addr: srv.Addr}), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	return &gatedStore{Store: rs}
}

// wantManual waits until the store says u1 is st (manual) with one session.
func wantManual(t *testing.T, st presence.Store, want wire.Status) {
	t.Helper()
	testenv.WaitFor(t, 20*time.Second, func() error {
		p, err := st.Get(context.Background(), "acme", "u1")
		if err != nil || p.Status != want || !p.Manual || p.Sessions != 1 {
			return fmt.Errorf("u1 is %s manual=%v with %d sessions (%v), want %s manual with 1 session", p.Status, p.Manual, p.Sessions, err, want)
		}
		return nil
	})
}

// TestManualStatusKeptWhenPausedNodeReasserts: a node whose heartbeats
// stopped (paused, stalled link) is declared dead; another node reaps its
// connections and publishes its users offline, which clears their manual
// status in the store. The node hears that offline before it learns it was
// reaped, yet its clients never went offline: when it re-asserts their
// connections it must re-assert their manual status too. Found by the chaos
// checker (a manual status lost around SIGSTOP, seed 1 round 25).
func TestManualStatusKeptWhenPausedNodeReasserts(t *testing.T) {
	const ttl = time.Second
	srv := testenv.Redis(t)
	nt := testenv.NATS(t)
	st := newGatedStore(t, srv, ttl)
	conf := func(id string) func(*Config) {
		return func(c *Config) {
			c.RedisURL, c.NATSURL, c.NodeID, c.NodeTTL = srv.URL, nt.URL, id, ttl
		}
	}
	a := startNodeDeps(t, conf("n1"), Deps{Store: st})
	startNode(t, conf("n2")) // reaps n1

	c, _ := connectUser(t, a, "u1", "acme", "s1", "main")
	w := watch(t, a, "u1")
	if r := c.request(map[string]any{"type": "status", "status": "busy", "note": "call"}); r["type"] != "ok" {
		t.Fatalf("status: %v", r)
	}
	wantManual(t, st, wire.Busy)

	st.shut()
	// n2 reaps n1: u1 goes offline, and n1 (still on NATS) hears it.
	w.waitFrame(0, 20*time.Second, func(f map[string]any) bool {
		return f["type"] == "presence" && f["user"] == "u1" && f["status"] == "offline"
	})
	st.open()
	// n1 learns it was reaped and re-asserts: u1 is back, busy.
	wantManual(t, st, wire.Busy)
}

// TestManualStatusReassertRetried: a re-assert whose SetStatus failed (a
// flaky link, the loop's deadline) tries again on the next heartbeat; the
// connections' own re-asserted presence (no manual status) must not make
// the node forget the status it was restoring.
func TestManualStatusReassertRetried(t *testing.T) {
	const ttl = time.Second
	srv := testenv.Redis(t)
	st := newGatedStore(t, srv, ttl)
	a := startNodeDeps(t, func(c *Config) { c.NodeTTL = ttl }, Deps{Store: st})
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })

	c, _ := connectUser(t, a, "u1", "acme", "s1", "main")
	if r := c.request(map[string]any{"type": "status", "status": "dnd", "note": "focus"}); r["type"] != "ok" {
		t.Fatalf("status: %v", r)
	}
	wantManual(t, st, wire.DND)
	st.failStatus.Store(2)
	// Redis restarted empty: the node re-asserts; its first two SetStatus fail.
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	wantManual(t, st, wire.DND)
	if n := st.failStatus.Load(); n >= 0 {
		t.Fatalf("the re-assert did not try SetStatus twice (%d failures left)", n+1)
	}
}
