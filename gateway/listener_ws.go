package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/net/http/httpguts"
)

// A WebSocket upgrade is one request on a connection that then leaves HTTP,
// and net/http's per-connection machinery was a large part of a connect's
// cost: a 4 KiB bufio.Reader and a 4 KiB bufio.Writer per connection,
// taken from its pools and lost to them at Hijack (garbage the GC at
// GOGC=50 then pays for), its connection and response state, and a serving
// goroutine whose stack grows. wsListener reads the FIRST request of each
// new connection itself, into a pooled buffer, and when it is a plain
// WebSocket upgrade of /v1/ws it runs it through the very handler net/http
// would have called (Node.serveWS: the same drain, origin, token, tenant
// and per-IP checks, the same problems, the same gorilla upgrade), with a
// small ResponseWriter of its own. Everything else is handed to net/http
// unchanged, with the bytes already read replayed in front of the socket:
// other paths and methods, a head larger than the buffer (net/http answers
// 431), anything malformed or unusual (net/http answers or refuses it), a
// read error or timeout (net/http sees the same error), and every later
// request of a keep-alive connection.
type wsListener struct {
	*capListener
	n *Node
	// headerTimeout is the server's ReadHeaderTimeout: the first request's
	// head must arrive within it, as with net/http.
	headerTimeout time.Duration

	conns chan net.Conn // handed to net/http
	done  chan struct{} // closed by Close
	once  sync.Once
	wg    sync.WaitGroup // the accept loop and every serveConn

	mu      sync.Mutex
	closed  bool
	reading map[*capConn]struct{} // connections whose first request is being read
	err     error                 // why the accept loop stopped (Accept returns it)
}

// headBufSize bounds the first request's head read below net/http; a
// larger head (cookies, long headers) goes to net/http. Browsers'
// upgrades are well under 2 KiB.
const headBufSize = 4 << 10

var headPool = sync.Pool{New: func() any { b := make([]byte, headBufSize); return &b }}

// wsPrefix is how a request line that can take the fast path starts; a
// query or the version follows.
var wsPrefix = []byte("GET /v1/ws")

func newWSListener(n *Node, l *capListener, headerTimeout time.Duration) *wsListener {
	wl := &wsListener{capListener: l, n: n, headerTimeout: headerTimeout,
		conns: make(chan net.Conn), done: make(chan struct{}), reading: map[*capConn]struct{}{}}
	wl.wg.Add(1)
	go wl.acceptLoop()
	return wl
}

// Accept hands net/http the connections the fast path does not serve.
func (l *wsListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.err != nil {
			return nil, l.err
		}
		return nil, net.ErrClosed
	}
}

// Close stops accepting and closes the connections whose first request is
// still being read (net/http's Shutdown closes its idle ones alike).
func (l *wsListener) Close() error {
	err := l.capListener.Close()
	l.stop(nil)
	return err
}

func (l *wsListener) stop(err error) {
	l.once.Do(func() {
		l.mu.Lock()
		l.closed = true
		if l.err == nil {
			l.err = err
		}
		for c := range l.reading {
			_ = c.Conn.Close()
		}
		l.mu.Unlock()
		close(l.done)
	})
}

// wait returns once the accept loop and every connection being read have
// finished (after Close).
func (l *wsListener) wait() { l.wg.Wait() }

// acceptLoop accepts connections (the per-address cap applies first) and
// serves each one's first request on its own goroutine. Running out of
// file descriptors or buffers is retried with net/http's backoff; any
// other error stops it and is what Accept returns.
func (l *wsListener) acceptLoop() {
	defer l.wg.Done()
	var delay time.Duration
	for {
		c, err := l.capListener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				l.stop(nil)
				return
			}
			if retryableAccept(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				l.n.log.Warn("accept failed; retrying", "err", err, "in", delay)
				select {
				case <-time.After(delay):
					continue
				case <-l.done:
					return
				}
			}
			l.stop(err)
			return
		}
		delay = 0
		l.wg.Add(1)
		go l.serveConn(c.(*capConn))
	}
}

func retryableAccept(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// serveConn reads the first request's head; a WebSocket upgrade of /v1/ws
// is served here, anything else goes to net/http.
func (l *wsListener) serveConn(c *capConn) {
	defer l.wg.Done()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		_ = c.Close()
		return
	}
	l.reading[c] = struct{}{}
	l.mu.Unlock()

	bp := headPool.Get().(*[]byte)
	defer headPool.Put(bp)
	buf := *bp
	var headBy time.Time
	if l.headerTimeout > 0 {
		headBy = time.Now().Add(l.headerTimeout)
		_ = c.Conn.SetReadDeadline(headBy)
	}
	n, end, err := readHead(c, buf)

	l.mu.Lock()
	delete(l.reading, c)
	l.mu.Unlock()

	if end > 0 && end == n && err == nil {
		if req := fastUpgradeRequest(buf[:end]); req != nil {
			req.RemoteAddr = c.RemoteAddr().String()
			l.serveUpgrade(c, req)
			return
		}
	}
	// Not for the fast path: net/http reads the same bytes, then the same
	// error (if any) from the socket, and its header timeout still counts
	// from the accept.
	c.replay(bytes.Clone(buf[:n]), err, headBy)
	select {
	case l.conns <- c:
	case <-l.done:
		_ = c.Close()
	}
}

// readHead reads from c into buf until the head of a request that can take
// the fast path is complete (end: its length), the bytes cannot start one,
// buf is full or a read fails. n is what was read.
func readHead(c *capConn, buf []byte) (n, end int, err error) {
	for n < len(buf) {
		var k int
		k, err = c.Read(buf[n:])
		n += k
		if !bytes.HasPrefix(buf[:n], wsPrefix[:min(n, len(wsPrefix))]) {
			return n, 0, err
		}
		// The head ends at the first empty line; search from just before
		// what this read added.
		from := max(0, n-k-3)
		if i := bytes.Index(buf[from:n], []byte("\r\n\r\n")); i >= 0 {
			return n, from + i + 4, err
		}
		if err != nil {
			return n, 0, err
		}
	}
	return n, 0, nil
}

// parsers are pooled readers of a head held in memory.
var parsers = sync.Pool{New: func() any {
	p := &headParser{}
	p.br = bufio.NewReaderSize(&p.rd, headBufSize)
	return p
}}

type headParser struct {
	rd bytes.Reader
	br *bufio.Reader
}

// fastUpgradeRequest parses head (a whole request head, nothing after it)
// and returns it when the fast path may serve it: an HTTP/1.1 GET of
// exactly /v1/ws (the route's canonical path) asking to upgrade to
// WebSocket, with no body and no Expect, and headers net/http would accept
// as they are (one valid Host, valid names and values). nil means net/http
// serves it, whatever it is.
func fastUpgradeRequest(head []byte) *http.Request {
	p := parsers.Get().(*headParser)
	p.rd.Reset(head)
	p.br.Reset(&p.rd)
	req, err := http.ReadRequest(p.br)
	p.br.Reset(nil)
	p.rd.Reset(nil)
	parsers.Put(p)
	if err != nil || req.Method != http.MethodGet || req.ProtoMajor != 1 || req.ProtoMinor != 1 ||
		req.URL.Path != "/v1/ws" || req.URL.RawPath != "" || req.URL.Host != "" ||
		req.ContentLength != 0 || len(req.TransferEncoding) > 0 || req.Header.Get("Expect") != "" ||
		!httpguts.HeaderValuesContainsToken(req.Header["Upgrade"], "websocket") {
		return nil
	}
	// ReadRequest refused a second Host and moved the one Host header to
	// req.Host (req.URL has no host: the path starts with /).
	if req.Host == "" || !httpguts.ValidHostHeader(req.Host) {
		return nil
	}
	for k, vs := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil
			}
		}
	}
	return req
}

// serveUpgrade runs the node's /v1/ws handler on req with a ResponseWriter
// of the fast path. A refusal (a problem) is written with Connection:
// close and the connection closed: browsers and SDKs open a new
// connection for every WebSocket, so none is kept alive for a next request.
func (l *wsListener) serveUpgrade(c *capConn, req *http.Request) {
	w := &upgradeResponse{c: c, guard: upgradeBuffersReusable(&l.n.up)}
	defer func() {
		if err := recover(); err != nil {
			// As net/http does with a handler's panic: log it, drop the
			// connection, keep serving.
			l.n.log.Error("panic serving /v1/ws", "err", err)
			_ = c.Close()
		}
		w.release()
	}()
	l.n.serveWS(w, req)
	if !w.hijacked {
		_ = w.finish(req)
		_ = c.Close()
	}
}

// upgradeBuffersReusable reports whether gorilla drops the hijacked
// bufio.Reader and bufio.Writer once Upgrade returns: it keeps them as the
// connection's buffers only when the upgrader has no read buffer size or no
// write buffer pool. Only then do they go back to their pool.
func upgradeBuffersReusable(u *websocket.Upgrader) bool {
	return u.ReadBufferSize > 0 && u.WriteBufferPool != nil
}

// hijackBufs are the bufio.Reader (never read: nothing follows the head)
// and bufio.Writer (gorilla writes the 101 response from its buffer) that
// Hijack hands gorilla.
type hijackBufs struct {
	br *bufio.Reader
	bw *bufio.Writer
}

var hijackPool = sync.Pool{New: func() any {
	return &hijackBufs{br: bufio.NewReaderSize(nil, 16), bw: bufio.NewWriterSize(nil, 256)}
}}

// upgradeResponse is the fast path's http.ResponseWriter: it holds a
// refusal until finish writes it, or hands the socket to gorilla (Hijack).
type upgradeResponse struct {
	c        *capConn
	guard    bool // the hijack buffers may be pooled again
	header   http.Header
	status   int
	body     bytes.Buffer
	hijacked bool
	bufs     *hijackBufs
}

func (w *upgradeResponse) Header() http.Header {
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}

func (w *upgradeResponse) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *upgradeResponse) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

// Hijack gives gorilla the socket (the *capConn, which hijacker takes out
// of the per-address count) and empty buffers.
func (w *upgradeResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked || w.status != 0 {
		return nil, nil, http.ErrHijacked
	}
	w.hijacked = true
	if w.guard {
		w.bufs = hijackPool.Get().(*hijackBufs)
	} else {
		w.bufs = &hijackBufs{br: bufio.NewReaderSize(nil, 16), bw: bufio.NewWriterSize(nil, 256)}
	}
	w.bufs.br.Reset(w.c)
	w.bufs.bw.Reset(w.c)
	return w.c, bufio.NewReadWriter(w.bufs.br, w.bufs.bw), nil
}

// release pools the hijack buffers again (gorilla is done with them once
// Upgrade returned).
func (w *upgradeResponse) release() {
	if w.bufs != nil && w.guard {
		w.bufs.br.Reset(nil)
		w.bufs.bw.Reset(nil)
		hijackPool.Put(w.bufs)
	}
	w.bufs = nil
}

// finish writes the held response, as net/http would (status line, the
// handler's headers, Date, Content-Length), with Connection: close.
func (w *upgradeResponse) finish(req *http.Request) error {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	h := w.Header()
	if _, ok := h["Date"]; !ok {
		h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	resp := &http.Response{
		Status:     fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode: status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, ContentLength: int64(w.body.Len()), Body: io.NopCloser(&w.body),
		Close: true, Request: req,
	}
	_ = w.c.SetWriteDeadline(time.Now().Add(writeWait))
	bw := bufio.NewWriterSize(w.c.Conn, 512)
	if err := resp.Write(bw); err != nil {
		return err
	}
	return bw.Flush()
}
