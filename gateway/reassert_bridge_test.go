package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/problem"
)

// TestReassertClosesBridges: a node declared dead (or whose Redis came back
// empty) re-asserts its connections, but the telephony truth of a bridge
// on it is gone (its devices turned unknown when its session was reaped);
// only the bridge knows it again. The node closes the bridge's connection
// with a code it reconnects after, and a reconnected bridge sends ipt.sync
// (contract §3.1). Found by the chaos checker (SIGSTOP of the bridge's
// node: phones stuck unknown while the bridge stayed connected).
func TestReassertClosesBridges(t *testing.T) {
	const ttl = 400 * time.Millisecond
	st := presence.NewMemory(presence.Options{Grace: 300 * time.Millisecond, NodeTTL: ttl, MaxConnsPerUser: 32, Prefix: "pgw"})
	tn := startNodeDeps(t, func(c *Config) { c.NodeTTL = ttl }, Deps{Store: st})
	w := watch(t, tn, "alice")
	b := bridgeConn(t, tn, "pbx1", "bridge-pbx1")
	if r := b.request(map[string]any{"type": "ipt.sync", "bridge": "pbx1", "devices": []any{
		map[string]any{"ext": "1001", "user": "alice", "state": "registered"},
	}}); r["type"] != "ok" {
		t.Fatalf("sync: %v", r)
	}
	waitPhone(t, w, 0, "alice", "idle")
	// Another node declares this one dead and reaps it.
	if _, err := st.ReapDeadNodes(context.Background(), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	ce := b.waitClose(10 * time.Second)
	if ce == nil || ce.Code != problem.CloseInternal || problem.ReconnectRule(ce.Code) == problem.ReconnectNo {
		t.Fatalf("bridge connection after the re-assert: %v, want closed %d (reconnect with backoff)", ce, problem.CloseInternal)
	}
}
