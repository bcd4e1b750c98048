package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/wire"
)

// A change that reached the store but whose NATS publish was lost (a
// stalled link swallowed it, or the store's reply was lost so the node
// published nothing) reaches the node's subscribers through the periodic
// re-read (PGW_RESYNC_EVERY), not never.
func TestAntiEntropyDeliversALostPublish(t *testing.T) {
	_, bob, st, _ := aliceWatchedByBob(t, 200*time.Millisecond)

	// Another writer changes alice in the shared store and publishes nothing.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ch, err := st.SetStatus(ctx, "acme", "alice", wire.DND, "unseen", time.Now())
	if err != nil || !ch.Changed {
		t.Fatalf("set status in the store: %v %+v", err, ch)
	}

	f := waitAliceDnd(t, bob, "bob never saw alice's dnd that only the store had")
	if v, _ := f["version"].(float64); int64(v) != ch.Presence.Version {
		t.Fatalf("delivered version %v, the store's change has %d", f["version"], ch.Presence.Version)
	}
}

// A subscribe whose snapshot is newer than what the node has fanned out (the
// change is in the store, its bus message still in flight) pushes that
// state to the connections already watching: when the bus message arrives
// it is dropped as already shown, and so is every later re-read of the same
// version, so without the push they would keep the older state for good.
func TestSubscribeSnapshotNewerThanNodePushesToWatchers(t *testing.T) {
	opt := presence.DefaultOptions()
	opt.Grace = 300 * time.Millisecond
	st := presence.NewMemory(opt)
	tn := startNodeDeps(t, func(c *Config) { c.ResyncEvery = 100 * time.Millisecond }, Deps{Store: st})
	connectUser(t, tn, "alice", "acme", "s-alice", "main")
	bob, _ := connectUser(t, tn, "bob", "acme", "s-bob", "main")
	if r := bob.request(map[string]any{"type": "subscribe", "id": 2, "users": []string{"alice"}}); r["type"] != "ok" {
		t.Fatalf("bob's subscribe: %v", r)
	}

	// The change is in the store; its publish has not reached this node.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ch, err := st.SetStatus(ctx, "acme", "alice", wire.DND, "in flight", time.Now())
	if err != nil || !ch.Changed {
		t.Fatalf("set status in the store: %v %+v", err, ch)
	}

	carol, _ := connectUser(t, tn, "carol", "acme", "s-carol", "main")
	r := carol.request(map[string]any{"type": "subscribe", "id": 2, "users": []string{"alice"}})
	ps, _ := r["presence"].([]any)
	if len(ps) != 1 || ps[0].(map[string]any)["status"] != "dnd" {
		t.Fatalf("carol's subscribe reply: %v", r)
	}
	// Now the bus message of the same change arrives, late.
	tn.onPresence("acme", "alice", ch.Presence.Version, mustJSON(ch.Presence))

	waitAliceDnd(t, bob, "bob kept alice's older state")
	// Exactly once each: carol had it in her reply, bob got one push.
	if got := len(carol.presenceFrames("alice")); got != 0 {
		t.Fatalf("carol was also pushed alice %d times after her reply", got)
	}
	if got := statusesOf(bob.presenceFrames("alice")); got != "dnd" {
		t.Fatalf("bob's pushes of alice: %s, want one dnd", got)
	}
}

// The periodic re-read does not race a bus that runs behind the store: a
// change whose bus message may still be on its way (younger than a quarter
// of PGW_RESYNC_EVERY; queued at a saturated node) is left to that message,
// so every subscriber gets it as its own push and none is skipped by the
// store's newer state; a change whose message never comes is delivered by
// a round after that age.
func TestAntiEntropyLeavesAChangeInFlightToTheBus(t *testing.T) {
	n1, bob, st, shown := aliceWatchedByBob(t, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	before := shown()

	// In flight: in the store, its bus message not here yet.
	busy, err := st.SetStatus(ctx, "acme", "alice", wire.Busy, "queued", time.Now())
	if err != nil || !busy.Changed {
		t.Fatalf("set status in the store: %v %+v", err, busy)
	}
	n1.antiEntropy(ctx, time.Now())
	if v := shown(); v != before {
		t.Fatalf("a re-read delivered version %d while its bus message may be in flight (shown was %d)", v, before)
	}
	n1.onPresence("acme", "alice", busy.Presence.Version, mustJSON(busy.Presence)) // the bus catches up
	if f, _ := bob.waitFrame(0, 10*time.Second, func(m map[string]any) bool {
		return m["type"] == "presence" && m["user"] == "alice" && m["status"] == "busy"
	}); f == nil {
		t.Fatalf("bob never got alice's busy from the bus: %s", statusesOf(bob.presenceFrames("alice")))
	}

	// Lost: the bus never brings it; a round once it is old delivers it.
	dnd, err := st.SetStatus(ctx, "acme", "alice", wire.DND, "lost", time.Now())
	if err != nil || !dnd.Changed {
		t.Fatalf("set status in the store: %v %+v", err, dnd)
	}
	n1.antiEntropy(ctx, time.Now())
	if v := shown(); v != busy.Presence.Version {
		t.Fatalf("a round right after the change delivered version %d", v)
	}
	n1.antiEntropy(ctx, time.Now().Add(time.Hour))
	if v := shown(); v != dnd.Presence.Version {
		t.Fatalf("a round an hour later left the node at version %d, want the store's %d", v, dnd.Presence.Version)
	}
	waitAliceDnd(t, bob, "bob never got alice's lost dnd")
	var busies int
	for _, m := range bob.presenceFrames("alice") {
		if m["status"] == "busy" {
			busies++
		}
	}
	if busies != 1 {
		t.Fatalf("bob got alice's busy %d times, want once: %s", busies, statusesOf(bob.presenceFrames("alice")))
	}
}

// TestAntiEntropyDeliversAChangeStampedAhead: a change stamped by a node
// whose clock runs ahead of this one's looks young to every round by its
// version alone; found unshown and unchanged in two rounds in a row, it is
// delivered, so no clock keeps a lost bus message from its subscribers.
func TestAntiEntropyDeliversAChangeStampedAhead(t *testing.T) {
	n1, bob, st, shown := aliceWatchedByBob(t, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Made (and stamped) by a node whose clock is 5 minutes ahead (within
	// maxVersionLead, so the bus would take it); its bus message is lost.
	dnd, err := st.SetStatus(ctx, "acme", "alice", wire.DND, "ahead", time.Now().Add(5*time.Minute))
	if err != nil || !dnd.Changed {
		t.Fatalf("set status in the store: %v %+v", err, dnd)
	}
	before := shown()
	n1.antiEntropy(ctx, time.Now())
	if v := shown(); v != before {
		t.Fatalf("the first round delivered version %d, which may still be on the bus (shown was %d)", v, before)
	}
	n1.antiEntropy(ctx, time.Now())
	if v := shown(); v != dnd.Presence.Version {
		t.Fatalf("the second round left the node at version %d, want the store's %d", v, dnd.Presence.Version)
	}
	waitAliceDnd(t, bob, "bob never got alice's dnd")
}

// aliceWatchedByBob starts one node with anti-entropy every resyncEvery
// (an hour: rounds a test runs by hand, with their time), with alice
// connected and bob watching her, and a store on the node's Redis that
// changes alice behind the bus's back; shown is the version of alice the
// node has shown.
func aliceWatchedByBob(t *testing.T, resyncEvery time.Duration) (n1 *testNode, bob *client, st presence.Store, shown func() int64) {
	t.Helper()
	tc := startCluster(t, 1, func(c *Config) { c.ResyncEvery = resyncEvery })
	n1 = tc.nodes[0]
	connectUser(t, n1, "alice", "acme", "s-alice", "main")
	bob, _ = connectUser(t, n1, "bob", "acme", "s-bob", "main")
	if reply := bob.request(map[string]any{"type": "subscribe", "id": 2, "users": []string{"alice"}}); reply["type"] != "ok" {
		t.Fatalf("subscribe: %v", reply)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opt := presence.DefaultOptions()
	opt.Prefix = n1.cfg.Prefix
	rs, err := presence.NewRedis(ctx, tc.rdb, opt)
	if err != nil {
		t.Fatal(err)
	}
	return n1, bob, rs, func() int64 { v, _ := n1.hub.shownPresent("acme", "alice"); return v }
}

// waitAliceDnd waits for w's presence frame of alice in dnd and returns it;
// without one it fails with why and the statuses w was shown.
func waitAliceDnd(t *testing.T, w *client, why string) map[string]any {
	t.Helper()
	f, _ := w.waitFrame(0, 10*time.Second, func(m map[string]any) bool {
		return m["type"] == "presence" && m["user"] == "alice" && m["status"] == "dnd"
	})
	if f == nil {
		t.Fatalf("%s: %s", why, statusesOf(w.presenceFrames("alice")))
	}
	return f
}
