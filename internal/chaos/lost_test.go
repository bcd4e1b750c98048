package chaos

import (
	"fmt"
	"testing"
	"time"

	"github.com/pgw/pgw/internal/testenv"
	"github.com/pgw/pgw/loadtest"
)

// TestLostPublishRepublished: a presence change published on a NATS link
// that breaks right then (the reset eats the PUB) still reaches watchers on
// other nodes once the link is back. Found by the chaos checker (fault
// `reset` on a node's NATS proxy: subscribers elsewhere kept the old state).
func TestLostPublishRepublished(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gateway processes")
	}
	e := NewEnv(t, EnvOptions{Nodes: 2, Grace: time.Second, NodeTTL: 2 * time.Second, Prefix: "lost"})
	tok := func(u string) string {
		s, err := loadtest.Token(Secret, "t", u, nil, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := e.Nodes[0], e.Nodes[1]
	w, err := Dial(b, "w", tok("w"), "w", "sw", "main", "desktop")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	x, err := Dial(a, "x", tok("x"), "x", "sx", "main", "desktop")
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if r, err := w.Request(map[string]any{"type": "subscribe", "users": []string{"x"}}); err != nil || r["type"] != "ok" {
		t.Fatalf("subscribe: %v %v", r, err)
	}
	// Every byte node a sends to NATS from now on is swallowed and the link
	// reset: the PUB of x's status is lost on the wire.
	if err := addToxic(a.NATSProxy, "reset", "reset_peer", "upstream", `{"timeout":0}`); err != nil {
		t.Fatal(err)
	}
	if r, err := x.Request(map[string]any{"type": "status", "status": "busy", "note": "lost"}); err != nil || r["type"] != "ok" {
		t.Fatalf("status: %v %v", r, err)
	}
	_ = a.NATSProxy.Toxics.RemoveToxic(t.Context(), "reset")
	testenv.WaitFor(t, 20*time.Second, func() error {
		if f := w.Last()["x"]; f == nil || f["status"] != "busy" {
			return fmt.Errorf("the watcher on %s holds x as %v, want busy", b.ID, f)
		}
		return nil
	})
}
