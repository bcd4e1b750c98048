package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pgw/pgw/internal/testenv"
	"github.com/pgw/pgw/ipt/ami"
	"github.com/pgw/pgw/ipt/ami/amitest"
	"github.com/pgw/pgw/wire"
)

// frame is what the fake gateway recorded: one client frame and the
// connection (counting from 0) it came on.
type frame struct {
	conn int
	sync wire.SyncFrame
	ev   wire.EventFrame
	raw  map[string]any
}

// fakeGateway is the gateway side of the contract, as small as the bridge
// needs: it checks the bearer token, answers hello with welcome and every
// frame with an id with ok, records frames, and can close connections with
// any close code.
type fakeGateway struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	conns    []*websocket.Conn
	openedAt []time.Time
	closes   map[int]int // conn → close code the bridge sent
	frames   []frame
	tokens   []string
	pongs    int
	refuse   int        // refuse this many next ipt.event frames with 429
	wmu      sync.Mutex // serialises WriteJSON (one writer per conn in gorilla)
	wg       sync.WaitGroup
}

func newFakeGateway(t *testing.T) *fakeGateway {
	g := &fakeGateway{t: t, closes: map[int]int{}}
	up := websocket.Upgrader{}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" || token == "refused" {
			http.Error(w, `{"code":"token_missing"}`, http.StatusUnauthorized)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		g.mu.Lock()
		idx := len(g.conns)
		g.conns = append(g.conns, ws)
		g.openedAt = append(g.openedAt, time.Now())
		g.tokens = append(g.tokens, token)
		g.wg.Add(1)
		g.mu.Unlock()
		defer g.wg.Done()
		g.serve(idx, ws)
	}))
	t.Cleanup(func() {
		g.srv.CloseClientConnections()
		g.srv.Close()
		g.mu.Lock()
		for _, c := range g.conns {
			c.Close()
		}
		g.mu.Unlock()
		g.wg.Wait()
	})
	return g
}

func (g *fakeGateway) url() string { return "ws" + strings.TrimPrefix(g.srv.URL, "http") + "/v1/ws" }

func (g *fakeGateway) serve(idx int, ws *websocket.Conn) {
	defer ws.Close()
	ws.SetPongHandler(func(string) error {
		g.mu.Lock()
		g.pongs++
		g.mu.Unlock()
		return nil
	})
	welcomed := false
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			if code, _ := closeOf(err); code != 0 {
				g.mu.Lock()
				g.closes[idx] = code
				g.mu.Unlock()
			}
			return
		}
		var f frame
		f.conn = idx
		if err := json.Unmarshal(data, &f.raw); err != nil {
			g.t.Errorf("conn %d: frame is not JSON: %s", idx, data)
			return
		}
		_ = json.Unmarshal(data, &f.sync)
		_ = json.Unmarshal(data, &f.ev)
		typ, _ := f.raw["type"].(string)
		if !welcomed {
			if typ != "hello" || f.raw["device"] != "bridge" {
				g.t.Errorf("conn %d: first frame %s, want hello with device bridge", idx, data)
				return
			}
			welcomed = true
			g.wmu.Lock()
			_ = ws.WriteJSON(map[string]any{"type": "welcome", "id": f.raw["id"], "conn": fmt.Sprint("c", idx),
				"session": f.raw["session"], "user": "b1", "tenant": "acme", "node": "fake", "heartbeat": 25000})
			g.wmu.Unlock()
			continue
		}
		g.mu.Lock()
		g.frames = append(g.frames, f)
		g.mu.Unlock()
		g.mu.Lock()
		refuse := typ == "ipt.event" && g.refuse > 0
		if refuse {
			g.refuse--
		}
		g.mu.Unlock()
		if id, ok := f.raw["id"]; ok {
			reply := map[string]any{"type": "ok", "id": id}
			if refuse {
				reply = map[string]any{"type": "error", "id": id, "error": map[string]any{
					"type": "about:blank", "title": "Rate limited", "status": 429, "code": "rate_limited", "detail": "50 frames/s"}}
			}
			g.wmu.Lock()
			_ = ws.WriteJSON(reply)
			g.wmu.Unlock()
		}
	}
}

// all returns a copy of every recorded frame.
func (g *fakeGateway) all() []frame {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]frame(nil), g.frames...)
}

func (g *fakeGateway) connCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// sendLast writes a frame (JSON) or, for nil, a ping to the newest connection.
func (g *fakeGateway) sendLast(v any) error {
	g.mu.Lock()
	ws := g.conns[len(g.conns)-1]
	g.mu.Unlock()
	if v == nil {
		return ws.WriteControl(websocket.PingMessage, []byte("hb"), time.Now().Add(time.Second))
	}
	g.wmu.Lock()
	defer g.wmu.Unlock()
	return ws.WriteJSON(v)
}

// closeLast closes the newest connection with code (0: cut the TCP
// connection without a close frame).
func (g *fakeGateway) closeLast(code int, reason string) {
	g.mu.Lock()
	ws := g.conns[len(g.conns)-1]
	g.mu.Unlock()
	if code != 0 {
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	}
	ws.Close()
}

// syncs returns the indexes of the ipt.sync frames.
func syncs(fs []frame) []int {
	var idx []int
	for i, f := range fs {
		if f.sync.Type == "ipt.sync" {
			idx = append(idx, i)
		}
	}
	return idx
}

// checkSequence enforces the contract's sequencing: on each connection
// nothing but ipt.sync comes first, and after each sync the events count
// 1, 2, 3, ... with no gap.
func checkSequence(t *testing.T, fs []frame) {
	t.Helper()
	conn, next := -1, int64(0)
	for i, f := range fs {
		if f.conn != conn {
			conn, next = f.conn, 0
		}
		switch f.sync.Type {
		case "ipt.sync":
			next = 1
		case "ipt.event":
			if next == 0 {
				t.Fatalf("frame %d: ipt.event before any ipt.sync on conn %d", i, f.conn)
			}
			if f.ev.Seq != next {
				t.Fatalf("frame %d: seq %d, want %d (%+v)", i, f.ev.Seq, next, f.ev)
			}
			next++
		}
	}
}

// view is what a gateway would believe after the frames: per extension,
// registration and the call.
type view map[string]viewDev

type viewDev struct {
	user, state string
	call        string // call id, "" for none
	callState   string
	direction   string
	peer        string
}

func fold(fs []frame) view {
	v := view{}
	for _, f := range fs {
		switch f.sync.Type {
		case "ipt.sync":
			v = view{}
			for _, d := range f.sync.Devices {
				vd := viewDev{user: d.User, state: d.State}
				if d.Call != nil {
					vd.call, vd.callState, vd.direction, vd.peer = d.Call.ID, d.Call.State, d.Call.Direction, d.Call.Peer
				}
				v[d.Ext] = vd
			}
		case "ipt.event":
			e := f.ev
			d := v[e.Ext]
			d.user = e.User
			switch e.Event {
			case wire.EventRegistered, wire.EventUnregistered:
				d.state = e.Event
			case wire.EventEnded:
				if d.call == e.Call {
					d.call, d.callState, d.direction, d.peer = "", "", "", ""
				}
			default:
				d.call, d.direction, d.peer = e.Call, e.Direction, e.Peer
				d.callState = map[string]string{wire.EventRinging: "ringing", wire.EventAnswered: "in_call",
					wire.EventHeld: "held", wire.EventResumed: "in_call"}[e.Event]
			}
			v[e.Ext] = d
		}
	}
	return v
}

func (v view) String() string { return fmt.Sprintf("%+v", map[string]viewDev(v)) }

// harness runs a bridge against a fake AMI server and a fake gateway.
type harness struct {
	t      *testing.T
	ami    *amitest.Server
	gw     *fakeGateway
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// result waits (bounded) for Run to return and gives its error.
func (h *harness) result() error {
	h.once.Do(func() {
		select {
		case h.err = <-h.done:
		case <-time.After(10 * time.Second):
			h.err = errors.New("Run did not return within 10s")
		}
	})
	return h.err
}

func startBridge(t *testing.T, users Users, setup func(*amitest.Server), mutate func(*Config)) *harness {
	t.Helper()
	srv, err := amitest.NewServer("bridge", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if setup != nil {
		setup(srv)
	}
	h := &harness{t: t, ami: srv, gw: newFakeGateway(t), done: make(chan error, 1)}
	cfg := Config{
		GatewayURL: h.gw.url(), BridgeID: "b1", Token: "test-token",
		AMI:        ami.Config{Addr: srv.Addr(), Username: "bridge", Secret: "s3cret"},
		Users:      users,
		BackoffMin: 5 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
		Logger: testLogger(t),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := h.result(); err != nil && !errors.Is(err, ErrGatewayRefused) {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

// waitFrames waits until cond holds for the recorded frames and returns them.
func (h *harness) waitFrames(what string, cond func([]frame) bool) []frame {
	h.t.Helper()
	var fs []frame
	testenv.WaitFor(h.t, 10*time.Second, func() error {
		fs = h.gw.all()
		if cond(fs) {
			return nil
		}
		return fmt.Errorf("%s; have %d frames, view %s", what, len(fs), fold(fs))
	})
	return fs
}

// waitView waits until the folded view of the frames has want for every ext in want.
func (h *harness) waitView(what string, want view) []frame {
	h.t.Helper()
	return h.waitFrames(what, func(fs []frame) bool {
		if len(syncs(fs)) == 0 {
			return false
		}
		v := fold(fs)
		for ext, d := range want {
			if v[ext] != d {
				return false
			}
		}
		return true
	})
}

func regDev(user string) viewDev   { return viewDev{user: user, state: wire.SyncRegistered} }
func unregDev(user string) viewDev { return viewDev{user: user, state: wire.SyncUnregistered} }
