package gateway

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pgw/pgw/ipt/ami"
	"github.com/pgw/pgw/ipt/ami/amitest"
	"github.com/pgw/pgw/ipt/bridge"
)

// bridgeConn connects an IP-phone bridge (role bridge) in session s.
func bridgeConn(t *testing.T, tn *testNode, id, session string) *client {
	t.Helper()
	c := dial(t, tn.url, nil)
	r := c.request(map[string]any{"type": "hello", "token": token(t, id, "acme", "bridge"), "session": session, "device": "bridge"})
	if r["type"] != "welcome" {
		t.Fatalf("bridge hello: %v", r)
	}
	return c
}

// phoneOf returns the phone object of a presence frame ("" state when absent).
func phoneOf(f map[string]any) (state string, call map[string]any) {
	p, _ := f["phone"].(map[string]any)
	if p == nil {
		return "", nil
	}
	call, _ = p["call"].(map[string]any)
	return p["state"].(string), call
}

// waitPhone waits for a presence frame of user with phone state, at or
// after frame index from.
func waitPhone(t *testing.T, w *client, from int, user, state string) map[string]any {
	t.Helper()
	f, _ := w.waitFrame(from, 3*time.Second, func(f map[string]any) bool {
		s, _ := phoneOf(f)
		return f["type"] == "presence" && f["user"] == user && s == state
	})
	return f
}

func TestCallCycleOverWebSocket(t *testing.T) {
	tn := startNode(t, nil)
	w := watch(t, tn, "alice")
	alice, _ := connectUser(t, tn, "alice", "acme", "app", "main")
	b := bridgeConn(t, tn, "pbx1", "bridge-pbx1")
	if r := b.request(map[string]any{"type": "ipt.sync", "bridge": "pbx1", "devices": []any{
		map[string]any{"ext": "1001", "user": "alice", "state": "registered"},
	}}); r["type"] != "ok" {
		t.Fatalf("sync: %v", r)
	}
	waitPhone(t, w, 0, "alice", "idle")
	steps := []struct{ event, phone string }{
		{"ringing", "ringing"}, {"answered", "in_call"}, {"held", "held"}, {"resumed", "in_call"}, {"ended", "idle"},
	}
	for i, s := range steps {
		from := w.count()
		r := b.request(map[string]any{"type": "ipt.event", "bridge": "pbx1", "seq": i + 1, "ext": "1001",
			"event": s.event, "call": "c1", "direction": "inbound", "peer": "+4930123"})
		if r["type"] != "ok" {
			t.Fatalf("%s: %v", s.event, r)
		}
		waitPhone(t, w, from, "alice", s.phone)
	}
	// Status is untouched by calls.
	for _, f := range w.presenceFrames("alice") {
		if f["status"] != "online" {
			t.Fatalf("status changed by a call: %v", f)
		}
	}
	checkVersions(t, w.presenceFrames("alice"))
	// The user's own window got every call frame, in order.
	alice.waitFrame(0, 3*time.Second, func(f map[string]any) bool { return f["type"] == "call" && f["event"] == "ended" })
	var events []string
	for _, f := range alice.all() {
		if f["type"] == "call" {
			events = append(events, f["event"].(string))
		}
	}
	if fmt.Sprint(events) != "[ringing answered held resumed ended]" {
		t.Fatalf("call frames %v", events)
	}
	// A resend is acknowledged and ignored.
	r := b.request(map[string]any{"type": "ipt.event", "bridge": "pbx1", "seq": 3, "ext": "1001", "event": "held", "call": "c1"})
	if r["type"] != "ok" || r["ignored"] != true {
		t.Fatalf("resend: %v", r)
	}
	// An unknown extension without user is 404.
	r = b.request(map[string]any{"type": "ipt.event", "bridge": "pbx1", "seq": 9, "ext": "7777", "event": "registered"})
	if problemCode(r) != "unknown_extension" || r["error"].(map[string]any)["status"].(float64) != 404 {
		t.Fatalf("unknown ext: %v", r)
	}
	// Bad fields are named.
	r = b.request(map[string]any{"type": "ipt.event", "bridge": "pbx1", "seq": "x", "ext": "1001", "event": "held"})
	if problemCode(r) != "invalid_argument" {
		t.Fatalf("bad seq: %v", r)
	}
}

func TestBridgeDropTurnsUnknownThenSyncRestores(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.Grace = 300 * time.Millisecond })
	w := watch(t, tn, "alice")
	b := bridgeConn(t, tn, "pbx1", "bridge-pbx1")
	b.request(map[string]any{"type": "ipt.sync", "bridge": "pbx1", "devices": []any{
		map[string]any{"ext": "1001", "user": "alice", "state": "registered"}}})
	waitPhone(t, w, 0, "alice", "idle")
	_ = b.ws.Close()
	waitPhone(t, w, 0, "alice", "unknown")
	// The phone socket reconnects and syncs: the true state at once, with
	// no manual step (the field bug this product exists to prevent).
	b = bridgeConn(t, tn, "pbx1", "bridge-pbx1")
	b.request(map[string]any{"type": "ipt.sync", "bridge": "pbx1", "devices": []any{
		map[string]any{"ext": "1001", "user": "alice", "state": "registered",
			"call": map[string]any{"id": "c9", "state": "in_call", "direction": "outbound", "peer": "200"}}}})
	f := waitPhone(t, w, 0, "alice", "in_call")
	if _, call := phoneOf(f); call["id"] != "c9" {
		t.Fatalf("call after sync: %v", f)
	}
	checkVersions(t, w.presenceFrames("alice"))
}

// TestAMIBridgeEndToEnd: the AMI bridge (cmd/ipt-bridge's engine) against a
// fake Asterisk and a real node: the snapshot and live events reach a
// subscriber; an AMI drop with the PBX changed meanwhile ends in the truth.
func TestAMIBridgeEndToEnd(t *testing.T) {
	tn := startNode(t, nil)
	w := watch(t, tn, "alice")
	pbx, err := amitest.NewServer("bridge", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	defer pbx.Close()
	pbx.SetDevice("PJSIP/1001", "NOT_INUSE")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- bridge.Run(ctx, bridge.Config{GatewayURL: tn.url, BridgeID: "pbx1", JWTSecret: []byte(testSecret), Tenant: "acme",
			AMI: ami.Config{Addr: pbx.Addr(), Username: "bridge", Secret: "s3cret"}, Users: bridge.Users{"1001": "alice"},
			BackoffMin: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("bridge.Run: %v", err)
		}
	}()
	waitPhone(t, w, 0, "alice", "idle")
	caller := amitest.Channel{Channel: "PJSIP/1001-00000001", Uniqueid: "1.1", Linkedid: "1.1", State: "Ring", CallerIDNum: "1001", Exten: "200"}
	callee := amitest.Channel{Channel: "PJSIP/trunk-00000002", Uniqueid: "1.2", Linkedid: "1.1", State: "Down", CallerIDNum: "200", ConnectedLineNum: "1001", Exten: "s"}
	from := w.count()
	pbx.DialBegin(caller, callee)
	waitPhone(t, w, from, "alice", "ringing")
	caller.State, caller.ConnectedLineNum = "Up", "200"
	pbx.Newstate(caller)
	waitPhone(t, w, from, "alice", "in_call")
	// AMI drops mid-call; the call ends while the bridge is cut off.
	pbx.RemoveChannel("1.1")
	pbx.RemoveChannel("1.2")
	pbx.SetDevice("PJSIP/1001", "NOT_INUSE")
	from = w.count()
	pbx.DropConnections()
	f := waitPhone(t, w, from, "alice", "idle")
	if _, call := phoneOf(f); call != nil {
		t.Fatalf("call still shown after resync: %v", f)
	}
}

// TestEventOfReplacedBridgeConnectionIgnored: a bridge whose connection was
// closed with an event in flight (its node re-asserted after Redis restarted
// empty) reconnects, syncs and counts from 1 again. The old connection's
// event, run by its node after that sync, must neither undo the sync nor
// make the new connection's events look like resends. Found by the chaos
// checker (kill + Redis restarts: GET in_call, the bridge's truth held).
func TestEventOfReplacedBridgeConnectionIgnored(t *testing.T) {
	tn := startNode(t, nil)
	w := watch(t, tn, "alice")
	event := func(c *client, seq int, ev string) map[string]any {
		t.Helper()
		r := c.request(map[string]any{"type": "ipt.event", "bridge": "pbx1", "seq": seq, "ext": "1001",
			"event": ev, "call": "c1", "direction": "inbound", "peer": "+4930123"})
		if r["type"] != "ok" {
			t.Fatalf("%s seq %d: %v", ev, seq, r)
		}
		return r
	}
	old := bridgeConn(t, tn, "pbx1", "bridge-pbx1")
	if r := old.request(map[string]any{"type": "ipt.sync", "bridge": "pbx1", "devices": []any{
		map[string]any{"ext": "1001", "user": "alice", "state": "registered"},
	}}); r["type"] != "ok" {
		t.Fatalf("sync: %v", r)
	}
	event(old, 1, "ringing")
	event(old, 2, "answered")
	waitPhone(t, w, 0, "alice", "in_call")

	// The bridge, without the reply to its next event, reconnects and
	// syncs what it knows.
	b := bridgeConn(t, tn, "pbx1", "bridge-pbx1")
	if r := b.request(map[string]any{"type": "ipt.sync", "bridge": "pbx1", "devices": []any{
		map[string]any{"ext": "1001", "user": "alice", "state": "registered",
			"call": map[string]any{"id": "c1", "state": "in_call", "direction": "inbound", "peer": "+4930123"}},
	}}); r["type"] != "ok" {
		t.Fatalf("sync: %v", r)
	}
	// The old connection's event lands now.
	if r := event(old, 3, "held"); r["ignored"] != true {
		t.Fatalf("event of the replaced connection: %v, want ok ignored", r)
	}
	from := w.count()
	if r := event(b, 1, "ended"); r["ignored"] == true {
		t.Fatalf("the new connection's seq 1: %v, want applied", r)
	}
	waitPhone(t, w, from, "alice", "idle")
	for _, f := range w.presenceFrames("alice") {
		if s, _ := phoneOf(f); s == "held" {
			t.Fatalf("the replaced connection's event was applied: %v", f)
		}
	}
}
