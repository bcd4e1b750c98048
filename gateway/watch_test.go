package gateway

import (
	"fmt"
	"testing"
	"time"

	"github.com/pgw/pgw/internal/testenv"
)

// helloWatch opens a watch-only connection of sub and returns it with its
// welcome (or the refusal).
func helloWatch(t *testing.T, tn *testNode, sub string, roles ...string) (*client, map[string]any) {
	t.Helper()
	c := dial(t, tn.url, nil)
	return c, c.request(map[string]any{"type": "hello", "token": token(t, sub, "acme", roles...), "device": "web", "watch": true})
}

// A watch-only viewer (the board) follows presence but is never present:
// its user stays offline while it is open, subscribers of that user see no
// change when it opens or closes, and it gets other users' changes.
func TestWatchOnlyCarriesNoPresence(t *testing.T) {
	tn := startNode(t, nil)
	w := watch(t, tn, "ops", "u1")
	v, welcome := helloWatch(t, tn, "ops", "admin")
	if welcome["type"] != "welcome" || welcome["watch"] != true {
		t.Fatalf("welcome: %v", welcome)
	}
	if p := welcome["presence"].(map[string]any); p["status"] != "offline" || p["sessions"] != 0.0 {
		t.Fatalf("a watch-only welcome shows its user %v", p)
	}
	if r := v.request(map[string]any{"type": "subscribe", "tenant": true}); r["type"] != "ok" {
		t.Fatalf("subscribe: %v", r)
	}
	connectUser(t, tn, "u1", "acme", "app", "main")
	v.waitFrame(0, 5*time.Second, func(f map[string]any) bool { return f["user"] == "u1" && f["status"] == "online" })

	r := newAPIClient(t, tn).do(apiReq{method: "GET", path: "/v1/presence/ops", token: token(t, "u2", "acme")})
	if r.status != 200 || r.json["status"] != "offline" {
		t.Fatalf("GET /v1/presence/ops while the viewer is open: %d %s", r.status, r.raw)
	}
	_ = v.ws.Close()
	v.waitClose(5 * time.Second)
	marker(t, tn, w, 500*time.Millisecond) // a grace-long wait: an offline would have come
	if fs := w.presenceFrames("ops"); len(fs) != 0 {
		t.Fatalf("subscribers of ops saw %v", fs)
	}
}

// A watch-only connection may subscribe but not change presence; a bridge
// cannot be watch-only; the per-node cap counts watch-only connections.
func TestWatchOnlyRules(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.MaxConnsPerUser = 2 })
	v, _ := helloWatch(t, tn, "ops")
	for _, f := range []map[string]any{
		{"type": "status", "status": "busy"},
		{"type": "idle", "idle": true},
		{"type": "logout"},
	} {
		r := v.request(f)
		if r["type"] != "error" || problemCode(r) != "forbidden" {
			t.Errorf("%v on a watch-only connection: %v", f["type"], r)
		}
	}
	if r := v.request(map[string]any{"type": "subscribe", "users": []string{"u1"}}); r["type"] != "ok" {
		t.Errorf("subscribe: %v", r)
	}

	b, r := helloWatch(t, tn, "pbx", "bridge")
	if r["type"] != "error" || problemCode(r) != "forbidden" {
		t.Errorf("bridge watch: %v", r)
	}
	if ce := b.waitClose(5 * time.Second); ce == nil || ce.Code != 4403 {
		t.Errorf("bridge watch closed %v, want 4403", ce)
	}

	helloWatch(t, tn, "ops")
	third, r := helloWatch(t, tn, "ops")
	if r["type"] != "error" || problemCode(r) != "too_many_connections" {
		t.Fatalf("third watch-only connection of a user capped at 2: %v", r)
	}
	if ce := third.waitClose(5 * time.Second); ce == nil || ce.Code != 4429 {
		t.Errorf("closed %v, want 4429", ce)
	}
	// Closing one makes room again.
	_ = v.ws.Close()
	v.waitClose(5 * time.Second)
	// (the node counts it gone once its reader stopped: wait for that)
	testenv.WaitFor(t, 5*time.Second, func() error {
		c, r := helloWatch(t, tn, "ops")
		if r["type"] != "welcome" {
			return fmt.Errorf("not admitted: %v", r)
		}
		_ = c.ws.Close()
		c.waitClose(5 * time.Second)
		return nil
	})
	// A real connection of the user is not limited by its viewers.
	connectUser(t, tn, "ops", "acme", "app", "main")
}
