package gateway

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pgw/pgw/internal/testenv"
)

// Several nodes behave as one (contract §4, §5): every test here starts
// its own Redis and NATS and several in-process nodes sharing them.

// testCluster is nodes n1..nN sharing one private Redis and NATS.
type testCluster struct {
	redis *testenv.RedisServer
	nats  *testenv.NATSServer
	rdb   *redis.Client
	nodes []*testNode
}

// startCluster starts size nodes with short grace and node TTL; mod changes
// every node's config after the cluster settings.
func startCluster(t *testing.T, size int, mod func(*Config)) *testCluster {
	t.Helper()
	r := testenv.Redis(t)
	nt := testenv.NATS(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	tc := &testCluster{redis: r, nats: nt, rdb: rdb}
	for i := 1; i <= size; i++ {
		id := fmt.Sprintf("n%d", i)
		tc.nodes = append(tc.nodes, startNode(t, func(c *Config) {
			c.RedisURL, c.NATSURL, c.NodeID = r.URL, nt.URL, id
			c.Grace = 300 * time.Millisecond
			c.NodeTTL = time.Second
			if mod != nil {
				mod(c)
			}
		}))
	}
	return tc
}

// keys returns the keys matching pattern, found with SCAN (never KEYS).
func (tc *testCluster) keys(t testing.TB, pattern string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []string
	iter := tc.rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		out = append(out, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("scan %s: %v", pattern, err)
	}
	sort.Strings(out)
	return out
}

// connKeysOf returns the `:conn:` keys whose value (session|node) names node
// ("" for every node).
func (tc *testCluster) connKeysOf(t testing.TB, node string) ([]string, error) {
	t.Helper()
	keys := tc.keys(t, "pgw:conn:*")
	if node == "" || len(keys) == 0 {
		return keys, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	vals, err := tc.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, err
	}
	var out []string
	for i, v := range vals {
		if s, ok := v.(string); ok && strings.HasSuffix(s, "|"+node) {
			out = append(out, keys[i])
		}
	}
	return out, nil
}

// latestOf returns the newest presence frame per user seen by c.
func latestOf(c *client) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, f := range c.all() {
		if f["type"] == "presence" {
			out[f["user"].(string)] = f
		}
	}
	return out
}

// clusterPhoneState returns phone.state of a presence frame ("" without phone).
func clusterPhoneState(f map[string]any) string {
	ph, _ := f["phone"].(map[string]any)
	s, _ := ph["state"].(string)
	return s
}

// closeTogether closes the clients' sockets from one goroutine each, released
// together.
func closeTogether(cs ...*client) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_ = c.ws.Close()
		}()
	}
	close(start)
	wg.Wait()
}

func TestClusterMainAndChildOnTwoNodes(t *testing.T) {
	const grace = 2 * time.Second // long enough for a reconnect on a loaded machine
	cases := []struct {
		name      string
		close     []string // windows closed, in order
		reconnect bool     // a new main window of the session on node 3 within the grace
		want      string   // statuses the subscriber on node 3 sees
	}{
		{"close child", []string{"child"}, false, "online"},
		{"close main", []string{"main"}, false, "online"},
		{"close both", []string{"child", "main"}, false, "online,offline"},
		{"close both, reconnect within grace to node 3", []string{"main", "child"}, true, "online"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl := startCluster(t, 3, func(c *Config) { c.Grace = grace })
			n1, n2, n3 := cl.nodes[0], cl.nodes[1], cl.nodes[2]
			w := watch(t, n3, "u1")
			wins := map[string]*client{}
			var wel map[string]any
			wins["main"], wel = connectUser(t, n1, "u1", "acme", "app", "main")
			if wel["node"] != "n1" {
				t.Fatalf("main welcome node %v", wel["node"])
			}
			wins["child"], wel = connectUser(t, n2, "u1", "acme", "app", "child")
			if wel["node"] != "n2" || wel["session"] != "app" {
				t.Fatalf("child welcome %v", wel)
			}
			w.waitFrame(0, 20*time.Second, func(f map[string]any) bool { return f["user"] == "u1" && f["status"] == "online" })
			for _, name := range tc.close {
				_ = wins[name].ws.Close()
			}
			if tc.reconnect {
				_, wel = connectUser(t, n3, "u1", "acme", "app", "main")
				if wel["node"] != "n3" {
					t.Fatalf("reconnect welcome node %v", wel["node"])
				}
			}
			if strings.HasSuffix(tc.want, "offline") {
				w.waitFrame(0, grace+20*time.Second, func(f map[string]any) bool { return f["user"] == "u1" && f["status"] == "offline" })
			}
			// Past the grace, a marker change proves every frame the closes
			// could have caused has arrived.
			marker(t, n3, w, grace+time.Second)
			fs := w.presenceFrames("u1")
			if got := statusesOf(fs); got != tc.want {
				t.Fatalf("subscriber on n3 saw %s, want %s; frames %v", got, tc.want, fs)
			}
			for _, f := range fs {
				if f["status"] == "online" && (f["sessions"] != float64(1) || fmt.Sprint(f["devices"]) != "[desktop]") {
					t.Fatalf("online frame %v: want one session, devices [desktop]", f)
				}
			}
			checkVersions(t, fs)
		})
	}
}

func TestClusterWindowsClosedAtOnce(t *testing.T) {
	const rounds = 50
	cl := startCluster(t, 3, func(c *Config) { c.Grace = 100 * time.Millisecond })
	n1, n2 := cl.nodes[0], cl.nodes[1]
	var watchers []*client
	for _, n := range cl.nodes {
		watchers = append(watchers, watch(t, n, "u1"))
	}
	for r := range rounds {
		from := make([]int, len(watchers))
		for i, w := range watchers {
			from[i] = w.count()
		}
		session := fmt.Sprintf("app%d", r)
		a, _ := connectUser(t, n1, "u1", "acme", session, "main")
		b, _ := connectUser(t, n2, "u1", "acme", session, "child")
		for i, w := range watchers {
			_, from[i] = w.waitFrame(from[i], 20*time.Second, func(f map[string]any) bool { return f["user"] == "u1" && f["status"] == "online" })
		}
		closeTogether(a, b)
		for i, w := range watchers {
			w.waitFrame(from[i], 20*time.Second, func(f map[string]any) bool { return f["user"] == "u1" && f["status"] == "offline" })
		}
	}
	marker(t, cl.nodes[2], watchers[2], 300*time.Millisecond)
	want := strings.TrimSuffix(strings.Repeat("online,offline,", rounds), ",")
	for i, w := range watchers {
		fs := w.presenceFrames("u1")
		if got := statusesOf(fs); got != want {
			t.Fatalf("watcher on n%d saw %s", i+1, got)
		}
		checkVersions(t, fs)
	}
}

func TestClusterNoConnKeysLeft(t *testing.T) {
	cl := startCluster(t, 3, nil)
	var clients []*client
	var users []string
	for i := range 20 {
		u := fmt.Sprintf("c%d", i)
		users = append(users, u)
		s := "app-" + u
		a, _ := connectUser(t, cl.nodes[i%3], u, "acme", s, "main")
		b, _ := connectUser(t, cl.nodes[(i+1)%3], u, "acme", s, "child")
		clients = append(clients, a, b)
		if i%2 == 0 {
			c, _ := connectUser(t, cl.nodes[(i+2)%3], u, "acme", "phone-"+u, "main")
			clients = append(clients, c)
		}
	}
	if keys, _ := cl.connKeysOf(t, ""); len(keys) != len(clients) {
		t.Fatalf("%d :conn: keys for %d open connections: %v", len(keys), len(clients), keys)
	}
	// Half closed one by one, half at once.
	for _, c := range clients[:len(clients)/2] {
		_ = c.ws.Close()
	}
	closeTogether(clients[len(clients)/2:]...)
	testenv.WaitFor(t, 20*time.Second, func() error {
		for _, pattern := range []string{"pgw:conn:*", "pgw:sid:*"} {
			if keys := cl.keys(t, pattern); len(keys) > 0 {
				return fmt.Errorf("%d keys %s left: %v", len(keys), pattern, keys)
			}
		}
		// Of a user only the offline version is left, and it expires (§3.2).
		for _, k := range cl.keys(t, "pgw:user:*") {
			if f, err := cl.rdb.HLen(context.Background(), k).Result(); err != nil || f != 4 {
				return fmt.Errorf("%s: %d fields (%v), want only the offline version", k, f, err)
			}
			if ttl, err := cl.rdb.PTTL(context.Background(), k).Result(); err != nil || ttl <= 0 {
				return fmt.Errorf("%s: TTL %v (%v), want one", k, ttl, err)
			}
		}
		return nil
	})
	ps, err := cl.nodes[0].Store().GetMany(context.Background(), "acme", users)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Status != "offline" {
			t.Fatalf("%s is %s after every connection closed", p.User, p.Status)
		}
	}
}

func TestClusterLogoutClosesWindowsOnOtherNodes(t *testing.T) {
	// A minute of grace: anything that goes offline here went without it.
	cl := startCluster(t, 3, func(c *Config) { c.Grace = time.Minute })
	n1, n2, n3 := cl.nodes[0], cl.nodes[1], cl.nodes[2]
	w := watch(t, n3, "u1")
	main, _ := connectUser(t, n1, "u1", "acme", "app", "main")
	child, _ := connectUser(t, n2, "u1", "acme", "app", "child")
	other, _ := connectUser(t, n3, "u1", "acme", "phone-app", "main")
	w.waitFrame(0, 20*time.Second, func(f map[string]any) bool { return f["user"] == "u1" && f["sessions"] == float64(2) })
	if r := main.request(map[string]any{"type": "logout"}); r["type"] != "ok" {
		t.Fatalf("logout: %v", r)
	}
	for name, c := range map[string]*client{"main on n1": main, "child on n2": child} {
		ce := c.waitClose(5 * time.Second)
		if ce.Code != 1000 || ce.Text != "logged_out" {
			t.Fatalf("%s: close %v", name, ce)
		}
		if bye, _ := c.waitFrame(0, 10*time.Second, func(f map[string]any) bool { return f["type"] == "bye" }); bye["reason"] != "logged_out" {
			t.Fatalf("%s: bye %v", name, bye)
		}
	}
	w.waitFrame(0, 20*time.Second, func(f map[string]any) bool { return f["user"] == "u1" && f["sessions"] == float64(1) })
	if r := other.request(map[string]any{"type": "logout"}); r["type"] != "ok" {
		t.Fatal(r)
	}
	w.waitFrame(0, 20*time.Second, func(f map[string]any) bool { return f["user"] == "u1" && f["status"] == "offline" })
	checkVersions(t, w.presenceFrames("u1"))
	testenv.WaitFor(t, 20*time.Second, func() error {
		if keys, _ := cl.connKeysOf(t, ""); len(keys) != 1 { // the watcher's own
			return fmt.Errorf(":conn: keys %v, want only the watcher's", keys)
		}
		return nil
	})
}

func TestClusterTelephony(t *testing.T) {
	cl := startCluster(t, 3, nil)
	n1, n2, n3 := cl.nodes[0], cl.nodes[1], cl.nodes[2]
	w := watch(t, n3, "alice")
	alice, _ := connectUser(t, n2, "alice", "acme", "desk", "main")
	w.waitFrame(0, 20*time.Second, func(f map[string]any) bool { return f["user"] == "alice" && f["status"] == "online" })

	bridgeHello := func(n *testNode) *client {
		t.Helper()
		b := dial(t, n.url, nil)
		if r := b.request(map[string]any{"type": "hello", "token": token(t, "pbx1", "acme", "bridge")}); r["type"] != "welcome" {
			t.Fatalf("bridge hello: %v", r)
		}
		return b
	}
	ok := func(c *client, m map[string]any) {
		t.Helper()
		if r := c.request(m); r["type"] != "ok" {
			t.Fatalf("%v: %v", m["type"], r)
		}
	}
	wantPhone := func(from int, state string) int {
		t.Helper()
		f, i := w.waitFrame(from, 20*time.Second, func(f map[string]any) bool { return f["user"] == "alice" && clusterPhoneState(f) == state })
		if f["status"] != "online" {
			t.Fatalf("the phone must overlay, not replace the status: %v", f)
		}
		return i + 1
	}
	wantCall := func(from int, event string) int {
		t.Helper()
		f, i := alice.waitFrame(from, 20*time.Second, func(f map[string]any) bool { return f["type"] == "call" && f["event"] == event })
		if f["ext"] != "1001" || f["user"] != "alice" {
			t.Fatalf("call frame %v", f)
		}
		return i + 1
	}

	b := bridgeHello(n1)
	ok(b, map[string]any{"type": "ipt.sync", "bridge": "pbx1", "devices": []map[string]any{{"ext": "1001", "user": "alice", "state": "registered"}}})
	wf := wantPhone(0, "idle")
	ok(b, map[string]any{"type": "ipt.event", "bridge": "pbx1", "seq": 1, "ext": "1001", "event": "ringing", "call": "c1", "direction": "inbound", "peer": "+4930999"})
	af := wantCall(0, "ringing")
	wf = wantPhone(wf, "ringing")
	ok(b, map[string]any{"type": "ipt.event", "bridge": "pbx1", "seq": 2, "ext": "1001", "event": "answered"})
	wantCall(af, "answered")
	wf = wantPhone(wf, "in_call")

	// The bridge goes away: after the grace nobody reports for the device.
	_ = b.ws.Close()
	wf = wantPhone(wf, "unknown")
	// It comes back (on another node) with the truth: restored at once.
	b = bridgeHello(n3)
	ok(b, map[string]any{"type": "ipt.sync", "bridge": "pbx1", "devices": []map[string]any{{"ext": "1001", "user": "alice", "state": "registered",
		"call": map[string]any{"id": "c1", "state": "in_call", "direction": "inbound", "peer": "+4930999"}}}})
	wantPhone(wf, "in_call")
	fs := w.presenceFrames("alice")
	var states []string
	for _, f := range fs {
		if s := clusterPhoneState(f); s != "" {
			states = append(states, s)
		}
	}
	if got := strings.Join(states, ","); got != "idle,ringing,in_call,unknown,in_call" {
		t.Fatalf("phone states seen on n3: %s", got)
	}
	checkVersions(t, fs)
}
