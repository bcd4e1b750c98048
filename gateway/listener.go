package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pgw/pgw/problem"
)

// The node's listener does two things net/http has no knob for: it caps
// the open HTTP connections of one client address (slow-header and
// slow-body clients each hold a connection until PGW_REQUEST_TIMEOUT), and
// it turns the plain-text refusals net/http writes itself (431 for huge
// headers, 400 for a malformed request) into problems like every other
// error (contract §7).

// Listen binds the node's public address (cmd/gateway, Run). Accepted
// sockets get no TCP keep-alive (Go's default turns it on with four
// setsockopt calls per connection, ~2% of a connect's CPU): a WebSocket's
// heartbeat (PGW_HEARTBEAT, PGW_PONG_WAIT) finds a dead peer and keeps
// middleboxes' idle timers fed, and an idle HTTP connection is closed after
// two minutes.
func Listen(addr string) (net.Listener, error) {
	return (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp", addr)
}

// capListener caps the open connections per client address. A connection
// leaves the count when it closes or when it is hijacked (an upgraded
// WebSocket, capped per user instead).
type capListener struct {
	net.Listener
	max int

	mu    sync.Mutex
	perIP map[string]int
}

func newCapListener(l net.Listener, max int) *capListener {
	return &capListener{Listener: l, max: max, perIP: map[string]int{}}
}

// Accept returns the next connection within the cap. One over the cap is
// answered 429 too_many_requests and closed here (a small write that the
// fresh socket's buffer takes at once, bounded by a deadline).
func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := c.RemoteAddr().String()
		if host, _, err := net.SplitHostPort(ip); err == nil {
			ip = host
		}
		l.mu.Lock()
		if l.perIP[ip] >= l.max {
			l.mu.Unlock()
			p := problem.New(problem.TooManyRequests, "this address holds %d open HTTP connections, the limit (PGW_MAX_HTTP_CONNS_PER_IP); close some or retry later", l.max)
			p.RetryAfter = 1
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.Write(rawProblem(p))
			_ = c.Close()
			continue
		}
		l.perIP[ip]++
		l.mu.Unlock()
		return &capConn{Conn: c, l: l, ip: ip}, nil
	}
}

func (l *capListener) release(ip string) {
	l.mu.Lock()
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
	l.mu.Unlock()
}

// connState is the server's ConnState hook: a hijacked connection leaves
// the count.
func connState(c net.Conn, s http.ConnState) {
	if s == http.StateHijacked {
		if cc, ok := c.(*capConn); ok {
			cc.release()
		}
	}
}

// capConn is one counted connection.
type capConn struct {
	net.Conn
	l        *capListener
	ip       string
	released atomic.Bool
	timedOut atomic.Bool // a read hit its deadline (the request timeout)
	// pre and preErr: what wsListener read before handing the connection
	// to net/http, which reads them first (listener_ws.go); headBy: when
	// the head had to be in, by wsListener's clock.
	pre    []byte
	preErr error
	headBy time.Time
}

// replay makes the next reads return pre, then err (if not nil), then the
// socket's own bytes; and net/http's first read deadline (its header
// timeout, set when it starts on the connection) no later than headBy, so
// the time spent reading below net/http counts (zero: no bound).
func (c *capConn) replay(pre []byte, err error, headBy time.Time) {
	c.pre, c.preErr, c.headBy = pre, err, headBy
}

// SetReadDeadline applies the one bound replay set to the first deadline.
func (c *capConn) SetReadDeadline(t time.Time) error {
	if by := c.headBy; !by.IsZero() {
		c.headBy = time.Time{}
		if t.IsZero() || t.After(by) {
			t = by
		}
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *capConn) release() {
	if c.released.CompareAndSwap(false, true) {
		c.l.release(c.ip)
	}
}

func (c *capConn) Close() error {
	c.release()
	return c.Conn.Close()
}

func (c *capConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	if err := c.preErr; err != nil {
		c.preErr = nil
		return 0, err
	}
	n, err := c.Conn.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		c.timedOut.Store(true)
	}
	return n, err
}

// cannedHeaders are the headers net/http writes with its own refusals
// (server.go, conn.serve); handlers of this node never write them.
var cannedHeaders = []byte("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")

// Write passes everything through but net/http's canned refusals, which
// become problems.
func (c *capConn) Write(p []byte) (int, error) {
	if len(p) > 12 && bytes.HasPrefix(p, []byte("HTTP/1.1 ")) && (p[9] == '4' || p[9] == '5') && bytes.Contains(p, cannedHeaders) && !c.released.Load() {
		if _, err := c.Conn.Write(rawProblem(c.cannedProblem(p))); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// cannedProblem is the problem for one of net/http's refusals.
func (c *capConn) cannedProblem(p []byte) *problem.Problem {
	status, _ := strconv.Atoi(string(p[9:12]))
	text := p[bytes.Index(p, cannedHeaders)+len(cannedHeaders):]
	switch {
	case status == http.StatusRequestHeaderFieldsTooLarge:
		return problem.New(problem.HeaderTooLarge, "the request's headers are larger than the limit of %d bytes", maxHeaderBytes)
	case c.timedOut.Load():
		return problem.New(problem.RequestTimeout, "the request did not arrive within the request timeout (PGW_REQUEST_TIMEOUT)")
	}
	return problem.New(problem.BadRequest, "the request is malformed: %s", problem.Excerpt(string(text), 200))
}

// rawProblem is a whole HTTP/1.1 response carrying p, closing the
// connection (for answers written below net/http).
func rawProblem(p *problem.Problem) []byte {
	body, _ := json.Marshal(p)
	body = append(body, '\n')
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\nContent-Type: application/problem+json\r\nContent-Length: %d\r\nConnection: close\r\n", p.Status, http.StatusText(p.Status), len(body))
	if p.RetryAfter > 0 {
		fmt.Fprintf(&b, "Retry-After: %d\r\n", p.RetryAfter)
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}
