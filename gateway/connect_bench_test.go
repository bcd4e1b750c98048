package gateway

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/pgw/pgw/internal/testenv"
)

// BenchmarkConnect measures full authenticated connects (upgrade, hello
// with a JWT, store write, welcome) and disconnects against one in-process
// node with the in-process store and with a private Redis; clients run in
// parallel in the same process. "bare" is the same client against a bare
// gorilla server (same buffer sizes; it reads the hello and answers a
// welcome-shaped frame, no JWT, no store): the same-run baseline of the
// "≤ 3× a bare upgrade" goal. Compare runs in one session only (the
// machine is shared).
func BenchmarkConnect(b *testing.B) {
	b.Run("memory", func(b *testing.B) { benchConnect(b, "") })
	b.Run("redis", func(b *testing.B) { benchConnect(b, testenv.Redis(b).URL) })
	b.Run("bare", benchConnectBare)
}

func benchConnect(b *testing.B, redisURL string) {
	tn := startNode(b, func(c *Config) { c.RateLimit = 1e6; c.RateBurst = 1e6; c.RedisURL = redisURL })
	toks := make([]string, 1000)
	for i := range toks {
		toks[i] = token(b, fmt.Sprintf("u%d", i), "acme")
	}
	runConnects(b, tn.url, toks)
}

func benchConnectBare(b *testing.B) {
	up := websocket.Upgrader{ReadBufferSize: 256, WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{}}
	var handlers sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		if _, _, err := ws.ReadMessage(); err != nil {
			return
		}
		if ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"welcome","id":1}`)) != nil {
			return
		}
		_, _, _ = ws.ReadMessage() // until the client closes
	}))
	b.Cleanup(func() { srv.Close(); handlers.Wait() })
	toks := make([]string, 1000)
	for i := range toks {
		toks[i] = token(b, fmt.Sprintf("u%d", i), "acme")
	}
	runConnects(b, "ws"+strings.TrimPrefix(srv.URL, "http")+"/v1/ws", toks)
}

// runConnects dials url b.N times from 32 parallel clients: hello with a
// token, wait for the welcome, close.
func runConnects(b *testing.B, url string, toks []string) {
	var n atomic.Int64
	b.SetParallelism(16) // 32 clients in flight on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			ws, _, err := websocket.DefaultDialer.Dial(url, nil)
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
