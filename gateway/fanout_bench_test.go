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
// so each op is 200 deliveries. Reports deliveries/s.
func BenchmarkFanout(b *testing.B) {
	tn := startNode(b, func(c *Config) { c.RateLimit = 1e6; c.RateBurst = 1e6; c.OutboundQueue = 1 << 16 })
	const subs, users = 200, 10
	var got atomic.Int64
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
	deadline := time.Now().Add(10 * time.Second)
	for got.Load() < subs*users && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	got.Store(0)
	b.ResetTimer()
	for i := range b.N {
		st := []wire.Status{wire.Busy, wire.DND}[(i/users)%2] // a real change every time
		if _, err := tn.setStatus(ctx, "acme", fmt.Sprintf("u%d", i%users), st, ""); err != nil {
			b.Fatal(err)
		}
	}
	want := int64(b.N) * subs
	drain := time.Now().Add(30 * time.Second)
	for got.Load() < want && time.Now().Before(drain) {
		time.Sleep(time.Millisecond)
	}
	if n := got.Load(); n < want {
		b.Fatalf("%d of %d deliveries", n, want)
	}
	b.ReportMetric(float64(got.Load())/b.Elapsed().Seconds(), "deliveries/s")
}
