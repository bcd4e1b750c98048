package chaos

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestCheckerCatches proves the invariants can fail: on a quiet, converged
// system, each kind of wrong state planted behind the gateway's back (or in
// the model) is reported.
func TestCheckerCatches(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three gateway processes")
	}
	r := newRun(t, Options{Seed: 7, Users: 3, Converge: 20 * time.Second})
	defer r.closeAll()
	if err := r.settleBridge(time.Now().Add(r.opt.Converge)); err != nil {
		t.Fatal(err)
	}
	u0, u1 := r.users[0], r.users[1]
	r.openSession(u0)
	r.openSession(u1)
	c := u1.openConns()[0]
	if res, err := c.Request(map[string]any{"type": "subscribe", "users": []string{"u0", "u2"}}); err != nil || res["type"] != "ok" {
		t.Fatalf("subscribe: %v %v", res, err)
	}
	if diff := r.converge(1); len(diff) != 0 {
		t.Fatalf("a quiet system does not converge:\n%s", strings.Join(diff, "\n"))
	}
	expectDiff := func(what, want string) {
		t.Helper()
		diff := r.converged()
		for _, d := range diff {
			if strings.Contains(d, want) {
				return
			}
		}
		t.Errorf("%s: no diff line contains %q; diff: %v", what, want, diff)
	}

	// A :conn: key without a live connection.
	ctx := context.Background()
	stray := "chaos:conn:{chaos:u2}:strayconn"
	if err := r.env.rdb.Set(ctx, stray, "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	expectDiff("stray key", ":conn: key of strayconn without a live connection")
	r.env.rdb.Del(ctx, stray)

	// A live connection whose key is gone.
	if err := r.env.rdb.Del(ctx, "chaos:conn:{chaos:u0}:"+u0.openConns()[0].ConnID).Err(); err != nil {
		t.Fatal(err)
	}
	expectDiff("missing key", ":conn: key missing for live connection "+u0.openConns()[0].ConnID)

	// The model disagrees with what GET and the subscriber hold.
	u0.manual, u0.note = "dnd", "planted"
	expectDiff("model", `GET u0 on n1: got online`)
	u0.manual, u0.note = "", ""

	// A subscriber holding a frame GET does not answer.
	c.mu.Lock()
	c.last["u2"] = map[string]any{"type": "presence", "user": "u2", "status": "online", "version": 1.0, "sessions": 1.0}
	c.mu.Unlock()
	expectDiff("subscriber", "subscriber "+c.Label+" (u1 on ")

	// A version that goes back within a connection.
	c.handle(map[string]any{"type": "presence", "user": "u0", "status": "online", "version": 1.0, "sessions": 1.0})
	if b := r.broken(); len(b) == 0 || !strings.Contains(b[0], "pushed u0 version 1") {
		t.Errorf("a version going back is not reported: %v", b)
	}
}

// TestCloseCodes: a close code outside the table is reported; a cut socket
// only when its node was not killed.
func TestCloseCodes(t *testing.T) {
	n := &Node{ID: "n9"}
	mk := func(code int, text string) *Conn {
		c := &Conn{Label: "c1", Node: n, done: make(chan struct{}), closeCode: code, closeText: text}
		close(c.done)
		return c
	}
	r := &run{}
	r.conns = []*Conn{mk(1000, "logged_out"), mk(4500, "internal"), mk(1001, "shutdown")}
	if b := r.broken(); len(b) != 0 {
		t.Fatalf("table codes reported: %v", b)
	}
	r.conns = []*Conn{mk(4999, "whatever")}
	if b := r.broken(); len(b) != 1 {
		t.Fatalf("4999 not reported: %v", b)
	}
	r.conns = []*Conn{mk(1006, "unexpected EOF")}
	if b := r.broken(); len(b) != 1 {
		t.Fatalf("a cut socket on a node never killed not reported: %v", b)
	}
	n.kills = 1
	if b := r.broken(); len(b) != 0 {
		t.Fatalf("a cut socket of a killed node reported: %v", b)
	}
}
