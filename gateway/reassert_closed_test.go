package gateway

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pgw/pgw/internal/testenv"
	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/wire"
)

// holdConnect is a real store whose Connect of one chosen connection waits,
// once armed, until the test lets it go (a re-assert's Connect held up on a
// slow link), and then runs in the store whatever its caller's deadline
// says (Redis ran the script late). It reports the Disconnects that
// returned.
type holdConnect struct {
	presence.Store
	mu     sync.Mutex
	target string
	// fail: the chosen Connect fails at once without reaching the store;
	// late keeps it for the test to run later (Redis running it late).
	fail     bool
	late     presence.ConnInfo
	held     chan struct{} // closed when the held Connect arrived
	release  chan struct{} // closed by the test to let it run
	returned chan presence.ConnRef
}

func newHoldConnect(st presence.Store) *holdConnect {
	return &holdConnect{Store: st, held: make(chan struct{}), release: make(chan struct{}),
		returned: make(chan presence.ConnRef, 64)}
}

func (s *holdConnect) hold(conn string) {
	s.mu.Lock()
	s.target = conn
	s.mu.Unlock()
}

func (s *holdConnect) Connect(ctx context.Context, c presence.ConnInfo, now time.Time) (presence.Change, error) {
	s.mu.Lock()
	hold := c.Conn == s.target
	if hold {
		s.target = ""
	}
	s.mu.Unlock()
	if hold && s.fail {
		s.mu.Lock()
		s.late = c
		s.mu.Unlock()
		close(s.held)
		return presence.Change{}, fmt.Errorf("connect: %w", context.DeadlineExceeded)
	}
	if hold {
		close(s.held)
		<-s.release
		ctx = context.WithoutCancel(ctx)
	}
	return s.Store.Connect(ctx, c, now)
}

func (s *holdConnect) Disconnect(ctx context.Context, c presence.ConnRef, now time.Time) (presence.Change, error) {
	ch, err := s.Store.Disconnect(ctx, c, now)
	if err == nil {
		s.returned <- c
	}
	return ch, err
}

// waitChan waits for ch to be closed or to yield, with a deadline.
func waitChan[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(15 * time.Second):
		t.Fatalf("no %s within 15s", what)
		panic("unreachable")
	}
}

// TestReassertDoesNotResurrectLoggedOut: a node re-asserting its
// connections (it was declared dead, or Redis lost its state) took the list
// before one of them was logged out; its Connect of that connection reached
// Redis after the logout and the connection's own Disconnect. The key must
// not stay: the user would be online for good with no connection at all.
// Found by the chaos checker (seed 1, round 32 of the 10-minute run: a
// connection closed 1000 logged_out kept its :conn: key).
func TestReassertDoesNotResurrectLoggedOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Long enough that the node never reaps itself while a Connect is held.
	rs, st, tn, rdb := holdConnectNode(ctx, t, 10*time.Second, false)

	c, w := connectUser(t, tn, "u1", "acme", "s1", "main")
	conn, _ := w["conn"].(string)
	st.hold(conn)
	// The node's heartbeat vanishes as if Redis had restarted empty: its
	// next heartbeat answers "re-assert".
	nodes, err := rdb.Keys(ctx, "pgw:node:*").Result()
	if err != nil || len(nodes) == 0 {
		t.Fatalf("heartbeat keys: %v %v", nodes, err)
	}
	if err := rdb.Del(ctx, nodes...).Err(); err != nil {
		t.Fatal(err)
	}
	waitChan(t, st.held, "re-assert Connect")

	// Meanwhile the user logs out on that very connection.
	if r := c.request(map[string]any{"type": "logout", "id": 1}); r["type"] != "ok" {
		t.Fatalf("logout: %v", r)
	}
	if ce := c.waitClose(10 * time.Second); ce == nil || ce.Code != 1000 || ce.Text != "logged_out" {
		t.Fatalf("close %v, want 1000 logged_out", ce)
	}
	for ref := waitChan(t, st.returned, "Disconnect"); ref.Conn != conn; ref = waitChan(t, st.returned, "Disconnect") {
	}
	// Only now does the re-assert's Connect reach Redis.
	close(st.release)

	waitConnKeysGone(t, 15*time.Second, rdb, rs, "logged-out connection")
}

// TestReassertConnectFailed: a re-assert's Connect that failed is retried
// while the connection is open (a live connection without its key leaves
// its user offline), and when it was in fact applied late, after the
// connection closed, the key is taken back.
func TestReassertConnectFailed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rs, st, tn, rdb := holdConnectNode(ctx, t, 2*time.Second, true)

	c, w := connectUser(t, tn, "u1", "acme", "s1", "main")
	conn, _ := w["conn"].(string)
	st.hold(conn)
	// Redis lost everything (restarted empty): the node must re-assert.
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	waitChan(t, st.held, "re-assert Connect")
	testenv.WaitFor(t, 15*time.Second, func() error {
		n, err := rdb.Exists(ctx, "pgw:conn:{acme:u1}:"+conn).Result()
		if err != nil || n != 1 {
			return fmt.Errorf("the open connection has no :conn: key (%v)", err)
		}
		p, err := rs.Get(ctx, "acme", "u1")
		if err != nil || p.Status != wire.Online {
			return fmt.Errorf("u1 is %s (%v), want online", p.Status, err)
		}
		return nil
	})

	_ = c.ws.Close()
	for ref := waitChan(t, st.returned, "Disconnect"); ref.Conn != conn; ref = waitChan(t, st.returned, "Disconnect") {
	}
	// The failed Connect runs in Redis only now.
	st.mu.Lock()
	late := st.late
	st.mu.Unlock()
	if _, err := rs.Connect(ctx, late, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitConnKeysGone(t, 20*time.Second, rdb, rs, "closed connection")
}

// TestLoggedOutConnectionClosedWhenMissed: a session was logged out on one
// node while its connection on another node never got the close message
// (NATS down, the node paused). That node must not bring the connection
// back when it re-asserts (the user would be online again after logging
// out), and must close it 1000 logged_out once it learns: when it
// re-asserts, and after NATS reconnects.
func TestLoggedOutConnectionClosedWhenMissed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trigger func(t *testing.T, cl *testCluster)
	}{
		{"re-assert", func(t *testing.T, cl *testCluster) {
			// n2's heartbeat vanishes (as after Redis restarted empty).
			if err := cl.rdb.Del(context.Background(), "pgw:node:{n2}").Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"NATS reconnect", func(t *testing.T, cl *testCluster) { cl.nats.Restart() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := startCluster(t, 2, nil)
			n1, n2 := cl.nodes[0], cl.nodes[1]
			if keys := cl.keys(t, "pgw:node:*"); len(keys) != 2 || keys[1] != "pgw:node:{n2}" {
				t.Fatalf("heartbeat keys %v", keys)
			}
			c, _ := connectUser(t, n2, "u1", "acme", "s1", "main")
			// The logout as n1 runs it, with its close message to n2 lost.
			if _, refs, err := n1.Store().Logout(context.Background(), "acme", "u1", "s1", time.Now()); err != nil || len(refs) != 1 {
				t.Fatalf("logout: %v %v", refs, err)
			}
			tc.trigger(t, cl)
			if ce := c.waitClose(20 * time.Second); ce == nil || ce.Code != 1000 || ce.Text != "logged_out" {
				t.Fatalf("close %v, want 1000 logged_out", ce)
			}
			testenv.WaitFor(t, 15*time.Second, func() error {
				if keys := cl.keys(t, "pgw:conn:*"); len(keys) > 0 {
					return fmt.Errorf(":conn: keys of the logged-out connection: %v", keys)
				}
				p, err := n1.Store().Get(context.Background(), "acme", "u1")
				if err != nil || p.Status != wire.Offline {
					return fmt.Errorf("u1 is %s with %d sessions (%v), want offline", p.Status, p.Sessions, err)
				}
				return nil
			})
		})
	}
}

// holdConnectNode starts a private Redis, a Redis store on it (grace 300 ms,
// nodeTTL) wrapped in a holdConnect (failing its Connects when fail is
// set), a node on that store, and a plain client of the same Redis.
func holdConnectNode(ctx context.Context, t *testing.T, nodeTTL time.Duration, fail bool) (*presence.Redis, *holdConnect, *testNode, *redis.Client) {
	t.Helper()
	srv := testenv.Redis(t)
	opt := presence.DefaultOptions()
	opt.Grace = 300 * time.Millisecond
	opt.NodeTTL = nodeTTL
	rs, err := presence.NewRedis(ctx, redis.NewClient(&redis.Options{Addr: srv.Addr}), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	st := newHoldConnect(rs)
	st.fail = fail
	tn := startNodeDeps(t, func(c *Config) { c.NodeTTL = nodeTTL }, Deps{Store: st})
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	return rs, st, tn, rdb
}
