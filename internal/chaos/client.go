package chaos

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// opTimeout is how long a client waits for a reply: longer than the
// gateway's own 5 s bound on a frame's store and bus work.
const opTimeout = 8 * time.Second

var dialer = &websocket.Dialer{HandshakeTimeout: 5 * time.Second}

// errTimeout: no reply in opTimeout (the frame may or may not have been
// applied); errClosed: the connection closed before the reply.
var (
	errTimeout = errors.New("no reply in time")
	errClosed  = errors.New("connection closed before the reply")
)

// Conn is one real WebSocket client connection. Its reader checks every
// presence push against what the connection already holds.
type Conn struct {
	Label   string // c17, for the history
	User    string
	Session string
	Window  string
	Device  string
	Node    *Node
	epoch   int // Node.Epoch() at dial
	ConnID  string
	ws      *websocket.Conn
	wmu     sync.Mutex
	done    chan struct{}
	welcome map[string]any

	mu      sync.Mutex
	nextID  int
	pending map[int]*pending
	// held is the version each subscribed user was last seen at (the
	// subscribe reply is the starting point); last is that frame.
	held       map[string]float64
	last       map[string]map[string]any
	violations []string
	closeCode  int
	closeText  string
	closedByUs bool
	closedAt   time.Time
	frames     int
}

type pending struct {
	kind  string // the frame type, so the reader applies subscribe replies in order
	users []string
	reply chan map[string]any
}

// Dial opens a connection to n and sends hello; it returns after welcome.
func Dial(n *Node, label, token, user, session, window, device string) (*Conn, error) {
	c, err := DialTracked(n, label, token, user, session, window, device)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DialTracked is Dial that also returns a connection whose hello failed
// (closed by then), so the checker can judge how it was closed.
func DialTracked(n *Node, label, token, user, session, window, device string) (*Conn, error) {
	epoch := n.Epoch()
	h := http.Header{}
	ws, _, err := dialer.Dial(n.URL(), h)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", n.ID, err)
	}
	c := &Conn{Label: label, User: user, Session: session, Window: window, Device: device, Node: n, epoch: epoch,
		ws: ws, done: make(chan struct{}), pending: map[int]*pending{},
		held: map[string]float64{}, last: map[string]map[string]any{}}
	go c.read()
	hello := map[string]any{"type": "hello", "token": token, "window": window, "device": device}
	if session != "" {
		hello["session"] = session
	}
	r, err := c.Request(hello)
	if err != nil {
		c.Close()
		return c, fmt.Errorf("hello on %s: %w", n.ID, err)
	}
	if r["type"] != "welcome" {
		// The server closes after a refused hello; wait for that close
		// (so its code is judged), then make sure.
		select {
		case <-c.done:
		case <-time.After(opTimeout):
		}
		c.Close()
		return c, fmt.Errorf("hello on %s: %s", n.ID, compact(r))
	}
	c.welcome = r
	c.ConnID, _ = r["conn"].(string)
	return c, nil
}

func (c *Conn) read() {
	defer close(c.done)
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.closedAt = time.Now()
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				c.closeCode, c.closeText = ce.Code, ce.Text
			} else {
				c.closeCode, c.closeText = websocket.CloseAbnormalClosure, err.Error()
			}
			for id, p := range c.pending {
				close(p.reply)
				delete(c.pending, id)
			}
			c.mu.Unlock()
			return
		}
		var f map[string]any
		if json.Unmarshal(b, &f) != nil {
			c.mu.Lock()
			c.violations = append(c.violations, fmt.Sprintf("%s: not JSON: %q", c.Label, b))
			c.mu.Unlock()
			continue
		}
		c.handle(f)
	}
}

func (c *Conn) handle(f map[string]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames++
	typ, _ := f["type"].(string)
	if idf, ok := f["id"].(float64); ok && (typ == "ok" || typ == "error" || typ == "welcome") {
		p := c.pending[int(idf)]
		if p == nil {
			return // a reply after we gave up waiting
		}
		delete(c.pending, int(idf))
		if typ == "ok" {
			switch p.kind {
			case "subscribe":
				list, _ := f["presence"].([]any)
				for _, x := range list {
					if pr, ok := x.(map[string]any); ok {
						u, _ := pr["user"].(string)
						v, _ := pr["version"].(float64)
						c.held[u], c.last[u] = v, pr
					}
				}
			case "unsubscribe":
				for _, u := range p.users {
					delete(c.held, u)
					delete(c.last, u)
				}
			}
		}
		p.reply <- f
		return
	}
	if typ == "presence" {
		u, _ := f["user"].(string)
		v, _ := f["version"].(float64)
		h, subscribed := c.held[u]
		if !subscribed {
			return // a push racing our subscribe or unsubscribe
		}
		if v <= h {
			c.violations = append(c.violations, fmt.Sprintf("%s (%s on %s): pushed %s version %v after holding version %v: %v",
				c.Label, c.User, c.Node.ID, u, v, h, compact(f)))
			return
		}
		c.held[u], c.last[u] = v, f
	}
}

// Request sends m with a fresh id and waits for its reply.
func (c *Conn) Request(m map[string]any) (map[string]any, error) {
	c.mu.Lock()
	if c.closeCode != 0 {
		c.mu.Unlock()
		return nil, errClosed
	}
	c.nextID++
	id := c.nextID
	p := &pending{kind: fmt.Sprint(m["type"]), reply: make(chan map[string]any, 1)}
	if us, ok := m["users"].([]string); ok {
		p.users = us
	}
	c.pending[id] = p
	c.mu.Unlock()
	m["id"] = id
	if err := c.write(m); err != nil {
		c.forget(id)
		return nil, err
	}
	t := time.NewTimer(opTimeout)
	defer t.Stop()
	select {
	case r, ok := <-p.reply:
		if !ok {
			return nil, errClosed
		}
		return r, nil
	case <-t.C:
		c.forget(id)
		return nil, errTimeout
	}
}

func (c *Conn) forget(id int) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

func (c *Conn) write(m map[string]any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// Close closes the connection from the client side (close 1000) and waits
// for the reader to end.
func (c *Conn) Close() {
	c.mu.Lock()
	if c.closeCode == 0 {
		c.closedByUs = true
	}
	c.mu.Unlock()
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	_ = c.ws.Close()
	<-c.done
}

// Closed reports whether the connection has ended (either side).
func (c *Conn) Closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Done is closed when the reader ends.
func (c *Conn) Done() <-chan struct{} { return c.done }

// CloseInfo is how the connection ended: the code and reason the server
// sent (1006 when the socket was cut), whether we closed it, and whether
// its node was killed since the dial.
func (c *Conn) CloseInfo() (code int, text string, byUs, nodeKilled bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode, c.closeText, c.closedByUs, c.Node.Epoch() != c.epoch
}

// Violations are the version regressions the reader saw.
func (c *Conn) Violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.violations...)
}

// Last returns the last frame held for each subscribed user.
func (c *Conn) Last() map[string]map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]map[string]any, len(c.last))
	for u, f := range c.last {
		out[u] = f
	}
	return out
}

// Subscribed lists the users the connection holds a starting point for.
func (c *Conn) Subscribed() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var us []string
	for u := range c.held {
		us = append(us, u)
	}
	return us
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// ClosedAt is when the connection ended (zero while open).
func (c *Conn) ClosedAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closedAt
}
