package gateway

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgw/pgw/internal/testenv"
)

// rawConn opens a TCP connection to the node.
func rawConn(t *testing.T, tn *testNode) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(tn.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readProblem reads one HTTP answer from c and checks it is a problem with
// status and code.
func readProblem(t *testing.T, c net.Conn, status int, code string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var p map[string]any
	if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/problem+json" || json.Unmarshal(body, &p) != nil || p["code"] != code {
		t.Fatalf("got %d %s %q, want %d problem %s", resp.StatusCode, resp.Header.Get("Content-Type"), body, status, code)
	}
	if d, _ := p["detail"].(string); d == "" || p["status"] != float64(status) {
		t.Fatalf("problem without detail or status: %s", body)
	}
}

// waitClosed waits until the server closes c. A reset counts as closed: a
// server that closes a socket with unread client bytes makes the kernel send
// RST instead of FIN (which one the client sees depends on timing); only a
// read that times out means the server kept the connection.
func waitClosed(t *testing.T, c net.Conn, within time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server did not close the connection within %v: %v", within, err)
	}
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("reading until the server closes: %v", err)
	}
}

// A body that trickles in is cut at PGW_REQUEST_TIMEOUT, with a token or
// without, on a route or not.
func TestHTTPSlowBodyIsCut(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.RequestTimeout = time.Second })
	for _, path := range []string{"/v1/presence/query", "/nowhere"} {
		for _, auth := range []string{"", "Authorization: Bearer " + token(t, "u1", "acme") + "\r\n"} {
			c := rawConn(t, tn)
			fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n{", path, auth)
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				tick := time.NewTicker(200 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if _, err := c.Write([]byte(" ")); err != nil {
							return
						}
					}
				}
			}()
			waitClosed(t, c, 15*time.Second)
			close(stop)
			<-done
		}
	}
}

// net/http's own refusals are problems too: headers over the limit (431),
// a malformed request line (400).
func TestHTTPFramingErrorsAreProblems(t *testing.T) {
	tn := startNode(t, nil)
	c := rawConn(t, tn)
	fmt.Fprintf(c, "GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 100<<10))
	readProblem(t, c, 431, "header_too_large")

	c = rawConn(t, tn)
	fmt.Fprintf(c, "GET /livez HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
	readProblem(t, c, 400, "bad_request")

	c = rawConn(t, tn)
	fmt.Fprintf(c, "GET /livez HTTP/1.1\r\n\r\n") // no Host
	readProblem(t, c, 400, "bad_request")
}

// Headers that stop arriving: the connection is closed after the header
// timeout, with a 408 problem when net/http answers at all; a WebSocket
// upgrade's too (read below net/http, listener_ws.go).
func TestHTTPHeaderTimeout(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.RequestTimeout = time.Second })
	for _, path := range []string{"/livez", "/v1/ws"} {
		c := rawConn(t, tn)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nX-Slow: ", path)
		_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
		data, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("%s: not closed: %v", path, err)
		}
		if len(data) > 0 && !strings.Contains(string(data), "application/problem+json") {
			t.Fatalf("%s: answer is not a problem: %q", path, data)
		}
	}
}

// GET /v1/ws without upgrade headers, and paths that are not canonical, are
// problems (no plain-text 400, no redirect).
func TestHTTPRoutingProblems(t *testing.T) {
	tn := startNode(t, nil)
	c := rawConn(t, tn)
	fmt.Fprintf(c, "GET /v1/ws HTTP/1.1\r\nHost: x\r\n\r\n")
	readProblem(t, c, 400, "bad_request")
	for _, path := range []string{"//v1/presence/u1", "/v1/../v1/presence/u1", "/v1/presence/./u1"} {
		c := rawConn(t, tn)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", path, token(t, "u1", "acme"))
		readProblem(t, c, 404, "not_found")
	}
}

// One client address holds at most PGW_MAX_HTTP_CONNS_PER_IP open HTTP
// connections; upgraded WebSockets do not count (they have their own caps).
func TestHTTPConnsPerIP(t *testing.T) {
	tn := startNode(t, func(c *Config) { c.MaxHTTPConnsPerIP = 3 })
	var ws []*client
	for range 4 {
		c, _ := connectUser(t, tn, "u1", "acme", "", "main")
		ws = append(ws, c)
	}
	var held []net.Conn
	for range 3 {
		c := rawConn(t, tn)
		fmt.Fprintf(c, "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("connection within the cap: %v %v", resp, err)
		}
		held = append(held, c)
	}
	over := rawConn(t, tn)
	readProblem(t, over, 429, "too_many_requests")
	held[0].Close()
	testenv.WaitFor(t, 10*time.Second, func() error {
		c, err := net.Dial("tcp", strings.TrimPrefix(tn.base, "http://"))
		if err != nil {
			return err
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d after a slot was freed", resp.StatusCode)
		}
		return nil
	})
	if r := ws[3].request(map[string]any{"type": "idle", "idle": true}); r["type"] != "ok" {
		t.Fatalf("websockets must keep working: %v", r)
	}
}
