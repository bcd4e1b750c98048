package presence_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgw/pgw/internal/testenv"
	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/presence/storetest"
	"github.com/pgw/pgw/wire"
	"github.com/redis/go-redis/v9"
)

// newRedisStore opens a Redis store on url with opt, closed at the end of t.
func newRedisStore(t testing.TB, url string, opt presence.Options) *presence.Redis {
	t.Helper()
	client, err := presence.NewRedisClient(url)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := presence.NewRedis(ctx, client, opt)
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// redisFactory gives each scenario its own key prefix on one server, so
// scenarios never see each other's keys.
func redisFactory(url string) storetest.Factory {
	var mu sync.Mutex
	n := 0
	return func(t *testing.T, opt presence.Options) presence.Store {
		mu.Lock()
		n++
		opt.Prefix = fmt.Sprintf("t%d", n)
		mu.Unlock()
		return newRedisStore(t, url, opt)
	}
}

// TestRedisContract runs the store contract suite on a private redis-server.
func TestRedisContract(t *testing.T) {
	srv := testenv.Redis(t)
	storetest.Run(t, redisFactory(srv.URL))
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// must(f())(t) returns f's value, failing t on f's error.
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func ci(user, session, conn, node string) presence.ConnInfo {
	return presence.ConnInfo{Tenant: "acme", User: user, Session: session, Conn: conn, Node: node,
		Device: wire.DeviceDesktop, Window: "main"}
}

// scanKeys returns the keys matching pattern (SCAN, never KEYS).
func scanKeys(t testing.TB, rdb *redis.Client, pattern string) []string {
	t.Helper()
	var keys []string
	iter := rdb.Scan(ctxT(t), 0, pattern, 100).Iterator()
	for iter.Next(ctxT(t)) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestRedisVersionsSurviveEmptyRestart: Redis restarted empty loses every
// version, yet the next change of a user is above what subscribers saw, and
// the node learns from its heartbeat that it must re-assert.
func TestRedisVersionsSurviveEmptyRestart(t *testing.T) {
	srv := testenv.Redis(t)
	s := newRedisStore(t, srv.URL, storetest.Options())
	ctx := ctxT(t)
	now := time.Now()
	if !must(s.Heartbeat(ctx, "n1", now))(t) {
		t.Fatal("first heartbeat: not alive")
	}
	var last int64
	for i, st := range []wire.Status{wire.Busy, wire.DND, wire.Away} {
		if i == 0 {
			ch := must(s.Connect(ctx, ci("u1", "s1", "c1", "n1"), now))(t)
			last = ch.Presence.Version
		}
		// Same microsecond for every change: only prev+1 keeps them apart.
		ch := must(s.SetStatus(ctx, "acme", "u1", st, "", now))(t)
		if !ch.Changed || ch.Presence.Version <= last {
			t.Fatalf("status %s: version %d after %d", st, ch.Presence.Version, last)
		}
		last = ch.Presence.Version
	}

	srv.Restart()
	testenv.WaitFor(t, 10*time.Second, func() error { return s.Ping(ctx) })
	if p := must(s.Get(ctx, "acme", "u1"))(t); p.Status != wire.Offline {
		t.Fatalf("after an empty restart: %s, want offline (nothing left)", p.Status)
	}
	if must(s.Heartbeat(ctx, "n1", now.Add(time.Second)))(t) {
		t.Fatal("heartbeat after an empty restart: alive, want false so the node re-asserts")
	}
	// The node re-asserts its connection (scripts are gone too: NOSCRIPT
	// falls back to EVAL).
	ch := must(s.Connect(ctx, ci("u1", "s1", "c1", "n1"), now.Add(time.Second)))(t)
	if !ch.Changed || ch.Presence.Version <= last {
		t.Fatalf("re-asserted: changed=%v version %d, want above %d", ch.Changed, ch.Presence.Version, last)
	}
	if ch.Presence.Status != wire.Online {
		t.Fatalf("re-asserted: %s, want online", ch.Presence.Status)
	}
}

// TestRedisNoConnKeysLeft: after N connections opened and closed (graces
// expired, and a node reaped), no :conn: key remains (contract §5).
func TestRedisNoConnKeysLeft(t *testing.T) {
	srv := testenv.Redis(t)
	opt := storetest.Options()
	s := newRedisStore(t, srv.URL, opt)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	ctx := ctxT(t)
	now := time.Now()
	const n = 200
	for i := range n {
		c := ci(fmt.Sprintf("u%d", i%20), fmt.Sprintf("s%d", i%40), fmt.Sprintf("c%d", i), fmt.Sprintf("n%d", i%2))
		must(s.Connect(ctx, c, now))(t)
	}
	if got := len(scanKeys(t, rdb, "*:conn:*")); got != n {
		t.Fatalf("%d :conn: keys while %d connections are open", got, n)
	}
	for i := range n {
		if i%2 == 1 {
			continue // node n1's connections die with it below
		}
		c := ci(fmt.Sprintf("u%d", i%20), fmt.Sprintf("s%d", i%40), fmt.Sprintf("c%d", i), "n0")
		must(s.Disconnect(ctx, c.Ref(), now))(t)
		must(s.Disconnect(ctx, c.Ref(), now))(t) // idempotent
	}
	must(s.Heartbeat(ctx, "n1", now))(t)
	must(s.ReapDeadNodes(ctx, now.Add(opt.NodeTTL)))(t)
	must(s.ExpireDue(ctx, now.Add(opt.Grace)))(t)
	if keys := scanKeys(t, rdb, "*:conn:*"); len(keys) != 0 {
		t.Fatalf("%d :conn: keys left, e.g. %v", len(keys), keys[:min(3, len(keys))])
	}
	// Nothing is left of the users but the version of their offline change,
	// which expires after VersionTTL (§3.2); nothing else but the node
	// registry.
	for _, k := range scanKeys(t, rdb, "*:user:*") {
		fields := must(rdb.HKeys(ctx, k).Result())(t)
		sort.Strings(fields)
		if !slices.Equal(fields, []string{"p", "sig", "st", "v"}) {
			t.Errorf("%s: fields %v left, want only the offline version", k, fields)
		}
		if ttl := must(rdb.PTTL(ctx, k).Result())(t); ttl <= 0 || ttl > opt.VersionTTL+opt.NodeTTL {
			t.Errorf("%s: TTL %v, want at most %v", k, ttl, opt.VersionTTL)
		}
	}
	for _, pattern := range []string{"*:sid:*", "*:nodeconns:*", "*:tenant:*"} {
		if keys := scanKeys(t, rdb, pattern); len(keys) != 0 {
			t.Errorf("%s: %d keys left, e.g. %v", pattern, len(keys), keys[:min(3, len(keys))])
		}
	}
	if z := must(rdb.ZCard(ctx, "pgw:grace").Result())(t); z != 0 {
		t.Errorf("grace queue: %d entries left", z)
	}
}

// TestRedisConcurrentWindowsClose: two windows of one session close at the
// same moment from two goroutines through two stores (two nodes), 50 rounds.
// With a grace, neither close changes anything and two nodes expiring at
// once make one offline change; without a grace, exactly one of the two
// closes makes it.
func TestRedisConcurrentWindowsClose(t *testing.T) {
	cases := []struct {
		name  string
		grace time.Duration
	}{{"grace", 5 * time.Second}, {"no grace", 0}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := testenv.Redis(t)
			opt := storetest.Options()
			opt.Grace = tc.grace
			nodes := []presence.Store{newRedisStore(t, srv.URL, opt), newRedisStore(t, srv.URL, opt)}
			ctx := ctxT(t)
			start := time.Now()
			for round := range 50 {
				now := start.Add(time.Duration(round) * 10 * time.Second)
				conns := []presence.ConnInfo{ci("u1", "s1", fmt.Sprintf("m%d", round), "n1"),
					ci("u1", "s1", fmt.Sprintf("k%d", round), "n2")}
				conns[1].Window = "child"
				for i, c := range conns {
					ch := must(nodes[i].Connect(ctx, c, now))(t)
					if i == 0 && (!ch.Changed || ch.Presence.Status != wire.Online) {
						t.Fatalf("round %d: connect %+v", round, ch)
					}
				}

				var offline atomic.Int32
				var wg sync.WaitGroup
				for i, c := range conns {
					wg.Go(func() {
						ch, err := nodes[i].Disconnect(ctx, c.Ref(), now.Add(time.Millisecond))
						if err != nil {
							t.Error(err)
						}
						if ch.Changed && ch.Presence.Status == wire.Offline {
							offline.Add(1)
						}
					})
				}
				wg.Wait()
				for i := range nodes {
					wg.Go(func() {
						ended, err := nodes[i].ExpireDue(ctx, now.Add(opt.Grace+time.Millisecond))
						if err != nil {
							t.Error(err)
						}
						for _, e := range ended {
							if e.Change.Changed && e.Change.Presence.Status == wire.Offline {
								offline.Add(1)
							}
						}
					})
				}
				wg.Wait()
				if n := offline.Load(); n != 1 {
					t.Fatalf("round %d: %d offline changes, want exactly 1", round, n)
				}
				if p := must(nodes[0].Get(ctx, "acme", "u1"))(t); p.Status != wire.Offline {
					t.Fatalf("round %d: final %s, want offline", round, p.Status)
				}
			}
		})
	}
}

// TestRedisGraceOutlivesItsNode: the node holding a session's last
// connection dies during the grace; another node's ExpireDue ends the
// session on time, and a reconnect to another node within the grace
// continues it.
func TestRedisGraceOutlivesItsNode(t *testing.T) {
	srv := testenv.Redis(t)
	opt := storetest.Options()
	ctx := ctxT(t)
	now := time.Now()
	dying := newRedisStore(t, srv.URL, opt)
	other := newRedisStore(t, srv.URL, opt)

	must(dying.Connect(ctx, ci("u1", "s1", "c1", "n1"), now))(t)
	must(dying.Connect(ctx, ci("u2", "s2", "c2", "n1"), now))(t)
	must(dying.Disconnect(ctx, ci("u1", "s1", "c1", "n1").Ref(), now))(t)
	must(dying.Disconnect(ctx, ci("u2", "s2", "c2", "n1").Ref(), now))(t)
	dying.Close() // n1 is gone

	if ch := must(other.Connect(ctx, ci("u2", "s2", "c3", "n2"), now.Add(2*time.Second)))(t); ch.Changed {
		t.Fatalf("reconnect within the grace on another node changed presence: %+v", ch)
	}
	if e := must(other.ExpireDue(ctx, now.Add(opt.Grace-time.Millisecond)))(t); len(e) != 0 {
		t.Fatalf("ended before the grace ran out: %+v", e)
	}
	e := must(other.ExpireDue(ctx, now.Add(opt.Grace)))(t)
	if len(e) != 1 || e[0].User != "u1" || e[0].Change.Presence.Status != wire.Offline || !e[0].Change.Changed {
		t.Fatalf("expired %+v, want u1/s1 offline", e)
	}
	if p := must(other.Get(ctx, "acme", "u2"))(t); p.Status != wire.Online {
		t.Fatalf("u2 %s, want online (reconnected within the grace)", p.Status)
	}
}

// TestRedisReapLease: while one node holds the reaper lease, another
// ReapDeadNodes does nothing; the holder reaps.
func TestRedisReapLease(t *testing.T) {
	srv := testenv.Redis(t)
	opt := storetest.Options()
	s := newRedisStore(t, srv.URL, opt)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	ctx := ctxT(t)
	now := time.Now()
	must(s.Heartbeat(ctx, "n1", now))(t)
	must(s.Connect(ctx, ci("u1", "s1", "c1", "n1"), now))(t)
	if err := rdb.Set(ctx, "pgw:reaper", "someone-else", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if e := must(s.ReapDeadNodes(ctx, now.Add(opt.NodeTTL)))(t); len(e) != 0 {
		t.Fatalf("reaped without the lease: %+v", e)
	}
	rdb.Del(ctx, "pgw:reaper")
	e := must(s.ReapDeadNodes(ctx, now.Add(opt.NodeTTL)))(t)
	if len(e) != 1 || e[0].Session != "s1" {
		t.Fatalf("reaped %+v, want s1", e)
	}
	if n := must(rdb.Exists(ctx, "pgw:reaper").Result())(t); n != 0 {
		t.Fatal("lease not released")
	}
}

// TestRedisUnavailable: with Redis down, calls fail with ErrUnavailable.
func TestRedisUnavailable(t *testing.T) {
	srv := testenv.Redis(t)
	// No retries and short timeouts: the test is about the error, not the wait.
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	s, err := presence.NewRedis(ctxT(t), client, storetest.Options())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv.Kill()
	ctx := ctxT(t)
	now := time.Now()
	checks := []struct {
		name string
		err  error
	}{
		{"ping", s.Ping(ctx)},
		{"connect", second(s.Connect(ctx, ci("u1", "s1", "c1", "n1"), now))},
		{"disconnect", second(s.Disconnect(ctx, ci("u1", "s1", "c1", "n1").Ref(), now))},
		{"get", second(s.Get(ctx, "acme", "u1"))},
		{"heartbeat", second(s.Heartbeat(ctx, "n1", now))},
		{"expire", second(s.ExpireDue(ctx, now))},
	}
	for _, c := range checks {
		if !errors.Is(c.err, presence.ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnavailable", c.name, c.err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// TestNewRedisClient: the URL forms of PGW_REDIS_URL.
func TestNewRedisClient(t *testing.T) {
	cases := []struct {
		url     string
		cluster bool
		err     bool
	}{
		{"redis://127.0.0.1:6390/2", false, false},
		{"127.0.0.1:6390", false, false},
		{"127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002", true, false},
		{"redis://a:7000, redis://b:7001", true, false},
		{"", false, true},
		{"a,b", false, true},
		{"redis://127.0.0.1:6390/notanumber", false, true},
	}
	for _, c := range cases {
		client, err := presence.NewRedisClient(c.url)
		if (err != nil) != c.err {
			t.Errorf("%q: error %v, want error=%v", c.url, err, c.err)
			continue
		}
		if err != nil {
			continue
		}
		_, isCluster := client.(*redis.ClusterClient)
		if isCluster != c.cluster {
			t.Errorf("%q: cluster=%v, want %v", c.url, isCluster, c.cluster)
		}
		client.Close()
	}
}

// TestRedisGroupCommit: many goroutines calling Connect and Disconnect on
// one store at once are coalesced into batches; each still gets its own,
// right answer.
func TestRedisGroupCommit(t *testing.T) {
	srv := testenv.Redis(t)
	opt := storetest.Options()
	opt.Grace = 0
	s := newRedisStore(t, srv.URL, opt)
	ctx := ctxT(t)
	now := time.Now()
	const workers, each = 32, 20
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				c := ci(fmt.Sprintf("u%d-%d", w, i), fmt.Sprintf("s%d-%d", w, i), fmt.Sprintf("c%d-%d", w, i), "n1")
				ch, err := s.Connect(ctx, c, now)
				if err != nil || !ch.Changed || ch.Presence.User != c.User || ch.Presence.Status != wire.Online {
					t.Errorf("connect %s: %+v %v", c.User, ch, err)
					return
				}
				// The same session for another user is refused, within a batch too.
				other := c
				other.User, other.Conn = c.User+"x", c.Conn+"x"
				if _, err := s.Connect(ctx, other, now); !errors.Is(err, presence.ErrSessionConflict) {
					t.Errorf("connect %s with %s's session: %v, want conflict", other.User, c.User, err)
				}
				if i%2 == 1 {
					ch, err = s.Disconnect(ctx, c.Ref(), now)
					if err != nil || !ch.Changed || ch.Presence.User != c.User || ch.Presence.Status != wire.Offline {
						t.Errorf("disconnect %s: %+v %v", c.User, ch, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	list := must(s.ListTenant(ctx, "acme"))(t)
	if len(list) != workers*each/2 {
		t.Fatalf("%d users online, want %d", len(list), workers*each/2)
	}
}

// cmdLog records the names of the commands a Redis client sends.
type cmdLog struct {
	mu    sync.Mutex
	names []string
}

func (l *cmdLog) DialHook(next redis.DialHook) redis.DialHook { return next }

func (l *cmdLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.add(cmd)
		return next(ctx, cmd)
	}
}

func (l *cmdLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			l.add(c)
		}
		return next(ctx, cmds)
	}
}

func (l *cmdLog) add(c redis.Cmder) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.names = append(l.names, c.Name())
}

func (l *cmdLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.names
	l.names = nil
	return out
}

// TestRedisStatusChangeOneRoundTrip: a status or idle change of a present
// user is one script call; the tenant index is left as it is (the user is
// in it before and after), and ListTenant still lists the user with the
// new state. The user's going offline still removes the entry.
func TestRedisStatusChangeOneRoundTrip(t *testing.T) {
	srv := testenv.Redis(t)
	client, err := presence.NewRedisClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var log cmdLog
	client.AddHook(&log)
	ctx := ctxT(t)
	opt := presence.DefaultOptions()
	opt.Grace = 0
	s, err := presence.NewRedis(ctx, client, opt)
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := ci("ann", "s1", "c1", "n1")
	if _, err := s.Connect(ctx, c, time.Now()); err != nil {
		t.Fatal(err)
	}
	log.take()
	ch, err := s.SetStatus(ctx, "acme", "ann", wire.Busy, "in a meeting", time.Now())
	if err != nil || !ch.Changed || ch.Presence.Status != wire.Busy {
		t.Fatalf("set status: %+v %v", ch, err)
	}
	if _, err := s.SetIdle(ctx, "acme", "ann", "s1", true, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, name := range log.take() {
		if name != "evalsha" && name != "eval" {
			t.Errorf("a present user's status and idle changes sent %q; want only their scripts", name)
		}
	}
	list := must(s.ListTenant(ctx, "acme"))(t)
	if len(list) != 1 || list[0].User != "ann" || list[0].Status != wire.Busy || list[0].Note != "in a meeting" {
		t.Fatalf("tenant list after the status change: %+v", list)
	}
	if _, err := s.Disconnect(ctx, c.Ref(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if list := must(s.ListTenant(ctx, "acme"))(t); len(list) != 0 {
		t.Fatalf("tenant list after the user went offline: %+v", list)
	}
}

// GetMany calls read in one pipeline (the group commit's batch) each stand
// alone: a user whose key is broken fails only the calls that ask for it,
// and the others get their presences; concurrent small calls, coalesced,
// get the same answers as alone.
func TestRedisGetManyBatchedCallsStandAlone(t *testing.T) {
	srv := testenv.Redis(t)
	s := newRedisStore(t, srv.URL, storetest.Options())
	ctx := ctxT(t)
	now := time.Now()
	must(s.Connect(ctx, ci("on", "s1", "c1", "n1"), now))(t)
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer raw.Close()
	if err := raw.Set(ctx, presence.UserKey(s, "acme", "bad"), "not a hash", 0).Err(); err != nil {
		t.Fatal(err)
	}

	pa, pb, ea, eb := presence.GetBatch(ctx, s, "acme", []string{"on", "none"}, []string{"bad", "on"})
	if ea != nil || len(pa) != 2 || pa[0].Status != wire.Online || pa[1].Status != wire.Offline || pa[1].User != "none" {
		t.Fatalf("the good call of the batch: %+v %v", pa, ea)
	}
	if eb == nil || pb != nil || errors.Is(eb, presence.ErrUnavailable) {
		t.Fatalf("the call asking for a broken key: %+v %v, want its WRONGTYPE error alone", pb, eb)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			users := []string{"on", fmt.Sprintf("x%d", i)}
			if i%8 == 0 {
				users = append(users, "bad")
			}
			ps, err := s.GetMany(ctx, "acme", users)
			switch {
			case i%8 == 0 && err == nil:
				errs <- fmt.Errorf("call %d asked for the broken key and got no error", i)
			case i%8 != 0 && err != nil:
				errs <- fmt.Errorf("call %d: %v (another call's broken key?)", i, err)
			case i%8 != 0 && (ps[0].Status != wire.Online || ps[1].User != users[1] || ps[1].Status != wire.Offline):
				errs <- fmt.Errorf("call %d: %+v", i, ps)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
