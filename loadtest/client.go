package loadtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pgw/pgw/wire"
)

// DialError is a failed connect, with Key naming the cause the way the report
// groups errors: "close 4401 token_expired", "http 503", "problem rate_limited",
// "dial", "timeout".
type DialError struct {
	Key string
	Err error
}

func (e *DialError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *DialError) Unwrap() error { return e.Err }

// ErrorKey returns the report key of any error a connection produced.
func ErrorKey(err error) string {
	var de *DialError
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &de):
		return de.Key
	case errors.As(err, &ce):
		return closeKey(ce.Code, ce.Text)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, ErrClosed):
		return "closed"
	default:
		return "io"
	}
}

func closeKey(code int, reason string) string {
	if reason == "" {
		return "close " + strconv.Itoa(code)
	}
	return "close " + strconv.Itoa(code) + " " + reason
}

// FrameHandler sees every server frame that is not the reply to a waited
// request. It runs on the connection's reader goroutine: keep it short.
type FrameHandler func(c *Client, f *inFrame, at time.Time)

// CloseHandler is told once when a connection ends. deliberate is true when
// the harness closed or dropped it itself; code is 0 when no close frame came.
type CloseHandler func(c *Client, code int, reason string, deliberate bool)

// DialSpec says how to open one connection.
type DialSpec struct {
	Target  string // base URL http://host:port
	Token   string
	Session string
	Window  string // main|child
	Device  string // desktop|bridge
	// User and Slot say whose window this is (user index, 0 = main window);
	// Sub and Roles, when set, replace the user's token subject and roles.
	User, Slot int
	Sub        string
	Roles      []string
	OnFrame    FrameHandler
	OnClose    CloseHandler
}

// Client is one WebSocket connection: one reader goroutine, small buffers,
// writes serialised by a mutex (gorilla allows one writer; the automatic
// pong reply uses WriteControl, which is safe alongside).
type Client struct {
	spec    DialSpec
	ws      *websocket.Conn
	wmu     sync.Mutex
	nextID  atomic.Int64
	pmu     sync.Mutex
	pending map[int64]chan *inFrame

	deliberate atomic.Bool
	done       chan struct{}

	// Set before the reader starts, read-only afterwards.
	ConnID, SessionID, NodeID string
	// Welcomed is when the welcome frame arrived.
	Welcomed time.Time
	// CloseCode and CloseReason are the server's close frame (0 when the
	// connection ended without one); valid once Done is closed.
	CloseCode   int
	CloseReason string
}

// Done is closed when the reader goroutine has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// connector dials connections with the worker's settings.
type connector struct {
	ws *websocket.Dialer
}

func newConnector(src *sourcePool) *connector {
	return &connector{ws: &websocket.Dialer{
		NetDialContext:   src.dialContext,
		HandshakeTimeout: 10 * time.Second,
		// Small buffers: thousands of idle connections per process. Writes
		// borrow a pooled buffer only while writing.
		ReadBufferSize:  512,
		WriteBufferSize: 512,
		WriteBufferPool: &sync.Pool{},
	}}
}

// wsURL turns a target base URL into its /v1/ws URL.
func wsURL(target string) string {
	u := strings.TrimSuffix(target, "/")
	switch {
	case strings.HasPrefix(u, "https://"):
		u = "wss://" + strings.TrimPrefix(u, "https://")
	case strings.HasPrefix(u, "http://"):
		u = "ws://" + strings.TrimPrefix(u, "http://")
	}
	return u + "/v1/ws"
}

// Dial opens a connection, sends hello and waits for welcome; only then does
// the reader goroutine start handing frames to spec.OnFrame.
func (cn *connector) Dial(ctx context.Context, spec DialSpec) (*Client, error) {
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+spec.Token)
	ws, resp, err := cn.ws.DialContext(ctx, wsURL(spec.Target), hdr)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
			return nil, &DialError{Key: "http " + strconv.Itoa(resp.StatusCode), Err: err}
		}
		key := "dial"
		if ErrorKey(err) == "timeout" {
			key = "timeout"
		}
		return nil, &DialError{Key: key, Err: err}
	}
	ws.SetReadLimit(1 << 20)
	c := &Client{spec: spec, ws: ws, done: make(chan struct{}), pending: map[int64]chan *inFrame{}}
	c.nextID.Store(1)
	fail := func(err error) (*Client, error) {
		ws.NetConn().Close()
		return nil, err
	}
	if err := c.write(wire.HelloFrame{Type: wire.TypeHello, ID: 1, Session: spec.Session, Window: spec.Window, Device: spec.Device, Client: clientName}); err != nil {
		return fail(&DialError{Key: "io", Err: err})
	}
	deadline := time.Now().Add(10 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = ws.SetReadDeadline(deadline)
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return fail(&DialError{Key: ErrorKey(err), Err: fmt.Errorf("%w: %w", ErrNoWelcome, err)})
		}
		var f inFrame
		if err := decodeIn(data, &f); err != nil {
			return fail(&DialError{Key: "bad_frame", Err: err})
		}
		switch f.Type {
		case wire.TypeWelcome:
			c.ConnID, c.SessionID, c.NodeID = f.Conn, f.Session, f.Node
			c.Welcomed = time.Now()
			_ = ws.SetReadDeadline(time.Time{})
			go c.read()
			return c, nil
		case wire.TypeError:
			key := "problem"
			if f.Error != nil {
				key = "problem " + f.Error.Code
			}
			return fail(&DialError{Key: key, Err: fmt.Errorf("%w: %s", ErrNoWelcome, data)})
		}
		// Anything else before welcome (none is expected) is ignored.
	}
}

// read is the connection's only reader. Reading is also what answers the
// server's pings (gorilla's default ping handler).
func (c *Client) read() {
	defer close(c.done)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			code, reason := 0, ""
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				code, reason = ce.Code, ce.Text
			}
			c.CloseCode, c.CloseReason = code, reason
			c.ws.NetConn().Close()
			c.failPending()
			if c.spec.OnClose != nil {
				c.spec.OnClose(c, code, reason, c.deliberate.Load())
			}
			return
		}
		at := time.Now()
		f := &inFrame{}
		if err := decodeIn(data, f); err != nil {
			f = &inFrame{Type: "bad_frame"}
		}
		if (f.Type == wire.TypeOK || f.Type == wire.TypeError) && len(f.ID) > 0 {
			if id, err := strconv.ParseInt(string(f.ID), 10, 64); err == nil {
				c.pmu.Lock()
				ch, ok := c.pending[id]
				delete(c.pending, id)
				c.pmu.Unlock()
				if ok {
					ch <- f
					continue
				}
			}
		}
		if c.spec.OnFrame != nil {
			c.spec.OnFrame(c, f, at)
		}
	}
}

func (c *Client) failPending() {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
}

func (c *Client) write(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteJSON(v)
}

// NextID returns a fresh frame id.
func (c *Client) NextID() int64 { return c.nextID.Add(1) }

// Send writes a frame without waiting for its reply (the reply, ok or error,
// goes to OnFrame).
func (c *Client) Send(v any) error { return c.write(v) }

// Request writes a frame whose id is id and waits for its reply; an error
// reply is returned as a DialError keyed "problem <code>".
func (c *Client) Request(ctx context.Context, id int64, v any) (*inFrame, error) {
	ch := make(chan *inFrame, 1)
	c.pmu.Lock()
	c.pending[id] = ch
	c.pmu.Unlock()
	if err := c.write(v); err != nil {
		c.pmu.Lock()
		delete(c.pending, id)
		c.pmu.Unlock()
		return nil, err
	}
	select {
	case f, ok := <-ch:
		if !ok {
			return nil, ErrClosed
		}
		if f.Type == wire.TypeError {
			code := "unknown"
			if f.Error != nil {
				code = f.Error.Code
			}
			return f, &DialError{Key: "problem " + code, Err: fmt.Errorf("request %d refused", id)}
		}
		return f, nil
	case <-ctx.Done():
		c.pmu.Lock()
		delete(c.pending, id)
		c.pmu.Unlock()
		return nil, ctx.Err()
	}
}

// Close ends the connection the polite way (close frame 1000) and waits a
// little for the server's answer before cutting the socket.
func (c *Client) Close() {
	c.deliberate.Store(true)
	_ = c.ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		c.ws.NetConn().Close()
		<-c.done
	}
}

// Drop cuts the socket with no close frame, as a network failure or a killed
// app would; the server sees EOF.
func (c *Client) Drop() {
	c.deliberate.Store(true)
	c.ws.NetConn().Close()
	<-c.done
}

// MarkDeliberate tells the close handler that the coming close is expected
// (a logout the harness asked for).
func (c *Client) MarkDeliberate() { c.deliberate.Store(true) }
