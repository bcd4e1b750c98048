package gateway

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/pgw/pgw/internal/testenv"
)

// BenchmarkConnect measures full authenticated connects (upgrade, hello
// with a JWT, store write, welcome) and disconnects against one in-process
// node with the in-process store; clients run in parallel in the same
// process. Compare runs in one session only (the machine is shared).
func BenchmarkConnect(b *testing.B) {
	b.Run("memory", func(b *testing.B) { benchConnect(b, "") })
	b.Run("redis", func(b *testing.B) { benchConnect(b, testenv.Redis(b).URL) })
}

func benchConnect(b *testing.B, redisURL string) {
	tn := startNode(b, func(c *Config) { c.RateLimit = 1e6; c.RateBurst = 1e6; c.RedisURL = redisURL })
	toks := make([]string, 1000)
	for i := range toks {
		toks[i] = token(b, fmt.Sprintf("u%d", i), "acme")
	}
	var n atomic.Int64
	b.SetParallelism(16) // 32 clients in flight on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			ws, _, err := websocket.DefaultDialer.Dial(tn.url, nil)
			if err != nil {
				b.Error(err)
				return
			}
			hello := fmt.Sprintf(`{"type":"hello","id":1,"token":%q,"device":"desktop"}`, toks[i%int64(len(toks))])
			if err := ws.WriteMessage(websocket.TextMessage, []byte(hello)); err != nil {
				b.Error(err)
				return
			}
			if _, msg, err := ws.ReadMessage(); err != nil || len(msg) < 20 || string(msg[9:16]) != "welcome" {
				b.Errorf("welcome: %v %s", err, msg)
				return
			}
			ws.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "connects/s")
}
