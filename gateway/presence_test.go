package gateway

import (
	"testing"
	"time"
)

func TestMainAndChildWindowsAreOneSession(t *testing.T) {
	tn := startNode(t, nil)
	watcher, _ := connectUser(t, tn, "w", "acme", "sw", "main")
	r := watcher.request(map[string]any{"type": "subscribe", "users": []string{"u1"}})
	if r["type"] != "ok" {
		t.Fatalf("subscribe: %v", r)
	}
	main, w1 := connectUser(t, tn, "u1", "acme", "app1", "main")
	child, w2 := connectUser(t, tn, "u1", "acme", "app1", "child")
	if w1["session"] != "app1" || w2["session"] != "app1" {
		t.Fatalf("sessions: %v %v", w1["session"], w2["session"])
	}
	watcher.waitFrame(0, 2*time.Second, func(f map[string]any) bool { return f["type"] == "presence" && f["status"] == "online" })

	// Close the child: nothing changes (the session lives on in main).
	_ = child.ws.Close()
	// Close main: offline exactly once, after the grace.
	_ = main.ws.Close()
	watcher.waitFrame(0, 3*time.Second, func(f map[string]any) bool { return f["type"] == "presence" && f["status"] == "offline" })
	fs := watcher.presenceFrames("u1")
	if got := statusesOf(fs); got != "online,offline" {
		t.Fatalf("presence frames: %s", got)
	}
	var last float64
	for _, f := range fs {
		v := f["version"].(float64)
		if v <= last {
			t.Fatalf("version went from %v to %v", last, v)
		}
		last = v
	}
}
