package presence_test

import (
	"testing"
	"time"

	"github.com/pgw/pgw/internal/testenv"
	"github.com/pgw/pgw/presence"
)

// TestRedisReapRacesHeartbeat: a node declared dead whose heartbeat comes
// back while the reaper is still removing its connections consumes the
// reaped mark and re-asserts; the reaper must not leave it with its
// re-asserted connections removed and no mark left to re-assert again.
// Found by the chaos checker (a live connection without its :conn: key
// after a stalled Redis link).
func TestRedisReapRacesHeartbeat(t *testing.T) {
	srv := testenv.Redis(t)
	opt := presence.Options{Grace: time.Second, NodeTTL: time.Second, MaxConnsPerUser: 32, Prefix: "race"}
	slow := newRedisStore(t, srv.URL, opt)   // the node that was only slow
	reaper := newRedisStore(t, srv.URL, opt) // another node
	ctx := ctxT(t)
	t0 := time.Now()
	must(slow.Heartbeat(ctx, "n1", t0))(t)
	c := ci("u1", "s1", "c1", "n1")
	must(slow.Connect(ctx, c, t0))(t)
	later := t0.Add(3 * time.Second)
	presence.SetAfterReapMark(reaper, func(node string) {
		// n1 wakes up now: its heartbeat sees the mark, and it re-asserts
		// its connection while the reaper is still at work.
		if must(slow.Heartbeat(ctx, node, later))(t) {
			t.Errorf("heartbeat after the mark: alive, want re-assert")
		}
		must(slow.Connect(ctx, c, later))(t)
	})
	must(reaper.ReapDeadNodes(ctx, later))(t)
	alive := must(slow.Heartbeat(ctx, "n1", later.Add(100*time.Millisecond)))(t)
	p := must(slow.Get(ctx, "acme", "u1"))(t)
	if alive && p.Sessions == 0 {
		t.Fatalf("n1 holds c1, the store lost it, and n1's next heartbeat does not ask for a re-assert: %+v", p)
	}
}
