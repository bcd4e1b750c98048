package gateway

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/wire"
)

// BenchmarkFanout: 200 subscribers each watch the same 10 users; every op
// changes one user's status through the node (store, NATS, hub, writers),
// so each op is 200 deliveries. Reports deliveries/s. It ends only when
// every delivery arrived (a drain that waits while deliveries progress, so
// a slow machine is slow, and a loss or a closed subscriber fails it).
func BenchmarkFanout(b *testing.B) {
	tn := startNode(b, func(c *Config) { c.RateLimit = 1e6; c.RateBurst = 1e6; c.OutboundQueue = 1 << 16 })
	const subs, users = 200, 10
	// got counts the frames the subscribers read; closed and closeErr
	// record a subscriber connection that ended (a node-side close, e.g.
	// 1008 slow_consumer, is a loss the drain reports rather than waits out).
	var got, closed atomic.Int64
	var closeErr atomic.Value
	for i := range subs {
		ws, _, err := websocket.DefaultDialer.Dial(tn.url, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ws.Close() })
		ws.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"type":"hello","id":1,"token":%q,"device":"desktop"}`, token(b, fmt.Sprintf("s%d", i), "acme"))))
		list := `["u0","u1","u2","u3","u4","u5","u6","u7","u8","u9"]`
		ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"subscribe","id":2,"users":`+list+`}`))
		for range 2 { // welcome, subscribe reply
			if _, _, err := ws.ReadMessage(); err != nil {
				b.Fatal(err)
			}
		}
		go func() {
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					if closed.Add(1) == 1 {
						closeErr.Store(err.Error())
					}
					return
				}
				got.Add(1)
			}
		}()
	}
	ctx := context.Background()
	for u := range users {
		c := presence.ConnInfo{Tenant: "acme", User: fmt.Sprintf("u%d", u), Session: fmt.Sprintf("su%d", u), Conn: fmt.Sprintf("cu%d", u), Node: tn.cfg.NodeID, Device: "desktop"}
		ch, _ := tn.store.Connect(ctx, c, time.Now())
		tn.publish(ch)
	}
	awaitDeliveries(b, "initial", &got, &closed, &closeErr, subs*users)
	got.Store(0)
	b.ResetTimer()
	for i := range b.N {
		st := []wire.Status{wire.Busy, wire.DND}[(i/users)%2] // a real change every time
		if _, err := tn.setStatus(ctx, "acme", fmt.Sprintf("u%d", i%users), st, ""); err != nil {
			b.Fatal(err)
		}
	}
	awaitDeliveries(b, "measured", &got, &closed, &closeErr, int64(b.N)*subs)
	b.ReportMetric(float64(got.Load())/b.Elapsed().Seconds(), "deliveries/s")
}

// fanoutStall is how long awaitDeliveries waits without a single new
// delivery before it calls the rest lost. It bounds silence, not the
// drain: a loaded machine may take minutes to drain, and every delivery
// resets it.
const fanoutStall = 30 * time.Second

// awaitDeliveries waits until the subscribers have read want frames: no
// loss. It fails when a subscriber connection ends (closeErr says how),
// when no frame arrives for fanoutStall (the rest is lost, not slow), or
// when more than want arrive by then (a duplicate).
func awaitDeliveries(b *testing.B, what string, got, closed *atomic.Int64, closeErr *atomic.Value, want int64) {
	b.Helper()
	last, lastAt := got.Load(), time.Now()
	for {
		n := got.Load()
		switch {
		case closed.Load() > 0:
			b.Fatalf("%s: %d of %d deliveries; %d subscriber connection(s) ended: %v", what, n, want, closed.Load(), closeErr.Load())
		case n == want:
			return
		case n > want:
			b.Fatalf("%s: %d deliveries, want %d: duplicates", what, n, want)
		case n != last:
			last, lastAt = n, time.Now()
		case time.Since(lastAt) > fanoutStall:
			b.Fatalf("%s: %d of %d deliveries, none for %v: lost", what, n, want, fanoutStall)
		}
		time.Sleep(time.Millisecond)
	}
}
