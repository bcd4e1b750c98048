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

func (s *gatedStore) RestoreStatus(ctx context.Context, tenant, user string, st wire.Status, note string, since int64, now time.Time) (presence.Change, error) {
	if s.failStatus.Add(-1) >= 0 {
		return presence.Change{}, fmt.Errorf("restore status: %w", presence.ErrUnavailable)
	}
	return s.Store.RestoreStatus(ctx, tenant, user, st, note, since, now)
}

// gatedPair starts node n1 on a gatedStore and node n2 on the same Redis
// and NATS (NODE_TTL 1 s each, so n2 reaps n1 soon after its heartbeats
// stop getting through).
func gatedPair(t *testing.T) (srv *testenv.RedisServer, st *gatedStore, n1, n2 *testNode) {
	t.Helper()
	const ttl = time.Second
	srv = testenv.Redis(t)
	nt := testenv.NATS(t)
	st = newGatedStore(t, srv, ttl)
	conf := func(id string) func(*Config) {
		return func(c *Config) {
			c.RedisURL, c.NATSURL, c.NodeID, c.NodeTTL = srv.URL, nt.URL, id, ttl
		}
	}
	return srv, st, startNodeDeps(t, conf("n1"), Deps{Store: st}), startNode(t, conf("n2"))
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

// setManual sets st as u1's manual status through c and waits until the
// store has it.
func setManual(t *testing.T, c *client, st presence.Store, status wire.Status) {
	t.Helper()
	if r := c.request(map[string]any{"type": "status", "status": string(status), "note": "set"}); r["type"] != "ok" {
		t.Fatalf("status %s: %v", status, r)
	}
	wantManual(t, st, status)
}

// flushRedis empties srv, as a Redis restarted without its data.
func flushRedis(t *testing.T, srv *testenv.RedisServer) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer func() { _ = rdb.Close() }()
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
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
	_, st, a, _ := gatedPair(t) // n2 reaps n1

	c, _ := connectUser(t, a, "u1", "acme", "s1", "main")
	w := watch(t, a, "u1")
	setManual(t, c, st, wire.Busy)

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
	c, _ := connectUser(t, a, "u1", "acme", "s1", "main")
	setManual(t, c, st, wire.DND)
	st.failStatus.Store(2)
	// Redis restarted empty: the node re-asserts; its first two restores fail.
	flushRedis(t, srv)
	wantManual(t, st, wire.DND)
	if n := st.failStatus.Load(); n >= 0 {
		t.Fatalf("the re-assert did not try RestoreStatus twice (%d failures left)", n+1)
	}
}

// TestManualStatusRestoreYieldsToTheUsersChoice: a node whose restore of a
// manual status is still pending (here: failing) while the user chooses
// "online" on another node must not bring the old status back when the
// restore gets through: the user's choice stands. Found by the chaos
// checker (seed 7 round 6: u4 busy again after the user set online).
func TestManualStatusRestoreYieldsToTheUsersChoice(t *testing.T) {
	srv, st, a, b := gatedPair(t)
	c, _ := connectUser(t, a, "u1", "acme", "s1", "main")
	setManual(t, c, st, wire.Busy)
	// The restore fails for a long while (a flaky link to Redis).
	st.failStatus.Store(1 << 30)
	flushRedis(t, srv)
	// The user's connection is back in the store (re-asserted), without
	// its manual status, and the user opens a window on n2 and chooses
	// online there.
	testenv.WaitFor(t, 20*time.Second, func() error {
		p, err := st.Get(context.Background(), "acme", "u1")
		if err != nil || p.Status != wire.Online || p.Manual {
			return fmt.Errorf("u1 is %s manual=%v (%v), want re-asserted online", p.Status, p.Manual, err)
		}
		return nil
	})
	c2, _ := connectUser(t, b, "u1", "acme", "s2", "main")
	if r := c2.request(map[string]any{"type": "status", "status": "online"}); r["type"] != "ok" {
		t.Fatalf("status online: %v", r)
	}
	tries := st.failStatus.Load()
	st.failStatus.Store(0)
	// n1's restore gets through on a later heartbeat: it must yield.
	testenv.WaitFor(t, 20*time.Second, func() error {
		if n := st.failStatus.Load(); n >= 0 {
			return fmt.Errorf("no restore tried since the link healed (%d of %d failures left)", n, tries)
		}
		return nil
	})
	p, err := st.Get(context.Background(), "acme", "u1")
	if err != nil || p.Status != wire.Online || p.Manual {
		t.Fatalf("after the restore u1 is %s manual=%v (%v), want online as the user chose", p.Status, p.Manual, err)
	}
}
