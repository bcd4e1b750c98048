package gateway

import (
	"bufio"
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Reading without a goroutine per idle connection (issue 13).
//
// A parked reader goroutine was over half of an idle connection's memory
// (its stack, its g, and the GC headroom on both). With PGW_READER=epoll
// (the default on Linux) an idle connection has no goroutine: its socket is
// registered with the node's poller (poller_linux.go, EPOLLONESHOT) and a
// goroutine starts only when the socket is readable. It reads with gorilla
// as before (framing, control frames, the close handshake) until no whole
// frame is waiting, then re-arms the socket and exits. A frame that is only
// partly there is read to its end with a blocking read, so a slow sender
// holds a goroutine as it did before, until the read deadline.
//
// gorilla cannot say "nothing buffered, stop here": its reads block and
// its read errors are permanent. Two things make it possible anyway:
//
//   - sockReader, the net.Conn gorilla reads from, never hands gorilla a
//     byte past the frame it is in (it follows the frame headers), so when a
//     message has been read gorilla's buffer is empty.
//   - when gorilla asks for the next frame's first bytes and the socket has
//     none (a non-blocking read), sockReader hands it idleMarker, an empty
//     binary frame it made up. NextReader returns it; the read loop knows it
//     for what it is (takeIdle) and parks. A client's own binary frame is
//     never taken for it.
//
// Read deadlines (hello wait, pong wait) are no longer socket deadlines
// that only a blocked reader sees: each connection holds readBy, and the
// node's read sweep (sweepReads) expires a connection past it by setting a
// past socket deadline and starting a reader, which then fails its read
// with a timeout exactly as a blocked reader did (readFailed). Both modes
// use the sweep; PGW_READER=goroutine only keeps one reader goroutine per
// connection that always blocks.

// Reader modes (PGW_READER).
const (
	ReaderEpoll     = "epoll"
	ReaderGoroutine = "goroutine"
)

// Reader states (sockReader.state).
const (
	rParked  int32 = iota // no goroutine: the poller or a kick starts one
	rRunning              // a reader goroutine runs
	rKicked               // running, and asked to look again before parking
	rDone                 // cleaned up
)

// idleMarker is what sockReader hands gorilla instead of blocking at a
// frame boundary: a final, masked (clients' frames are), empty binary frame.
var idleMarker = [6]byte{0x82, 0x80, 0, 0, 0, 0}

// errWouldBlock: a non-blocking read found nothing.
var errWouldBlock = errors.New("read would block")

// sockReader is the connection's socket as gorilla sees it (the hijacked
// net.Conn, wrapped by hijacker). Writes, deadlines and Close go straight
// to the socket; Read follows the frames (see above). Read runs on the one
// reader goroutine of the moment; state, readBy and slot are shared.
type sockReader struct {
	net.Conn
	c *conn
	// raw reads without blocking and registers with the poller; nil: reads
	// always block (PGW_READER=goroutine, or not a plain socket, e.g. TLS).
	raw syscall.RawConn

	ext    uint64  // the current header's extended payload length, as read so far
	left   uint64  // payload bytes of the current frame still to hand out
	hdr    [2]byte // the current header's first two bytes
	have   uint8   // header bytes read (0: at a frame boundary)
	need   uint8   // header length once the first two bytes are in
	inMsg  bool    // a fragmented data message is not finished
	marker uint8   // idleMarker bytes still to hand out
	idle   bool    // idleMarker was handed out (takeIdle)
	// expired: the sweep set a past socket deadline (under c.mu).
	expired bool

	readBy atomic.Int64 // unix nanoseconds; the sweep expires reads after it
	state  atomic.Int32
	slot   atomic.Int32 // index in the node's readers, -1: not in it
}

// Read hands gorilla at most the rest of the current frame (or header).
func (r *sockReader) Read(p []byte) (int, error) {
	if r.marker > 0 {
		n := copy(p, idleMarker[len(idleMarker)-int(r.marker):])
		r.marker -= uint8(n)
		return n, nil
	}
	if len(p) == 0 {
		return 0, nil
	}
	q := p
	switch {
	case r.left > 0:
		if uint64(len(q)) > r.left {
			q = q[:r.left]
		}
	case r.have < 2:
		q = q[:min(len(q), 2-int(r.have))]
	default:
		q = q[:min(len(q), int(r.need-r.have))]
	}
	var n int
	var err error
	if r.raw != nil && r.left == 0 && r.have == 0 && !r.inMsg && !r.c.closingNow() {
		// At a frame boundary: look, but do not wait.
		n, err = tryRead(r.raw, q)
		if err == errWouldBlock {
			r.marker, r.idle = uint8(len(idleMarker)), true
			return r.Read(p)
		}
	} else {
		n, err = r.Conn.Read(q)
	}
	r.account(q[:n])
	return n, err
}

// account follows the frames through the bytes handed to gorilla (RFC 6455
// §5.2: 2 header bytes, 0/2/8 bytes of extended length, 4 of mask key).
func (r *sockReader) account(b []byte) {
	for len(b) > 0 {
		if r.left > 0 {
			k := min(uint64(len(b)), r.left)
			r.left -= k
			b = b[k:]
			continue
		}
		x := b[0]
		b = b[1:]
		if r.have < 2 {
			r.hdr[r.have] = x
		} else if r.have < 2+extLen(r.hdr[1]) {
			r.ext = r.ext<<8 | uint64(x)
		}
		r.have++
		if r.have == 2 {
			r.need = 2 + extLen(r.hdr[1])
			if r.hdr[1]&0x80 != 0 {
				r.need += 4
			}
		}
		if r.have >= 2 && r.have == r.need {
			n := uint64(r.hdr[1] & 0x7f)
			if n >= 126 {
				n = r.ext
			}
			if op := r.hdr[0] & 0x0f; op < 8 { // data or continuation
				r.inMsg = r.hdr[0]&0x80 == 0
			}
			r.left, r.have, r.need, r.ext = n, 0, 0, 0
		}
	}
}

// extLen is the extended payload length's size for header byte 2.
func extLen(b1 byte) uint8 {
	switch b1 & 0x7f {
	case 126:
		return 2
	case 127:
		return 8
	}
	return 0
}

// takeIdle reports (once) whether the message NextReader returned is
// idleMarker.
func (r *sockReader) takeIdle() bool {
	if !r.idle {
		return false
	}
	r.idle = false
	return true
}

// hijacker hands gorilla the connection's sockReader around the hijacked
// socket.
type hijacker struct {
	http.ResponseWriter
	rd  *sockReader
	raw bool // take the socket's RawConn (epoll mode)
}

func (h hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if cc, ok := nc.(*capConn); ok {
		// Out of the per-address count once hijacked (connState): keep
		// the socket itself, not the counting wrapper around it.
		cc.release()
		nc = cc.Conn
	}
	h.rd.Conn = nc
	if sc, ok := nc.(syscall.Conn); ok && h.raw {
		if raw, err := sc.SyscallConn(); err == nil {
			h.rd.raw = raw
		}
	}
	return h.rd, brw, nil
}

// startReading starts the connection's reads after the upgrade: parked on
// the poller, or a reader goroutine.
func (c *conn) startReading() {
	c.rd.readBy.Store(time.Now().Add(c.n.cfg.HelloWait).UnixNano())
	c.ws.SetPongHandler(func(string) error { c.seen(); return nil })
	c.n.readers.add(c)
	if c.rd.raw != nil && c.n.poll != nil {
		c.rd.state.Store(rParked)
		if c.n.poll.add(c) == nil {
			return
		}
		c.rd.raw = nil // not registered: this one reads with a goroutine
	}
	c.rd.state.Store(rRunning)
	c.n.wg.Add(1)
	go c.readBurst()
}

// kick makes sure a reader looks at the connection: it starts one if none
// runs, or tells the running one to look again before it parks.
func (c *conn) kick() {
	for {
		switch c.rd.state.Load() {
		case rParked:
			if c.rd.state.CompareAndSwap(rParked, rRunning) {
				c.n.wg.Add(1) // the connection's own count keeps wg above 0
				go c.readBurst()
				return
			}
		case rRunning:
			if c.rd.state.CompareAndSwap(rRunning, rKicked) {
				return
			}
		default:
			return
		}
	}
}

// park ends this reader goroutine's turn and re-arms the socket; false if
// it was kicked meanwhile and must look again.
func (c *conn) park() bool {
	if !c.rd.state.CompareAndSwap(rRunning, rParked) {
		c.rd.state.Store(rRunning) // rKicked: only this goroutine leaves it
		return false
	}
	// After the swap another kick may start a reader: touch nothing but
	// the poller. A failed re-arm (the socket closed under it) is the
	// closer's to handle: abort kicks; the sweep expires the rest.
	_ = c.n.poll.rearm(c)
	return true
}

// finish ends the connection's reads for good and cleans up.
func (c *conn) finish() {
	c.rd.state.Store(rDone)
	c.n.poll.del(c)
	c.n.readers.remove(c)
	c.cleanup()
	c.n.wg.Done() // the connection's count, taken when it was admitted
}

// seen extends the read deadline after a frame or pong from a welcomed
// connection (before welcome the hello wait runs; while closing, the
// close wait).
func (c *conn) seen() {
	c.mu.Lock()
	if c.welcomed && !c.closing {
		c.rd.readBy.Store(time.Now().Add(c.n.cfg.PongWait).UnixNano())
		if c.rd.expired {
			// The sweep expired the reads while this frame was being
			// handled (a hello whose store call outlasted the hello
			// wait): they go on.
			c.rd.expired = false
			_ = c.rd.Conn.SetReadDeadline(time.Time{})
		}
	}
	c.mu.Unlock()
}

// readAfterClose gives the client until deadline to answer the server's
// close frame: a reader waits for it (while closing, reads block).
func (c *conn) readAfterClose(deadline time.Time) {
	_ = c.rd.Conn.SetReadDeadline(deadline)
	c.rd.readBy.Store(deadline.UnixNano())
	c.kick()
}

func (c *conn) closingNow() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// expireReads makes the connection's reader fail with a timeout (a past
// socket deadline, and a reader to see it) unless a frame or pong came
// since the sweep looked (now: the sweep's time).
func (c *conn) expireReads(now int64) {
	c.mu.Lock()
	if c.rd.readBy.Load() > now {
		c.mu.Unlock()
		return
	}
	c.rd.readBy.Store(math.MaxInt64)
	c.rd.expired = true
	_ = c.rd.Conn.SetReadDeadline(time.Unix(1, 0))
	c.mu.Unlock()
	c.kick()
}

// readers is every admitted connection until it is cleaned up, by slot:
// the read sweep walks it and the poller finds a connection by the slot it
// registered with (a stale slot only costs a reader a look).
type readers struct {
	mu    sync.Mutex
	slots []*conn
	free  []int32
}

func (rs *readers) add(c *conn) {
	rs.mu.Lock()
	var i int32
	if k := len(rs.free); k > 0 {
		i = rs.free[k-1]
		rs.free = rs.free[:k-1]
		rs.slots[i] = c
	} else {
		i = int32(len(rs.slots))
		rs.slots = append(rs.slots, c)
	}
	c.rd.slot.Store(i)
	rs.mu.Unlock()
}

func (rs *readers) remove(c *conn) {
	rs.mu.Lock()
	if i := c.rd.slot.Load(); i >= 0 && rs.slots[i] == c {
		rs.slots[i] = nil
		rs.free = append(rs.free, i)
	}
	c.rd.slot.Store(-1)
	rs.mu.Unlock()
}

// stride returns the connections in slots from, from+k, from+2k, …: k
// calls with from = 0 … k-1 return each connection once.
func (rs *readers) stride(from, k int) []*conn {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var out []*conn
	for i := from; i < len(rs.slots); i += k {
		if c := rs.slots[i]; c != nil {
			out = append(out, c)
		}
	}
	return out
}

func (rs *readers) get(i int32) *conn {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if i < 0 || int(i) >= len(rs.slots) {
		return nil
	}
	return rs.slots[i]
}

// sweepReads expires the reads of connections past their read deadline:
// no hello in the hello wait, nothing (frame or pong) in the pong wait, no
// close reply in the close wait.
func (n *Node) sweepReads(_ context.Context, now time.Time) {
	var due []*conn
	t := now.UnixNano()
	n.readers.mu.Lock()
	for _, c := range n.readers.slots {
		if c != nil && c.rd.readBy.Load() <= t {
			due = append(due, c)
		}
	}
	n.readers.mu.Unlock()
	for _, c := range due {
		c.expireReads(t)
	}
}

// readSweepEvery is the read sweep's period: a fifth of the shortest read
// deadline, between 20ms and 1s (a deadline fires at most that late).
func (n *Node) readSweepEvery() time.Duration {
	return min(max(min(n.cfg.HelloWait, n.cfg.PongWait)/5, 20*time.Millisecond), time.Second)
}
