package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/pgw/pgw/wire"
)

// fakeInterest records the hub's bus calls and fails on the users in fail.
// It reports a Watch of what is watched, or an Unwatch of what is not: the
// hub must call each once per first holder and last.
type fakeInterest struct {
	t       *testing.T
	mu      sync.Mutex
	watched map[string]bool
	calls   []string
	fail    map[string]bool
}

func newFakeInterest(t *testing.T) *fakeInterest {
	return &fakeInterest{t: t, watched: map[string]bool{}, fail: map[string]bool{}}
}

func (f *fakeInterest) Watch(tenant, user string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := tenant + "/" + user
	if f.fail[user] {
		return errors.New("nats refused " + k)
	}
	if f.watched[k] {
		f.t.Errorf("Watch(%s) while watched", k)
	}
	f.watched[k] = true
	f.calls = append(f.calls, "+"+k)
	return nil
}

func (f *fakeInterest) Unwatch(tenant, user string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := tenant + "/" + user
	if !f.watched[k] {
		f.t.Errorf("Unwatch(%s) while not watched", k)
	}
	delete(f.watched, k)
	f.calls = append(f.calls, "-"+k)
}

func (f *fakeInterest) WatchTenant(tenant string) error { return f.Watch(tenant, "*") }
func (f *fakeInterest) UnwatchTenant(tenant string)     { f.Unwatch(tenant, "*") }

func (f *fakeInterest) took() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.calls)
	f.calls = nil
	return out
}

// hubConn is a welcomed connection of the hub's tests: what it is sent
// stays in its queue (no socket, no writer).
func hubConn(user string) *conn {
	return &conn{n: &Node{cfg: Config{OutboundQueue: 1 << 20}}, id: "c-" + user, tenant: "acme", user: user, writing: true}
}

// sent returns the versions c was sent per user (a subscribe reply counts
// as one message per listed user) and forgets them.
func sent(t *testing.T, c *conn) map[string][]int64 {
	t.Helper()
	c.mu.Lock()
	q := c.queue
	c.queue = nil
	c.mu.Unlock()
	out := map[string][]int64{}
	for _, f := range q {
		var ps []wire.Presence
		if err := json.Unmarshal(f.data, &ps); err != nil {
			var p wire.Presence
			if err := json.Unmarshal(f.data, &p); err != nil {
				t.Fatalf("queued %s", f.data)
			}
			ps = []wire.Presence{p}
		}
		for _, p := range ps {
			out[p.User] = append(out[p.User], p.Version)
		}
	}
	return out
}

func snap(versions map[string]int64) snapshot {
	return func() (users, tenant []wire.Presence, err error) {
		for _, u := range slices.Sorted(maps.Keys(versions)) {
			users = append(users, wire.Presence{Tenant: "acme", User: u, Status: wire.Online, Version: versions[u]})
		}
		return users, nil, nil
	}
}

func listReply(list []json.RawMessage) []byte { return mustJSON(list) }

func pres(user string, version int64) []byte {
	return mustJSON(wire.Presence{Tenant: "acme", User: user, Status: wire.Busy, Version: version})
}

// TestHubOwnsBusInterest: the bus is told once when a user gains its first
// holder here (a watcher or the user's own connection) and once after the
// last goes; a subscribe of what is watched already takes nothing new.
func TestHubOwnsBusInterest(t *testing.T) {
	bus := newFakeInterest(t)
	h := newHub()
	h.bus = bus
	a, b, u1 := hubConn("a"), hubConn("b"), hubConn("u1")
	if err := h.subscribe(a, []string{"u1", "u2"}, false, snap(map[string]int64{"u1": 1, "u2": 1}), listReply); err != nil {
		t.Fatal(err)
	}
	if got := bus.took(); !slices.Equal(got, []string{"+acme/u1", "+acme/u2"}) {
		t.Fatalf("first subscribe took %v", got)
	}
	if err := h.subscribe(b, []string{"u1"}, false, snap(map[string]int64{"u1": 1}), listReply); err != nil {
		t.Fatal(err)
	}
	if err := h.subscribe(a, []string{"u1"}, false, snap(map[string]int64{"u1": 1}), listReply); err != nil {
		t.Fatal(err)
	}
	if err := h.watchSelf(u1); err != nil {
		t.Fatal(err)
	}
	if got := bus.took(); len(got) != 0 {
		t.Fatalf("more holders of watched users took %v", got)
	}
	h.unsubscribe(a, []string{"u1", "u2", "nobody"}, false)
	if got := bus.took(); !slices.Equal(got, []string{"-acme/u2"}) {
		t.Fatalf("a's unsubscribe gave back %v, want only u2", got)
	}
	h.remove(b)
	h.unwatchSelf(u1)
	if got := bus.took(); !slices.Equal(got, []string{"-acme/u1"}) {
		t.Fatalf("after the last holder: %v", got)
	}
	for i := range h.shards {
		s := &h.shards[i]
		if len(s.watch)+len(s.pending)+len(s.self)+len(s.last) != 0 {
			t.Fatalf("shard %d keeps state: %v %v %v %v", i, s.watch, s.pending, s.self, s.last)
		}
	}
}

// TestHubKeepsWhatArrivesDuringSubscribe: a change delivered after the bus
// interest was taken but before the reply is queued is not lost: the reply
// carries it (the snapshot read before it is older), and nothing older or
// equal is pushed after the reply.
func TestHubKeepsWhatArrivesDuringSubscribe(t *testing.T) {
	h := newHub()
	h.bus = newFakeInterest(t)
	c := hubConn("a")
	read := func() (users, tenant []wire.Presence, err error) {
		h.deliver("acme", "u1", 5, pres("u1", 5)) // published after the store read
		return snap(map[string]int64{"u1": 3})()
	}
	if err := h.subscribe(c, []string{"u1"}, false, read, listReply); err != nil {
		t.Fatal(err)
	}
	for _, v := range []int64{4, 5, 6} {
		h.deliver("acme", "u1", v, pres("u1", v))
	}
	if got := sent(t, c)["u1"]; !slices.Equal(got, []int64{5, 6}) {
		t.Fatalf("u1 versions sent %v, want the reply at 5 then 6", got)
	}
}

// TestHubTenantSubscribeKeepsWhoCameOnlineDuringIt: a user of the tenant
// whose change is delivered after the tenant's bus interest was taken but
// before the reply is queued (the store read did not list them yet) is in
// the reply. Before, the cached change was pushed to nobody (this
// connection was not a tenant watcher yet) and every later copy of it was
// dropped as already shown: the subscriber never learned the user was
// online. Users shown offline stay out (the tenant list has no offline
// users).
func TestHubTenantSubscribeKeepsWhoCameOnlineDuringIt(t *testing.T) {
	h := newHub()
	h.bus = newFakeInterest(t)
	c := hubConn("board")
	read := func() (users, tenant []wire.Presence, err error) {
		h.deliver("acme", "u4", 7, pres("u4", 7)) // came online after the store read
		h.deliver("acme", "gone", 9, mustJSON(wire.Presence{Tenant: "acme", User: "gone", Status: wire.Offline, Version: 9}))
		return nil, []wire.Presence{{Tenant: "acme", User: "u1", Status: wire.Online, Version: 3}}, nil
	}
	if err := h.subscribe(c, nil, true, read, listReply); err != nil {
		t.Fatal(err)
	}
	got := sent(t, c)
	if !slices.Equal(got["u4"], []int64{7}) || !slices.Equal(got["u1"], []int64{3}) || got["gone"] != nil {
		t.Fatalf("tenant reply and pushes %v, want u1@3 and u4@7 (and not gone)", got)
	}
	// A second tenant subscribe of the same connection (a client that
	// re-subscribes while its first one is answered) lists u4 too: a reply
	// without it would tell the client u4 went offline.
	h.deliver("acme", "u5", 8, pres("u5", 8))
	read2 := func() (users, tenant []wire.Presence, err error) {
		h.deliver("acme", "u6", 10, pres("u6", 10))
		return nil, []wire.Presence{{Tenant: "acme", User: "u1", Status: wire.Online, Version: 3}}, nil
	}
	if err := h.subscribe(c, nil, true, read2, listReply); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	reply := c.queue[len(c.queue)-1].data
	c.mu.Unlock()
	var listed []wire.Presence
	if err := json.Unmarshal(reply, &listed); err != nil {
		t.Fatalf("reply %s", reply)
	}
	var names []string
	for _, p := range listed {
		names = append(names, p.User)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"u1", "u4", "u5", "u6"}) {
		t.Fatalf("second tenant reply lists %v, want u1 u4 u5 u6", names)
	}
}

// TestHubSubscribeFailureHoldsNothing: when the bus refuses a user or the
// store read fails, the interest already taken is given back.
func TestHubSubscribeFailureHoldsNothing(t *testing.T) {
	bus := newFakeInterest(t)
	h := newHub()
	h.bus = bus
	c := hubConn("a")
	bus.fail["u2"] = true
	if err := h.subscribe(c, []string{"u1", "u2"}, false, snap(nil), listReply); err == nil {
		t.Fatal("subscribe succeeded with u2 refused")
	}
	if got := bus.took(); !slices.Equal(got, []string{"+acme/u1", "-acme/u1"}) {
		t.Fatalf("bus calls %v", got)
	}
	failing := func() (users, tenant []wire.Presence, err error) { return nil, nil, errors.New("redis down") }
	if err := h.subscribe(c, []string{"u1"}, true, failing, listReply); err == nil {
		t.Fatal("subscribe succeeded with the read failing")
	}
	if got := bus.took(); !slices.Equal(got, []string{"+acme/*", "+acme/u1", "-acme/u1", "-acme/*"}) {
		t.Fatalf("bus calls %v", got)
	}
	if c.subs.len() != 0 || c.tenantSub || len(h.tenants) != 0 {
		t.Fatalf("c watches %v (tenant %v), hub tenants %v", c.subs.list, c.tenantSub, h.tenants)
	}
}

// TestHubTenantWatch: a whole-tenant watcher gets every user's changes once
// (also users it watches one by one), and its end gives the tenant's
// interest and cached versions back.
func TestHubTenantWatch(t *testing.T) {
	bus := newFakeInterest(t)
	h := newHub()
	h.bus = bus
	c := hubConn("admin")
	if err := h.subscribe(c, []string{"u1"}, true, snap(map[string]int64{"u1": 1}), listReply); err != nil {
		t.Fatal(err)
	}
	h.deliver("acme", "u1", 2, pres("u1", 2))
	h.deliver("acme", "u7", 1, pres("u7", 1))
	got := sent(t, c)
	if !slices.Equal(got["u1"], []int64{1, 2}) || !slices.Equal(got["u7"], []int64{1}) {
		t.Fatalf("sent %v", got)
	}
	h.remove(c)
	if got := bus.took(); !slices.Equal(got, []string{"+acme/*", "+acme/u1", "-acme/u1", "-acme/*"}) {
		t.Fatalf("bus calls %v", got)
	}
	for i := range h.shards {
		if len(h.shards[i].last) != 0 {
			t.Fatalf("shard %d still caches %v", i, h.shards[i].last)
		}
	}
}

// TestHubParallelFanoutKeepsEachUsersOrder: deliveries for many users from
// many goroutines (the shards run in parallel) never push a connection an
// older version of a user after a newer one.
func TestHubParallelFanoutKeepsEachUsersOrder(t *testing.T) {
	h := newHub()
	h.bus = newFakeInterest(t)
	const users, versions = 50, 40
	var names []string
	start := map[string]int64{}
	for i := range users {
		u := fmt.Sprintf("u%d", i)
		names = append(names, u)
		start[u] = 0
	}
	watchers := []*conn{hubConn("a"), hubConn("b")}
	for _, c := range watchers {
		if err := h.subscribe(c, names, false, snap(start), listReply); err != nil {
			t.Fatal(err)
		}
		sent(t, c)
	}
	var wg sync.WaitGroup
	for _, u := range names {
		for w := range 3 { // three racing publishers per user, versions interleaved
			wg.Add(1)
			go func() {
				defer wg.Done()
				for v := int64(1 + w); v <= versions; v += 3 {
					h.deliver("acme", u, v, pres(u, v))
				}
			}()
		}
	}
	wg.Wait()
	for _, c := range watchers {
		for u, vs := range sent(t, c) {
			if !slices.IsSorted(vs) || len(vs) == 0 || vs[len(vs)-1] != versions {
				t.Fatalf("%s got %s's versions %v: out of order or the newest missing", c.user, u, vs)
			}
			if len(slices.Compact(slices.Clone(vs))) != len(vs) {
				t.Fatalf("%s got a version of %s twice: %v", c.user, u, vs)
			}
		}
	}
}

// TestHubShownPresent: what the node last showed of a user, from a
// subscribe snapshot (status known) or from the bus (decoded when asked).
func TestHubShownPresent(t *testing.T) {
	h := newHub()
	h.bus = newFakeInterest(t)
	c := hubConn("a")
	if err := h.subscribe(c, []string{"u1", "u2"}, false, snap(map[string]int64{"u1": 3, "u2": 0}), listReply); err != nil {
		t.Fatal(err)
	}
	if v, present := h.shownPresent("acme", "u1"); v != 3 || !present {
		t.Fatalf("u1 from the snapshot: %d %v, want 3 present", v, present)
	}
	if _, present := h.shownPresent("acme", "u2"); present {
		t.Fatal("u2 never seen (version 0) shown present")
	}
	off := mustJSON(wire.Presence{Tenant: "acme", User: "u1", Status: wire.Offline, Version: 4})
	h.deliver("acme", "u1", 4, off)
	if v, present := h.shownPresent("acme", "u1"); v != 4 || present {
		t.Fatalf("u1 after an offline from the bus: %d %v, want 4 not present", v, present)
	}
	h.deliver("acme", "u1", 5, pres("u1", 5))
	if v, present := h.shownPresent("acme", "u1"); v != 5 || !present {
		t.Fatalf("u1 busy from the bus: %d %v, want 5 present", v, present)
	}
}

// A connection that closes gives back every watch it held, however many:
// no user stays watched on the bus, no watcher set keeps it.
func TestHubRemoveReleasesEveryWatch(t *testing.T) {
	bus := newFakeInterest(t)
	h := newHub()
	h.bus = bus
	users := []string{"u1", "u2", "u3", "u4", "u5"}
	versions := map[string]int64{}
	for _, u := range users {
		versions[u] = 1
	}
	c := hubConn("a")
	if err := h.subscribe(c, users, false, snap(versions), listReply); err != nil {
		t.Fatal(err)
	}
	bus.took()
	h.add(c)
	h.remove(c)
	if got := bus.took(); len(got) != len(users) {
		t.Fatalf("remove gave back %v, want all of %v", got, users)
	}
	for i := range h.shards {
		if s := &h.shards[i]; len(s.watch)+len(s.pending)+len(s.last) != 0 {
			t.Fatalf("shard %d keeps state after remove: %v %v %v", i, s.watch, s.pending, s.last)
		}
	}
}
