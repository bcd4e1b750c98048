package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/pgw/pgw/presence"
)

// A change that reached the store but whose NATS publish was lost (a
// stalled link swallowed it, or the store's reply was lost so the node
// published nothing) reaches the node's subscribers through the periodic
// re-read (PGW_RESYNC_EVERY), not never.
func TestAntiEntropyDeliversALostPublish(t *testing.T) {
	tc := startCluster(t, 1, func(c *Config) { c.ResyncEvery = 200 * time.Millisecond })
	n1 := tc.nodes[0]
	connectUser(t, n1, "alice", "acme", "s-alice", "main")
	bob, _ := connectUser(t, n1, "bob", "acme", "s-bob", "main")
	reply := bob.request(map[string]any{"type": "subscribe", "id": 2, "users": []string{"alice"}})
	if reply["type"] != "ok" {
		t.Fatalf("subscribe: %v", reply)
	}

	// Another writer changes alice in the shared store and publishes nothing.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	opt := presence.DefaultOptions()
	opt.Prefix = n1.cfg.Prefix
	st, err := presence.NewRedis(ctx, tc.rdb, opt)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := st.SetStatus(ctx, "acme", "alice", presence.DND, "unseen", time.Now())
	if err != nil || !ch.Changed {
		t.Fatalf("set status in the store: %v %+v", err, ch)
	}

	f, _ := bob.waitFrame(0, 10*time.Second, func(m map[string]any) bool {
		return m["type"] == "presence" && m["user"] == "alice" && m["status"] == "dnd"
	})
	if f == nil {
		t.Fatalf("bob never saw alice's dnd that only the store had: %s", statusesOf(bob.presenceFrames("alice")))
	}
	if v, _ := f["version"].(float64); int64(v) != ch.Presence.Version {
		t.Fatalf("delivered version %v, the store's change has %d", f["version"], ch.Presence.Version)
	}
}
