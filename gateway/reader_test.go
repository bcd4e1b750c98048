package gateway

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/problem"
)

// The read side (reader.go) in both PGW_READER modes: frames split across
// TCP segments, slow senders, idle connections without goroutines, pings,
// client closes.

var readerModes = []string{ReaderEpoll, ReaderGoroutine}

// waitUntil polls cond until it holds, failing after within.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readerGoroutines counts the goroutines in the connections' read loop.
func readerGoroutines() int {
	buf := make([]byte, 8<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "gateway.(*conn).readBurst(")
}

// liveReaders is how many connections the node reads from, and their states.
func (n *Node) liveReaders() (live int, states []int32) {
	n.readers.mu.Lock()
	defer n.readers.mu.Unlock()
	for _, c := range n.readers.slots {
		if c != nil {
			live++
			states = append(states, c.rd.state.Load())
		}
	}
	return live, states
}

// clientFrame is one masked client frame (RFC 6455 §5.2).
func clientFrame(op byte, fin bool, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	var b []byte
	switch n := len(payload); {
	case n < 126:
		b = []byte{b0, 0x80 | byte(n)}
	case n <= 0xFFFF:
		b = []byte{b0, 0x80 | 126, byte(n >> 8), byte(n)}
	default:
		b = binary.BigEndian.AppendUint64([]byte{b0, 0x80 | 127}, uint64(n))
	}
	key := [4]byte{0x5a, 0x13, 0xc7, 0x02}
	b = append(b, key[:]...)
	for i, x := range payload {
		b = append(b, x^key[i%4])
	}
	return b
}

func helloJSON(t *testing.T, id int, sub string) []byte {
	b, _ := json.Marshal(map[string]any{"type": "hello", "id": id, "token": token(t, sub, "acme"),
		"session": "s-" + sub, "window": "main", "device": "desktop"})
	return b
}

func hasID(id int, types ...string) func(map[string]any) bool {
	return func(f map[string]any) bool {
		v, ok := f["id"].(float64)
		if !ok || int(v) != id {
			return false
		}
		for _, ty := range types {
			if f["type"] == ty {
				return true
			}
		}
		return false
	}
}

// A frame split across TCP segments, with pauses, is still read whole; a
// fragmented message with a ping between its fragments too; two frames in
// one segment are both answered.
func TestReaderSplitFrames(t *testing.T) {
	for _, mode := range readerModes {
		t.Run(mode, func(t *testing.T) {
			tn := startNode(t, func(c *Config) { c.Reader = mode })
			c := dial(t, tn.url, nil)
			nc := c.ws.NetConn()
			hello := clientFrame(websocket.TextMessage, true, helloJSON(t, 1, "split"))
			if len(hello) < 126 {
				t.Fatalf("hello of %d bytes does not use the 16-bit length", len(hello))
			}
			// One byte of the header: a reader must wait inside the frame.
			if _, err := nc.Write(hello[:1]); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, 10*time.Second, "a reader running on the partial frame", func() bool {
				_, st := tn.liveReaders()
				return len(st) == 1 && st[0] != rParked
			})
			for _, cut := range [][2]int{{1, 3}, {3, 6}, {6, 9}, {9, 40}, {40, len(hello)}} {
				time.Sleep(20 * time.Millisecond) // pacing: separate segments
				if _, err := nc.Write(hello[cut[0]:cut[1]]); err != nil {
					t.Fatal(err)
				}
			}
			c.waitFrame(0, 10*time.Second, hasID(1, "welcome"))

			// subscribe in two fragments with a ping between them (the
			// largest a control frame may carry: gorilla's read buffer
			// must hold it whole).
			sub := []byte(`{"type":"subscribe","id":2,"users":["someone"]}`)
			frag := clientFrame(websocket.TextMessage, false, sub[:10])
			frag = append(frag, clientFrame(websocket.PingMessage, true, []byte(strings.Repeat("p", 125)))...)
			if _, err := nc.Write(frag); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond) // pacing
			if _, err := nc.Write(clientFrame(0, true, sub[10:])); err != nil {
				t.Fatal(err)
			}
			c.waitFrame(0, 10*time.Second, hasID(2, "ok"))

			// Two whole frames in one write.
			two := clientFrame(websocket.TextMessage, true, []byte(`{"type":"unsubscribe","id":3,"users":["someone"]}`))
			two = append(two, clientFrame(websocket.TextMessage, true, []byte(`{"type":"subscribe","id":4,"users":["other"]}`))...)
			if _, err := nc.Write(two); err != nil {
				t.Fatal(err)
			}
			c.waitFrame(0, 10*time.Second, hasID(3, "ok"))
			c.waitFrame(0, 10*time.Second, hasID(4, "ok"))
		})
	}
}

// A sender that never finishes a frame is closed after the read deadline
// (hello wait before welcome, pong wait after), and its reader goroutine
// ends.
func TestReaderSlowSenderIsClosed(t *testing.T) {
	for _, mode := range readerModes {
		t.Run(mode, func(t *testing.T) {
			tn := startNode(t, func(c *Config) {
				c.Reader = mode
				// Generous: pingClient's hello must arrive in time on a
				// loaded machine.
				c.HelloWait = 2 * time.Second
				c.Heartbeat = 900 * time.Millisecond
				c.PongWait = 2 * time.Second
			})
			// Before welcome: a hello's first three bytes.
			c := dial(t, tn.url, nil)
			if _, err := c.ws.NetConn().Write(clientFrame(websocket.TextMessage, true, helloJSON(t, 1, "slow"))[:3]); err != nil {
				t.Fatal(err)
			}
			if ce := c.waitClose(10 * time.Second); ce == nil || ce.Code != problem.CloseHelloTimeout {
				t.Fatalf("close %v, want %d", ce, problem.CloseHelloTimeout)
			}
			waitUntil(t, 10*time.Second, "no connection left to read", func() bool {
				live, _ := tn.liveReaders()
				return live == 0 && readerGoroutines() == 0
			})

			// After welcome: half a subscribe, then silence past the pong wait.
			w, _ := pingClient(t, tn, "slow2", false) // its pongs would finish the frame
			frame := clientFrame(websocket.TextMessage, true, []byte(`{"type":"subscribe","id":9,"users":["x"]}`))
			if _, err := w.ws.NetConn().Write(frame[:len(frame)/2]); err != nil {
				t.Fatal(err)
			}
			if ce := w.waitClose(10 * time.Second); ce == nil {
				t.Fatal("no close")
			}
			waitUntil(t, 10*time.Second, "no connection left to read", func() bool {
				live, _ := tn.liveReaders()
				return live == 0 && readerGoroutines() == 0 && tn.hub.count() == 0
			})
		})
	}
}

// Idle, welcomed, subscribed connections hold no reader goroutine with
// PGW_READER=epoll (one each with goroutine), and still answer.
func TestReaderIdleConnectionsHoldNoGoroutine(t *testing.T) {
	const conns = 40
	for _, mode := range readerModes {
		t.Run(mode, func(t *testing.T) {
			tn := startNode(t, func(c *Config) { c.Reader = mode })
			cs := make([]*client, conns)
			for i := range cs {
				cs[i], _ = connectUser(t, tn, fmt.Sprintf("idle%d", i), "acme", fmt.Sprintf("s%d", i), "main")
				if r := cs[i].request(map[string]any{"type": "subscribe", "users": []string{fmt.Sprintf("idle%d", (i+1)%conns)}}); r["type"] != "ok" {
					t.Fatalf("subscribe: %v", r)
				}
			}
			want := 0
			if mode == ReaderGoroutine {
				want = conns
			}
			waitUntil(t, 20*time.Second, fmt.Sprintf("%d reader goroutines for %d idle connections", want, conns), func() bool {
				return readerGoroutines() == want
			})
			if live, _ := tn.liveReaders(); live != conns {
				t.Fatalf("%d connections read, want %d", live, conns)
			}
			// Parked connections still answer, and go back to no goroutine.
			for i, c := range cs[:5] {
				if r := c.request(map[string]any{"type": "subscribe", "users": []string{fmt.Sprintf("more%d", i)}}); r["type"] != "ok" {
					t.Fatalf("subscribe: %v", r)
				}
			}
			waitUntil(t, 20*time.Second, "reader goroutines back to the idle count", func() bool {
				return readerGoroutines() == want
			})
		})
	}
}

// pingClient is a connection whose pings are counted and answered (or not).
func pingClient(t *testing.T, tn *testNode, sub string, answer bool) (*client, *atomic.Int32) {
	t.Helper()
	ws, _, err := (&websocket.Dialer{HandshakeTimeout: 5 * time.Second}).Dial(tn.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	var pings atomic.Int32
	ws.SetPingHandler(func(data string) error {
		pings.Add(1)
		if !answer {
			return nil
		}
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	c := &client{t: t, ws: ws, done: make(chan struct{}), cond: make(chan struct{})}
	go c.read()
	t.Cleanup(func() { _ = ws.Close(); <-c.done })
	if w := c.request(map[string]any{"type": "hello", "token": token(t, sub, "acme"), "session": "s-" + sub, "window": "main", "device": "desktop"}); w["type"] != "welcome" {
		t.Fatalf("hello: %v", w)
	}
	return c, &pings
}

// Answered pings keep a silent connection open past many pong waits; an
// unanswered one is closed.
func TestReaderPongsKeepAlive(t *testing.T) {
	for _, mode := range readerModes {
		t.Run(mode, func(t *testing.T) {
			tn := startNode(t, func(c *Config) {
				c.Reader = mode
				c.Heartbeat = 300 * time.Millisecond // one ping per 300 ms at most (pingTurn)
				c.PongWait = 4 * time.Second
			})
			alive, pings := pingClient(t, tn, "alive", true)
			dead, _ := pingClient(t, tn, "dead", false)
			if ce := dead.waitClose(20 * time.Second); ce == nil {
				t.Fatal("no close")
			}
			// Past the dead one's close and more than 3 pong waits of pings
			// answered: 45 pings at one per heartbeat take at least 13.2 s.
			waitUntil(t, 120*time.Second, "45 pings", func() bool { return pings.Load() >= 45 })
			if r := alive.request(map[string]any{"type": "subscribe", "users": []string{"x"}}); r["type"] != "ok" {
				t.Fatalf("subscribe after pings: %v", r)
			}
			// The dead one's close reached its client before the node's
			// cleanup (which gives the writer up to closeWait) ends.
			waitUntil(t, 10*time.Second, "the dead connection gone and the live one kept", func() bool { return tn.hub.count() == 1 })
		})
	}
}

// A client's close is answered and the connection cleaned up.
func TestReaderClientClose(t *testing.T) {
	for _, mode := range readerModes {
		t.Run(mode, func(t *testing.T) {
			tn := startNode(t, func(c *Config) { c.Reader = mode })
			c, _ := connectUser(t, tn, "closer", "acme", "s1", "main")
			waitUntil(t, 10*time.Second, "the connection parked or reading", func() bool {
				live, _ := tn.liveReaders()
				return live == 1
			})
			if err := c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			if ce := c.waitClose(10 * time.Second); ce == nil || ce.Code != websocket.CloseNormalClosure {
				t.Fatalf("close reply %v, want %d", ce, websocket.CloseNormalClosure)
			}
			waitUntil(t, 10*time.Second, "the connection cleaned up", func() bool {
				live, _ := tn.liveReaders()
				return live == 0 && tn.hub.count() == 0 && readerGoroutines() == 0
			})
		})
	}
}

// slowConnects is a store whose Connects wait until released.
type slowConnects struct {
	presence.Store
	arrived chan struct{} // one send per Connect waiting
	release chan struct{}
}

func (s *slowConnects) Connect(ctx context.Context, c presence.ConnInfo, now time.Time) (presence.Change, error) {
	s.arrived <- struct{}{}
	<-s.release
	return s.Store.Connect(context.WithoutCancel(ctx), c, now)
}

// A hello that arrived within the hello wait but whose store call outlasts
// it is welcomed and the connection keeps working: the read sweep expiring
// it meanwhile does not end it once welcomed (as the socket deadline, reset
// at welcome, did before the sweep).
func TestReaderHelloAnsweredAfterItsWait(t *testing.T) {
	for _, mode := range readerModes {
		t.Run(mode, func(t *testing.T) {
			st := &slowConnects{Store: presence.NewMemory(presence.DefaultOptions()),
				arrived: make(chan struct{}, 1), release: make(chan struct{})}
			tn := startNodeDeps(t, func(c *Config) { c.Reader = mode; c.HelloWait = time.Second }, Deps{Store: st})
			c := dial(t, tn.url, nil)
			c.send(map[string]any{"type": "hello", "id": 1, "token": token(t, "late", "acme"), "session": "s1", "window": "main", "device": "desktop"})
			select {
			case <-st.arrived:
			case <-time.After(10 * time.Second):
				t.Fatal("hello did not reach the store")
			}
			waitUntil(t, 10*time.Second, "the read sweep expiring the connection", func() bool {
				tn.readers.mu.Lock()
				defer tn.readers.mu.Unlock()
				for _, rc := range tn.readers.slots {
					if rc != nil && rc.rd.readBy.Load() == math.MaxInt64 {
						return true
					}
				}
				return false
			})
			close(st.release)
			c.waitFrame(0, 10*time.Second, hasID(1, "welcome"))
			if r := c.request(map[string]any{"type": "subscribe", "users": []string{"x"}}); r["type"] != "ok" {
				t.Fatalf("subscribe after a late welcome: %v", r)
			}
		})
	}
}

// The pinger's turns: k turns of readers.stride return every connection
// once, and no turn more than its share, so a node's pings are spread over
// the heartbeat instead of going out in one burst (pingTurn).
func TestReadersStrideSpreadsTurns(t *testing.T) {
	var rs readers
	conns := make([]*conn, 103)
	for i := range conns {
		conns[i] = &conn{}
		rs.add(conns[i])
	}
	for _, i := range []int{0, 7, 50, 102} { // freed slots are skipped
		rs.remove(conns[i])
	}
	const k = 10
	seen := map[*conn]int{}
	for turn := range k {
		got := rs.stride(turn, k)
		if len(got) > (len(conns)+k-1)/k {
			t.Fatalf("turn %d pings %d connections, more than its share of %d", turn, len(got), (len(conns)+k-1)/k)
		}
		for _, c := range got {
			seen[c]++
		}
	}
	for i, c := range conns {
		want := 1
		if i == 0 || i == 7 || i == 50 || i == 102 {
			want = 0
		}
		if seen[c] != want {
			t.Fatalf("connection in slot %d came %d times in %d turns, want %d", i, seen[c], k, want)
		}
	}
}
