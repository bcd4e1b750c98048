package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pgw/pgw/gateway/auth"
)

const testSecret = "test-secret-0123456789abcdef-0123456789"

// testNode is a node serving on a free port of 127.0.0.1.
type testNode struct {
	*Node
	t      testing.TB
	url    string // ws://…/v1/ws
	base   string // http://…
	cancel context.CancelFunc
	done   chan error
}

// startNode starts a node with test defaults changed by mod; it is drained
// at the end of the test.
func startNode(t testing.TB, mod func(*Config)) *testNode {
	t.Helper()
	return startNodeDeps(t, mod, Deps{})
}

// startNodeDeps is startNode with parts of the test's (Deps.Logger is set
// here).
func startNodeDeps(t testing.TB, mod func(*Config), deps Deps) *testNode {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.JWTSecret = testSecret
	cfg.Grace = 300 * time.Millisecond
	cfg.Drain = 0
	if mod != nil {
		mod(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	deps.Logger = log
	n, err := New(context.Background(), cfg, deps)
	if err != nil {
		t.Fatalf("new node: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tn := &testNode{Node: n, t: t, cancel: cancel, done: make(chan error, 1),
		url: "ws://" + l.Addr().String() + "/v1/ws", base: "http://" + l.Addr().String()}
	go func() { tn.done <- n.Serve(ctx, l) }()
	t.Cleanup(tn.stop)
	return tn
}

func (tn *testNode) stop() {
	tn.cancel()
	select {
	case <-tn.done:
	case <-time.After(15 * time.Second):
		tn.t.Errorf("node did not stop in 15s")
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// token mints a test token.
func token(t testing.TB, sub, tenant string, roles ...string) string {
	t.Helper()
	tok, err := auth.Sign([]byte(testSecret), auth.Claims{Subject: sub, Tenant: tenant, Roles: roles, Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// client is a test WebSocket client that collects every frame it reads.
type client struct {
	t      testing.TB
	ws     *websocket.Conn
	mu     sync.Mutex
	frames []map[string]any
	closed *websocket.CloseError
	done   chan struct{}
	nextID int
	cond   chan struct{} // closed and replaced on every new frame
}

// dial opens a WebSocket with optional headers; it does not send hello.
func dial(t testing.TB, url string, h http.Header) *client {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(url, h)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", url, err, status)
	}
	c := &client{t: t, ws: ws, done: make(chan struct{}), cond: make(chan struct{})}
	go c.read()
	t.Cleanup(func() { _ = c.ws.Close(); <-c.done })
	return c
}

func (c *client) read() {
	defer close(c.done)
	for {
		_, data, err := c.ws.ReadMessage()
		c.mu.Lock()
		if err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				c.closed = ce
			} else {
				c.closed = &websocket.CloseError{Code: -1, Text: err.Error()}
			}
			close(c.cond)
			c.mu.Unlock()
			return
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			m = map[string]any{"type": "<invalid json>", "raw": string(data)}
		}
		c.frames = append(c.frames, m)
		close(c.cond)
		c.cond = make(chan struct{})
		c.mu.Unlock()
	}
}

func (c *client) send(v any) {
	c.t.Helper()
	var data []byte
	switch v := v.(type) {
	case string:
		data = []byte(v)
	default:
		data, _ = json.Marshal(v)
	}
	if err := c.ws.WriteMessage(websocket.TextMessage, data); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// waitFrame waits (bounded) for a frame matching f, searching from index
// from, and returns it with its index.
func (c *client) waitFrame(from int, timeout time.Duration, f func(map[string]any) bool) (map[string]any, int) {
	c.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		for i := from; i < len(c.frames); i++ {
			if f(c.frames[i]) {
				m := c.frames[i]
				c.mu.Unlock()
				return m, i
			}
		}
		from = len(c.frames)
		cond, closed := c.cond, c.closed
		c.mu.Unlock()
		if closed != nil {
			c.t.Fatalf("connection closed (%d %q) before the expected frame; frames: %v", closed.Code, closed.Text, c.all())
		}
		select {
		case <-cond:
		case <-deadline.C:
			c.t.Fatalf("no expected frame within %v; frames: %v", timeout, c.all())
		}
	}
}

// request sends a frame with a fresh id and waits for its reply.
func (c *client) request(m map[string]any) map[string]any {
	c.t.Helper()
	c.nextID++
	id := c.nextID
	m["id"] = id
	c.mu.Lock()
	from := len(c.frames)
	c.mu.Unlock()
	c.send(m)
	reply, _ := c.waitFrame(from, 5*time.Second, func(f map[string]any) bool {
		v, ok := f["id"].(float64)
		return ok && int(v) == id && (f["type"] == "ok" || f["type"] == "error" || f["type"] == "welcome")
	})
	return reply
}

// waitClose waits for the server's close and returns it.
func (c *client) waitClose(timeout time.Duration) *websocket.CloseError {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(timeout):
		c.t.Fatalf("not closed within %v; frames: %v", timeout, c.all())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *client) all() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]map[string]any(nil), c.frames...)
}

func (c *client) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.frames)
}

// hello connects a user window and waits for welcome.
func connectUser(t testing.TB, tn *testNode, sub, tenant, session, window string) (*client, map[string]any) {
	t.Helper()
	c := dial(t, tn.url, nil)
	w := c.request(map[string]any{"type": "hello", "token": token(t, sub, tenant), "session": session, "window": window, "device": "desktop"})
	if w["type"] != "welcome" {
		t.Fatalf("hello: %v", w)
	}
	return c, w
}

// presenceFrames returns the presence frames for user seen by c.
func (c *client) presenceFrames(user string) []map[string]any {
	var out []map[string]any
	for _, f := range c.all() {
		if f["type"] == "presence" && f["user"] == user {
			out = append(out, f)
		}
	}
	return out
}

func statusesOf(fs []map[string]any) string {
	var s []string
	for _, f := range fs {
		s = append(s, fmt.Sprint(f["status"]))
	}
	return strings.Join(s, ",")
}

// problemCode returns error.code of an error frame.
func problemCode(f map[string]any) string {
	e, _ := f["error"].(map[string]any)
	if e == nil {
		return ""
	}
	s, _ := e["code"].(string)
	return s
}
