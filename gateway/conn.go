package gateway

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/pgw/pgw/gateway/auth"
	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/wire"
)

// writeWait bounds one frame write; a client that cannot take a frame in
// this time is gone or hopeless.
const writeWait = 10 * time.Second

// closeWait is how long the reader waits for the client's close reply after
// the server sent its close frame.
const closeWait = 2 * time.Second

// conn is one WebSocket. Memory matters: an idle connection holds this
// struct, a small read buffer, no reader goroutine with PGW_READER=epoll
// (one parked otherwise; reader.go) and no writer goroutine (the writer
// starts when a frame is queued and exits when the queue is empty; write
// buffers come from a pool). What only some connections need (the
// upgrade's credentials until hello, a login, a bridge's token and ipt
// sequences, a flood of dropped frames) lives behind pointers that are nil
// on the others; TestConnSize keeps the struct within its size class.
type conn struct {
	n  *Node
	ws *websocket.Conn
	id string
	rd sockReader // the socket gorilla reads from; reader state (reader.go)

	// Set once by the reader at welcome, read-only afterwards.
	tenant, user, session string

	// pre is what the upgrade request told hello (reader goroutine only);
	// hello drops it.
	pre *connUpgrade
	// ext is set at hello for a login or a bridge connection, never
	// replaced afterwards (connExt says which fields need mu).
	ext *connExt
	// flood: frames dropped by the rate limits (reader goroutine only;
	// made at the first drop).
	flood *flood

	// Reader goroutine only (set at welcome).
	bucket  frameBucket
	maxSubs int32 // users this connection may watch

	mu         sync.Mutex
	queue      []outFrame
	expires    int64         // the token's exp in Unix seconds (JWT's own unit; nanoseconds end in 2262); 0: none (a login's is the tracker's)
	subs       userSet       // watched users (own tenant)
	writerGone chan struct{} // made by cleanup when it must wait for the writer

	// Set once at welcome (admin under mu: a refresh changes it).
	bridge, admin bool
	watchOnly     bool  // hello watch: true (watch.go)
	device        uint8 // index in connDevices
	window        uint8 // index in connWindows
	// watching: the bus interest hello took (call events and the user's
	// own presence); given back once, by dropConn or a refused hello.
	watching bool

	// Under mu.
	writing, closing, welcomed bool
	expiringSent               bool
	tenantSub                  bool
	idleFlag                   bool // last idle value this connection set, re-asserted after a store loss
	// unsure: a re-assert's Connect of it failed, so Redis may still run it
	// late; the connection's Disconnect is then sent twice (dropConn).
	unsure bool
}

// connUpgrade is what the upgrade request told hello: the bearer token's
// claims, else the login cookie and the browser's Origin (checked against
// its tenant's origins at hello).
type connUpgrade struct {
	claims        *auth.Claims  // nil: no bearer token on the upgrade
	cookie        *upgradeLogin // nil: no login cookie
	origin        string
	originPresent bool // it had an Origin header
}

// connExt is what only a login or a bridge connection holds after
// welcome.
type connExt struct {
	// login is the session id of §2.1 when a login authenticated the
	// connection (read-only after hello).
	login string
	// Bridge connections, under the conn's mu: the current token's claims
	// (a refresh applies at once) and, per bridge id, the sequence its last
	// ipt.sync on this connection started (ipt.Result.Sequence), passed
	// with its events.
	claims      auth.Claims
	iptSequence map[string]int64
}

// connDevices and connWindows are the names a conn's device and window
// index: the contract's fixed sets (hello checked them).
var (
	connDevices = [...]string{wire.DeviceDesktop, wire.DeviceWeb, wire.DeviceMobile, wire.DeviceBridge}
	connWindows = [...]string{"main", "child"}
)

// nameIndex is the index of name in names (hello validated it; 0 else).
func nameIndex(names []string, name string) uint8 {
	for i, x := range names {
		if x == name {
			return uint8(i)
		}
	}
	return 0
}

// info is the connection as the store knows it.
func (c *conn) info() presence.ConnInfo {
	return presence.ConnInfo{Tenant: c.tenant, User: c.user, Session: c.session, Conn: c.id,
		Node: c.n.cfg.NodeID, Device: connDevices[c.device], Window: connWindows[c.window], Bridge: c.bridge}
}

// login is the connection's login session id, "" when a token
// authenticated it.
func (c *conn) login() string {
	if c.ext == nil {
		return ""
	}
	return c.ext.login
}

// outFrame is one queued write: a text frame, a ping, or the final close.
type outFrame struct {
	data  []byte
	ping  bool
	close bool
	code  int
	why   string
}

// send queues a text frame. A full queue means the client does not read:
// it is closed 1008 slow_consumer so the node's memory stays bounded.
func (c *conn) send(data []byte) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	if len(c.queue) >= c.n.cfg.OutboundQueue {
		c.mu.Unlock()
		c.slowConsumer()
		return
	}
	c.queue = append(c.queue, outFrame{data: data})
	c.kickLocked()
	c.mu.Unlock()
}

// ping queues a WebSocket ping to a welcomed connection (the node's
// pingTurn calls it).
func (c *conn) ping() {
	c.mu.Lock()
	if c.welcomed && !c.closing && len(c.queue) < c.n.cfg.OutboundQueue {
		c.queue = append(c.queue, outFrame{ping: true})
		c.kickLocked()
	}
	c.mu.Unlock()
}

// kickLocked starts the writer goroutine if none runs.
func (c *conn) kickLocked() {
	if !c.writing {
		c.writing = true
		c.n.wg.Add(1)
		go c.writeLoop()
	}
}

// writeLoop writes queued frames until the queue is empty, then exits.
// Text frames are coalesced: everything queued since the last write goes
// out in one write call (one syscall and one TCP segment where a frame
// per write cost one each, the largest part of a fan-out's CPU). A
// presence change's JSON is encoded once per node (hub.deliver hands every
// watcher the same bytes); framing it here is a header of 2–10 bytes.
func (c *conn) writeLoop() {
	defer c.n.wg.Done()
	bp := framePool.Get().(*[]byte)
	defer framePool.Put(bp)
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.writerExitLocked()
			c.mu.Unlock()
			return
		}
		batch := c.queue
		c.queue = nil
		c.mu.Unlock()
		if err := c.writeBatch(batch, bp); err != nil {
			// The socket is broken: stop writing; the reader sees the
			// error too and cleans up.
			c.abort()
			c.mu.Lock()
			c.writerExitLocked()
			c.mu.Unlock()
			return
		}
	}
}

// writeBatch writes one drained queue in order: runs of text frames as
// pre-framed bytes in one write each (at most maxCoalesce bytes), pings and
// the close through gorilla between them.
func (c *conn) writeBatch(batch []outFrame, bp *[]byte) error {
	buf, frames := (*bp)[:0], 0
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		// The one writer of text frames; gorilla's own writes (pong
		// replies from the reader, pings and the close from here) are
		// single write calls too, so frames never interleave.
		nc := c.ws.NetConn()
		_ = nc.SetWriteDeadline(time.Now().Add(writeWait))
		_, err := nc.Write(buf)
		if err == nil {
			c.n.metrics.framesOut.Add(float64(frames))
		}
		if cap(buf) <= maxPooledFrameBuf {
			*bp = buf[:0]
		}
		buf, frames = buf[:0], 0
		return err
	}
	for _, f := range batch {
		switch {
		case f.close:
			if err := flush(); err != nil {
				return err
			}
			c.writeClose(f.code, f.why)
		case f.ping:
			if err := flush(); err != nil {
				return err
			}
			_ = c.ws.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.ws.WriteMessage(websocket.PingMessage, nil); err != nil {
				return err
			}
		default:
			buf = appendTextFrame(buf, f.data)
			frames++
			if len(buf) >= maxCoalesce {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// maxCoalesce is how many bytes of frames one write carries at most;
// maxPooledFrameBuf the largest buffer kept for the next batch.
const (
	maxCoalesce       = 32 << 10
	maxPooledFrameBuf = 64 << 10
)

// framePool holds the writers' frame buffers: a writer takes one for its
// life (it exits when the queue is empty), so idle connections hold none.
var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// appendTextFrame appends payload as one final, unmasked text frame
// (RFC 6455 §5.2: a server never masks; no extension is negotiated, the
// upgrader disables compression).
func appendTextFrame(b, payload []byte) []byte {
	n := len(payload)
	switch {
	case n < 126:
		b = append(b, 0x81, byte(n))
	case n <= 0xFFFF:
		b = append(b, 0x81, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x81, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// writerExitLocked marks the writer stopped, releases the queue's backing
// array (an idle connection holds none) and wakes a waiting cleanup.
func (c *conn) writerExitLocked() {
	c.writing = false
	c.queue = nil
	if c.writerGone != nil {
		close(c.writerGone)
		c.writerGone = nil
	}
}

// writeClose sends the close frame and gives the client closeWait to answer
// before the reader gives up (which then cleans up).
func (c *conn) writeClose(code int, why string) {
	msg := websocket.FormatCloseMessage(code, why)
	if err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
		c.abort()
		return
	}
	c.readAfterClose(time.Now().Add(closeWait))
}

// abort drops the TCP connection at once; a reader sees it and cleans up.
func (c *conn) abort() {
	_ = c.ws.NetConn().Close()
	c.kick()
}

// closeWith ends the connection the way the server chose: a bye frame when
// bye is set and the queue can take it, then the close frame with code and
// the problem code as reason. Later calls do nothing.
func (c *conn) closeWith(code int, reason problem.Code, bye bool) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	if bye && len(c.queue) < c.n.cfg.OutboundQueue {
		c.queue = append(c.queue, outFrame{data: byeFrame(reason)})
	}
	c.queue = append(c.queue, outFrame{close: true, code: code, why: string(reason)})
	c.kickLocked()
	c.mu.Unlock()
	c.n.metrics.serverCloses.WithLabelValues(closeLabel(code)).Inc()
}

// slowConsumer closes a connection whose queue overflowed: what is queued
// is dropped (the client does not read it anyway) and a stuck write is cut
// short so the writer reaches the close.
func (c *conn) slowConsumer() {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.queue = []outFrame{{close: true, code: problem.ClosePolicy, why: string(problem.SlowConsumer)}}
	c.kickLocked()
	c.mu.Unlock()
	_ = c.ws.NetConn().SetWriteDeadline(time.Now().Add(time.Second))
	c.n.metrics.slowConsumers.Inc()
	c.n.metrics.serverCloses.WithLabelValues(closeLabel(problem.ClosePolicy)).Inc()
}

// readBurst reads frames until none is waiting (then it parks: epoll
// mode, reader.go) or the socket fails or closes (then it cleans up).
// Before welcome the read deadline is the hello wait; after it, the pong
// wait (extended by every pong and frame); the read sweep enforces both.
func (c *conn) readBurst() {
	defer c.n.wg.Done()
	limit := c.n.cfg.MaxFrame
	for {
		kind, r, err := c.ws.NextReader()
		if err != nil {
			c.readFailed(err)
			c.finish()
			return
		}
		if c.rd.takeIdle() {
			if c.park() {
				return
			}
			continue
		}
		if kind != websocket.TextMessage {
			c.closeWith(problem.CloseUnsupported, problem.BinaryFrame, true)
			c.drainUntilClosed()
			c.finish()
			return
		}
		// Read at most limit+1 bytes: enough to know a frame is too large
		// without buffering it (the close reason is our problem code).
		data, err := io.ReadAll(io.LimitReader(r, limit+1))
		if err != nil {
			c.readFailed(err)
			c.finish()
			return
		}
		if int64(len(data)) > limit {
			c.closeWith(problem.CloseTooBig, problem.FrameTooLarge, true)
			c.drainUntilClosed()
			c.finish()
			return
		}
		if !utf8.Valid(data) {
			// RFC 6455 §8.1: a text frame must be UTF-8; the connection
			// fails (never a U+FFFD stored and broadcast).
			c.closeWith(problem.CloseInvalidData, problem.InvalidUTF8, true)
			c.drainUntilClosed()
			c.finish()
			return
		}
		c.seen()
		if !c.handle(data) {
			c.drainUntilClosed()
			c.finish()
			return
		}
	}
}

// drainUntilClosed reads and discards until the close handshake ends or
// the close wait passes (the writer set that deadline).
func (c *conn) drainUntilClosed() {
	for {
		if _, _, err := c.ws.NextReader(); err != nil {
			return
		}
	}
}

// readFailed classifies why reading stopped.
func (c *conn) readFailed(err error) {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		c.mu.Lock()
		closing, welcomed := c.closing, c.welcomed
		c.mu.Unlock()
		if closing {
			return
		}
		if !welcomed {
			c.closeWith(problem.CloseHelloTimeout, problem.HelloTimeout, true)
		} else {
			// No pong within the pong wait: the peer is gone.
			c.n.metrics.serverCloses.WithLabelValues("pong_timeout").Inc()
		}
		c.waitWriter()
	case websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived):
	default:
	}
}

// waitWriter gives a running writer up to the close wait to flush (a bye
// and close frame) before cleanup closes the socket under it.
func (c *conn) waitWriter() {
	c.mu.Lock()
	if !c.writing {
		c.mu.Unlock()
		return
	}
	if c.writerGone == nil {
		c.writerGone = make(chan struct{})
	}
	gone := c.writerGone
	c.mu.Unlock()
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-gone:
	case <-t.C:
	}
}

func (c *conn) welcomedNow() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.welcomed
}

// cleanup runs once (finish) when reading stops: the connection leaves the node,
// the store and its subscriptions.
func (c *conn) cleanup() {
	c.mu.Lock()
	c.closing = true
	welcomed := c.welcomed
	c.mu.Unlock()
	c.waitWriter()
	_ = c.ws.Close()
	c.n.dropConn(c, welcomed)
}
