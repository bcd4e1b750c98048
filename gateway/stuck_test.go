package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pgw/pgw/internal/testenv"
	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/wire"
)

// Stuck states (issue 11) and the review's defects, each with the test that
// failed before its fix.

// applyThenFail is a real store whose Connect is applied and then answers
// ErrUnavailable (as when Redis ran the script and the reply came after the
// deadline), and whose Disconnect can fail without being applied.
type applyThenFail struct {
	presence.Store
	failConnects, failDisconnects atomic.Int32
	// lateConnects: Connects that fail without being applied; the test
	// applies them later itself, as Redis running a queued script late.
	lateConnects atomic.Int32
	late         atomic.Pointer[presence.ConnInfo]
	disconnects  atomic.Int32 // Disconnects that reached the store
	heartbeats   atomic.Int32
	closed       atomic.Int32
}

func (s *applyThenFail) Heartbeat(ctx context.Context, node string, now time.Time) (bool, error) {
	s.heartbeats.Add(1)
	return s.Store.Heartbeat(ctx, node, now)
}

func (s *applyThenFail) Connect(ctx context.Context, c presence.ConnInfo, now time.Time) (presence.Change, error) {
	if s.lateConnects.Add(-1) >= 0 {
		s.late.Store(&c)
		return presence.Change{}, fmt.Errorf("connect: %w", context.DeadlineExceeded)
	}
	ch, err := s.Store.Connect(ctx, c, now)
	if err == nil && s.failConnects.Add(-1) >= 0 {
		return presence.Change{}, fmt.Errorf("connect after the script ran: %w", presence.ErrUnavailable)
	}
	return ch, err
}

func (s *applyThenFail) Disconnect(ctx context.Context, c presence.ConnRef, now time.Time) (presence.Change, error) {
	if s.failDisconnects.Add(-1) >= 0 {
		return presence.Change{}, fmt.Errorf("disconnect: %w", presence.ErrUnavailable)
	}
	s.disconnects.Add(1)
	return s.Store.Disconnect(ctx, c, now)
}

func (s *applyThenFail) Close() error {
	s.closed.Add(1)
	return s.Store.Close()
}

// TestHelloRefusedAfterAppliedConnect: a hello whose Connect the store
// applied but answered with an error is refused, and the connection does
// not stay in the store (the user does not stay online), even when the undo
// fails too.
func TestHelloRefusedAfterAppliedConnect(t *testing.T) {
	for _, tc := range []struct {
		name          string
		failUndoTimes int32
	}{{"undo at once", 0}, {"undo fails, then the retry", 2}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testenv.Redis(t)
			opt := presence.DefaultOptions()
			opt.Grace = 300 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rs, err := presence.NewRedis(ctx, redis.NewClient(&redis.Options{Addr: srv.Addr}), opt)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = rs.Close() })
			st := &applyThenFail{Store: rs}
			tn := startNodeDeps(t, func(c *Config) { c.NodeTTL = time.Second }, Deps{Store: st})
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
			t.Cleanup(func() { _ = rdb.Close() })

			st.failConnects.Store(1)
			st.failDisconnects.Store(tc.failUndoTimes)
			c := dial(t, tn.url, nil)
			r := c.request(map[string]any{"type": "hello", "token": token(t, "u1", "acme"), "session": "s1", "device": "desktop"})
			if r["type"] != "error" || problemCode(r) != "unavailable" {
				t.Fatalf("hello: %v, want error unavailable", r)
			}
			if ce := c.waitClose(10 * time.Second); ce == nil || ce.Code != 4500 {
				t.Fatalf("close %v, want 4500", ce)
			}
			waitConnKeysGone(t, 15*time.Second, rdb, rs, "refused connection")
		})
	}
}

// TestHelloRefusedConnectAppliedAfterTheUndo: the Connect of a refused
// hello that Redis runs only after the node's first undo (a script queued
// behind a slow one) is taken back too, by the undo's deferred second run.
func TestHelloRefusedConnectAppliedAfterTheUndo(t *testing.T) {
	srv := testenv.Redis(t)
	opt := presence.DefaultOptions()
	opt.Grace = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rs, err := presence.NewRedis(ctx, redis.NewClient(&redis.Options{Addr: srv.Addr}), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	st := &applyThenFail{Store: rs}
	tn := startNodeDeps(t, func(c *Config) { c.NodeTTL = time.Second }, Deps{Store: st})
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })

	st.lateConnects.Store(1)
	c := dial(t, tn.url, nil)
	if r := c.request(map[string]any{"type": "hello", "token": token(t, "u1", "acme"), "session": "s1", "device": "desktop"}); r["type"] != "error" {
		t.Fatalf("hello: %v, want error", r)
	}
	testenv.WaitFor(t, 10*time.Second, func() error {
		if st.disconnects.Load() == 0 {
			return errors.New("no undo yet")
		}
		return nil
	})
	// Redis runs the queued Connect late: after the undo and after the
	// node's next heartbeats (and any retry they made).
	beats := st.heartbeats.Load()
	testenv.WaitFor(t, 10*time.Second, func() error {
		if st.heartbeats.Load() < beats+2 {
			return errors.New("waiting for two heartbeats")
		}
		return nil
	})
	if _, err := rs.Connect(ctx, *st.late.Load(), time.Now()); err != nil {
		t.Fatal(err)
	}
	waitConnKeysGone(t, 30*time.Second, rdb, nil, "refused connection")
}

// TestHelloRefusedWhenNATSRefusesInterest: a hello whose bus interest
// cannot be taken is refused (4500, the client retries) before anything is
// stored, instead of being welcomed without call events.
func TestHelloRefusedWhenNATSRefusesInterest(t *testing.T) {
	tn := startNode(t, nil)
	_ = tn.bus.Close()
	c := dial(t, tn.url, nil)
	r := c.request(map[string]any{"type": "hello", "token": token(t, "u1", "acme"), "session": "s1", "device": "desktop"})
	if r["type"] != "error" || problemCode(r) != "unavailable" {
		t.Fatalf("hello: %v, want error unavailable", r)
	}
	if ce := c.waitClose(10 * time.Second); ce == nil || ce.Code != 4500 {
		t.Fatalf("close %v, want 4500", ce)
	}
	if p, err := tn.Store().Get(context.Background(), "acme", "u1"); err != nil || p.Status != wire.Offline || p.Sessions != 0 {
		t.Fatalf("u1 after the refused hello: %+v (%v), want offline", p, err)
	}
}

// TestLogoutRepliesOnce: a logout the store cannot apply gets one reply,
// the error, not an ok followed by an error.
func TestLogoutRepliesOnce(t *testing.T) {
	cl := startCluster(t, 1, nil)
	c, _ := connectUser(t, cl.nodes[0], "u1", "acme", "s1", "main")
	cl.redis.Kill()
	c.send(map[string]any{"type": "logout", "id": 101})
	// Frames of one connection are answered in order: once 102 is answered,
	// every reply to 101 is in.
	c.send(map[string]any{"type": "idle", "id": 102, "idle": true})
	c.waitFrame(0, 20*time.Second, func(f map[string]any) bool { return f["id"] == 102.0 })
	var replies []string
	for _, f := range c.all() {
		if f["id"] == 101.0 {
			replies = append(replies, fmt.Sprint(f["type"], "/", problemCode(f)))
		}
	}
	if len(replies) != 1 || !strings.HasPrefix(replies[0], "error/") {
		t.Fatalf("replies to the logout: %v, want one error", replies)
	}
	// Redis back, so the node's client stops dialling before the test ends.
	cl.redis.Restart()
	testenv.WaitFor(t, 15*time.Second, func() error { return cl.nodes[0].Ready(context.Background()) })
}

// TestShutdownHonoursContextAndCallersStore: Shutdown returns when its
// context ends (not after a drain of an hour), and it does not close a
// store the caller supplied.
func TestShutdownHonoursContextAndCallersStore(t *testing.T) {
	st := &applyThenFail{Store: presence.NewMemory(presence.DefaultOptions())}
	tn := startNodeDeps(t, func(c *Config) { c.Drain = time.Hour }, Deps{Store: st})
	connectUser(t, tn, "u1", "acme", "s1", "main")
	connectUser(t, tn, "u2", "acme", "s2", "main")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() { tn.Shutdown(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Shutdown did not return when its context ended (drain of 1h)")
	}
	if n := st.closed.Load(); n != 0 {
		t.Fatalf("Shutdown closed the caller's store %d times", n)
	}
}

// TestDepsStoreTelephonyInRedis: with Deps.Store and PGW_REDIS_URL, the
// telephony state is in Redis (shared by the nodes), not in memory.
func TestDepsStoreTelephonyInRedis(t *testing.T) {
	srv := testenv.Redis(t)
	tn := startNodeDeps(t, func(c *Config) { c.RedisURL = srv.URL }, Deps{Store: presence.NewMemory(presence.DefaultOptions())})
	b := bridgeConn(t, tn, "pbx1", "bridge-pbx1")
	if r := b.request(map[string]any{"type": "ipt.sync", "bridge": "pbx1", "devices": []any{
		map[string]any{"ext": "1001", "user": "alice", "state": "registered"},
	}}); r["type"] != "ok" {
		t.Fatalf("sync: %v", r)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	owner, err := rdb.HGet(context.Background(), "pgw:ipt:ext:{acme}", "1001").Result()
	if err != nil || owner != "alice" {
		t.Fatalf("ext 1001 in Redis: %q (%v), want alice", owner, err)
	}
}

// TestManualStatusFromAnotherNodeSurvivesEmptyRedis: a manual status set
// over HTTP on a node that holds none of the user's connections is
// re-asserted, after Redis restarted empty, by the node that holds one.
func TestManualStatusFromAnotherNodeSurvivesEmptyRedis(t *testing.T) {
	cl := startCluster(t, 2, nil)
	a, b := cl.nodes[0], cl.nodes[1]
	connectUser(t, a, "u1", "acme", "s1", "main")
	u1 := token(t, "u1", "acme")
	if r := newAPIClient(t, b).do(apiReq{method: "PUT", path: "/v1/presence/u1/status", token: u1, body: `{"status":"dnd","note":"focus"}`}); r.status != 200 {
		t.Fatalf("PUT status on node B: %d %s", r.status, r.raw)
	}
	// Node A learns it from NATS (it holds u1's connection).
	testenv.WaitFor(t, 10*time.Second, func() error {
		if m := a.manual.snapshot()[userKey{"acme", "u1"}]; m.status != wire.DND {
			return fmt.Errorf("node A holds %+v", m)
		}
		return nil
	})
	cl.redis.Restart()
	testenv.WaitFor(t, 15*time.Second, func() error {
		for _, n := range cl.nodes {
			r := newAPIClient(t, n).do(apiReq{method: "GET", path: "/v1/presence/u1", token: u1})
			if r.status != 200 || r.json["status"] != "dnd" || r.json["manual"] != true || r.json["note"] != "focus" {
				return fmt.Errorf("GET on %s: %d %s", n.ID(), r.status, r.raw)
			}
		}
		return nil
	})
}

// TestDetailKeepsMultiByteCharacters: a detail quoting client input cuts it
// between characters, never inside one (it would reach the client as U+FFFD).
func TestDetailKeepsMultiByteCharacters(t *testing.T) {
	tn := startNode(t, nil)
	c, _ := connectUser(t, tn, "u1", "acme", "s1", "main")
	r := c.request(map[string]any{"type": strings.Repeat("é", 39) + "€€"})
	detail, _ := r["error"].(map[string]any)["detail"].(string)
	if !strings.Contains(detail, strings.Repeat("é", 39)+"€…") || strings.ContainsRune(detail, '\uFFFD') {
		t.Fatalf("detail %q: want the first 40 characters, whole", detail)
	}
}

// waitConnKeysGone waits (bounded) until Redis holds no :conn: key (what
// names the connection that must leave none) and, with rs, until u1 of acme
// reads offline there.
func waitConnKeysGone(t *testing.T, timeout time.Duration, rdb *redis.Client, rs interface {
	Get(ctx context.Context, tenant, user string) (wire.Presence, error)
}, what string) {
	t.Helper()
	ctx := context.Background()
	testenv.WaitFor(t, timeout, func() error {
		keys, err := rdb.Keys(ctx, "pgw:conn:*").Result()
		if err != nil || len(keys) > 0 {
			return fmt.Errorf(":conn: keys of the %s left: %v (%v)", what, keys, err)
		}
		if rs == nil {
			return nil
		}
		p, err := rs.Get(ctx, "acme", "u1")
		if err != nil || p.Status != wire.Offline {
			return fmt.Errorf("u1 is %s with %d sessions (%v), want offline", p.Status, p.Sessions, err)
		}
		return nil
	})
}
