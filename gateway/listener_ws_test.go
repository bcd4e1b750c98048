package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pgw/pgw/internal/testenv"
)

// upgradeHead is a WebSocket upgrade request head for /v1/ws with extra
// header lines (each ending in \r\n).
func upgradeHead(extra string) string {
	return "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" + extra + "\r\n"
}

// answer is what a response says, for comparing two of them.
type answer struct {
	status                        int
	contentType, challenge, retry string
	accept, body                  string
	closes                        bool // Connection: close
}

func readAnswer(t *testing.T, br *bufio.Reader) answer {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	a := answer{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"),
		challenge: resp.Header.Get("WWW-Authenticate"), retry: resp.Header.Get("Retry-After"),
		accept: resp.Header.Get("Sec-WebSocket-Accept"), closes: resp.Close}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("body: %v", err)
		}
		a.body = string(body)
	}
	return a
}

// viaFastPath sends head as the first request of a new connection: the
// node serves an upgrade of /v1/ws below net/http.
func viaFastPath(t *testing.T, tn *testNode, head string) answer {
	t.Helper()
	c := rawConn(t, tn)
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	return readAnswer(t, bufio.NewReader(c))
}

// viaNetHTTP sends head as the second request of a keep-alive connection,
// which net/http serves.
func viaNetHTTP(t *testing.T, tn *testNode, head string) answer {
	t.Helper()
	c := rawConn(t, tn)
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	if a := readAnswer(t, br); a.status != 200 || a.closes {
		t.Fatalf("livez: %+v", a)
	}
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	return readAnswer(t, br)
}

// The first request of a connection takes the fast path and gets the same
// answer net/http gives the same request later on a keep-alive connection:
// the upgrade itself, and every refusal (token, origin, tenant, handshake
// headers, drain) with the same status, problem and headers. Only the
// connection differs: a refusal on the fast path closes it.
func TestFastUpgradeAnswersAsNetHTTP(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.AllowedOrigins = []string{"https://app.example"} })
	cases := []struct {
		name string
		head string
		want int
	}{
		{"upgrade with a token", upgradeHead("Authorization: Bearer " + token(t, "u1", "acme") + "\r\n"), 101},
		{"upgrade with a query", strings.Replace(upgradeHead(""), "/v1/ws", "/v1/ws?x=1", 1), 101},
		{"upgrade from an allowed origin", upgradeHead("Origin: https://app.example\r\n"), 101},
		{"bad token", upgradeHead("Authorization: Bearer not.a.jwt\r\n"), 401},
		{"two Authorization headers", upgradeHead("Authorization: Bearer a\r\nAuthorization: Bearer b\r\n"), 401},
		{"origin not allowed", upgradeHead("Origin: https://evil.example\r\n"), 403},
		{"no Sec-WebSocket-Key", strings.Replace(upgradeHead(""), "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", 1), 400},
		{"wrong version", strings.Replace(upgradeHead(""), "Version: 13", "Version: 8", 1), 400},
		{"no Connection: Upgrade", strings.Replace(upgradeHead(""), "Connection: Upgrade\r\n", "", 1), 400},
	}
	check := func(name, head string, want int) {
		t.Helper()
		fast, slow := viaFastPath(t, tn, head), viaNetHTTP(t, tn, head)
		if fast.status != want {
			t.Errorf("%s: fast path answered %d, want %d (%s)", name, fast.status, want, fast.body)
		}
		if want == 101 {
			if fast != slow || fast.accept == "" {
				t.Errorf("%s: fast path %+v, net/http %+v", name, fast, slow)
			}
			return
		}
		if !fast.closes || slow.closes {
			t.Errorf("%s: Connection: close on the fast path %v (want true), on net/http %v (want false)", name, fast.closes, slow.closes)
		}
		fast.closes, slow.closes = false, false
		if fast != slow {
			t.Errorf("%s:\n fast path %+v\n net/http  %+v", name, fast, slow)
		}
	}
	for _, tc := range cases {
		check(tc.name, tc.head, tc.want)
	}
	tn.draining.Store(true)
	check("draining", upgradeHead("Authorization: Bearer "+token(t, "u1", "acme")+"\r\n"), 503)
	tn.draining.Store(false)
}

// A connection upgraded on the fast path is a working WebSocket (hello is
// welcomed), also when its head arrives in pieces, the path split too.
func TestFastUpgradeServesWebSocket(t *testing.T) {
	tn := startNode(t, nil)
	d := websocket.Dialer{HandshakeTimeout: 20 * time.Second,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			return &piecesConn{Conn: c}, err
		}}
	ws, _, err := d.Dial(tn.url, http.Header{"Authorization": {"Bearer " + token(t, "u1", "acme")}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello","id":1,"device":"desktop"}`)); err != nil {
		t.Fatal(err)
	}
	_, data, err := ws.ReadMessage()
	if err != nil || !bytes.Contains(data, []byte(`"type":"welcome"`)) {
		t.Fatalf("welcome: %s %v", data, err)
	}
}

// piecesConn sends its first write (the upgrade request) in five TCP
// segments.
type piecesConn struct {
	net.Conn
	split bool
}

func (c *piecesConn) Write(p []byte) (int, error) {
	if c.split || len(p) < 50 {
		return c.Conn.Write(p)
	}
	c.split = true
	n := 0
	for _, cut := range []int{3, 8, 40, len(p) - 1, len(p)} {
		k, err := c.Conn.Write(p[n:cut])
		n += k
		if err != nil {
			return n, err
		}
		time.Sleep(20 * time.Millisecond) // separate segments, not synchronisation
	}
	return n, nil
}

// Whatever is not a plain first upgrade of /v1/ws reaches net/http with
// every byte: other routes, a head larger than the fast path's buffer,
// bytes sent after the head (gorilla refuses them), a second upgrade on a
// keep-alive connection.
func TestFastUpgradeHandsTheRestToNetHTTP(t *testing.T) {
	tn := startNode(t, nil)
	tok := token(t, "u1", "acme")

	c := rawConn(t, tn)
	fmt.Fprintf(c, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
	if a := readAnswer(t, bufio.NewReader(c)); a.status != 200 || !strings.Contains(a.body, `"ready"`) {
		t.Fatalf("readyz: %+v", a)
	}

	c = rawConn(t, tn)
	fmt.Fprintf(c, "POST /v1/ws HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 0\r\n\r\n", tok)
	if a := readAnswer(t, bufio.NewReader(c)); a.status != 204 {
		t.Fatalf("probe: %+v", a)
	}

	c = rawConn(t, tn)
	fmt.Fprintf(c, "GET /v1/wsx HTTP/1.1\r\nHost: x\r\n\r\n")
	readProblem(t, c, 404, "not_found")

	// 8 KiB of headers: past the fast path's buffer, within net/http's.
	big := upgradeHead("Authorization: Bearer " + tok + "\r\nX-Pad: " + strings.Repeat("p", 8<<10) + "\r\n")
	if a := viaFastPath(t, tn, big); a.status != 101 {
		t.Fatalf("large upgrade head: %+v", a)
	}

	// A frame sent with the upgrade: refused as before (no 101, closed).
	c = rawConn(t, tn)
	fmt.Fprintf(c, "%s\x81\x00", upgradeHead("Authorization: Bearer "+tok+"\r\n"))
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	data, _ := io.ReadAll(c)
	if bytes.Contains(data, []byte(" 101 ")) {
		t.Fatalf("upgraded although the client sent data before the handshake completed: %q", data)
	}

	// An upgrade as the second request: net/http serves it.
	if a := viaNetHTTP(t, tn, upgradeHead("Authorization: Bearer "+tok+"\r\n")); a.status != 101 {
		t.Fatalf("upgrade on a keep-alive connection: %+v", a)
	}
}

// A head still being read when the node stops does not hold up its stop
// (Close ends the read; goleak checks the goroutine is gone). The header
// timeout itself: TestHTTPHeaderTimeout.
func TestFastUpgradeHalfHeadAtStop(t *testing.T) {
	tn := startNode(t, nil) // the default header timeout: 10 s
	held := rawConn(t, tn)
	fmt.Fprintf(held, "GET /v1/ws HTTP/1.1\r\nHost: x\r\n")
	testenv.WaitFor(t, 10*time.Second, func() error { // the node is reading it
		var b strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
		if !strings.Contains(b.String(), "(*wsListener).serveConn") {
			return errors.New("no goroutine reads the head yet")
		}
		return nil
	})
	tn.cancel()
	select {
	case err := <-tn.done:
		tn.done <- err // for the test's own clean-up
	case <-time.After(8 * time.Second):
		t.Fatal("the node waited for a half-sent upgrade head")
	}
	waitClosed(t, held, 5*time.Second)
}

// A connection handed to net/http keeps the header deadline of its accept:
// net/http's own (later) header timeout is cut to it.
func TestCapConnHeadDeadline(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := &capConn{Conn: server, l: newCapListener(l, 1), ip: "127.0.0.1"}
	defer c.Close()
	c.replay([]byte("GET"), nil, time.Now().Add(-time.Second))
	_ = c.SetReadDeadline(time.Now().Add(time.Hour)) // net/http's header timeout
	buf := make([]byte, 8)
	if n, err := c.Read(buf); n != 3 || err != nil || string(buf[:3]) != "GET" {
		t.Fatalf("replayed bytes: %q %v", buf[:n], err)
	}
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) || !c.timedOut.Load() {
		t.Fatalf("read past the accept's header deadline: %v, want a timeout", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Hour)) // later deadlines are net/http's own
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(buf); n != 1 || err != nil {
		t.Fatalf("read after a later deadline: %d %v", n, err)
	}
}
