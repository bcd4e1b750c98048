package ami

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pgw/pgw/internal/testenv"
)

func TestReadMessage(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []map[string]string
		err  bool
	}{
		{"one block", "Response: Success\r\nActionID: 1\r\n\r\n",
			[]map[string]string{{"Response": "Success", "ActionID": "1"}}, false},
		{"leading blank lines skipped", "\r\n\r\nEvent: Hangup\r\nCause: 16\r\n\r\n",
			[]map[string]string{{"Event": "Hangup", "Cause": "16"}}, false},
		{"bare LF and value with colon", "Event: X\nURI: sip:1001@h:5060\n\n",
			[]map[string]string{{"Event": "X", "URI": "sip:1001@h:5060"}}, false},
		{"two blocks", "Event: A\r\n\r\nEvent: B\r\n\r\n",
			[]map[string]string{{"Event": "A"}, {"Event": "B"}}, false},
		{"truncated block", "Event: A\r\nFoo: bar", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tc.in))
			for _, want := range tc.want {
				got, err := readMessage(br)
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				if len(got) != len(want) {
					t.Fatalf("got %v, want %v", got, want)
				}
				for k, v := range want {
					if got[k] != v {
						t.Fatalf("%s = %q, want %q (all %v)", k, got[k], v, got)
					}
				}
			}
			want := io.EOF
			if tc.err {
				want = io.ErrUnexpectedEOF
			}
			if _, err := readMessage(br); err != want {
				t.Fatalf("err at the end = %v, want %v", err, want)
			}
		})
	}
}

func TestMessageGetIsCaseInsensitive(t *testing.T) {
	m := Message{Fields: map[string]string{"ActionId": "7", "Event": "Hold"}}
	if m.ActionID() != "7" || m.Event() != "Hold" || m.Response() != "" {
		t.Fatalf("got %q %q %q", m.ActionID(), m.Event(), m.Response())
	}
}

func newFake(t *testing.T) *FakeServer {
	t.Helper()
	s, err := NewFakeServer("bridge", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func dial(t *testing.T, addr, user, secret string) (*Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, Config{Addr: addr, Username: user, Secret: secret})
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func TestDial(t *testing.T) {
	s := newFake(t)
	notAMI, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer notAMI.Close()
	go func() {
		for {
			c, err := notAMI.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-OpenSSH_9\r\n"))
			c.Close()
		}
	}()
	tests := []struct {
		name, addr, user, secret string
		want                     error
	}{
		{"good login", s.Addr(), "bridge", "s3cret", nil},
		{"wrong secret", s.Addr(), "bridge", "nope", ErrAuth},
		{"not an AMI server", notAMI.Addr().String(), "bridge", "s3cret", ErrBanner},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dial(t, tc.addr, tc.user, tc.secret)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if s.Logins() != 1 {
		t.Fatalf("logins = %d, want 1", s.Logins())
	}
}

func TestActionAndError(t *testing.T) {
	s := newFake(t)
	c, err := dial(t, s.Addr(), "bridge", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	resp, err := c.Action(ctx, "Ping", nil)
	if err != nil || resp.Get("Ping") != "Pong" {
		t.Fatalf("ping: %v %v", resp, err)
	}
	if _, err := c.Action(ctx, "NoSuchAction", nil); !errors.Is(err, ErrAction) {
		t.Fatalf("unknown action: err = %v, want ErrAction", err)
	}
	if _, err := c.Action(ctx, "Ping", map[string]string{"X": "a\r\nAction: Logoff"}); !errors.Is(err, ErrBadField) {
		t.Fatalf("injected CRLF: err = %v, want ErrBadField", err)
	}
}

// TestListKeepsInterleavedEvents: an event written in the middle of a list
// goes to the event queue (after the list's start response), not into the
// list and not lost.
func TestListKeepsInterleavedEvents(t *testing.T) {
	s := newFake(t)
	s.SetDevice("PJSIP/1001", "NOT_INUSE")
	s.SetDevice("PJSIP/1002", "UNAVAILABLE")
	c, err := dial(t, s.Addr(), "bridge", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	s.SetListHook(func(string) { s.DeviceStateChange("PJSIP/1002", "NOT_INUSE") })
	resp, items, err := c.List(context.Background(), "DeviceStateList", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[1].Get("Device") != "PJSIP/1002" || items[1].Get("State") != "UNAVAILABLE" {
		t.Fatalf("items = %v", items)
	}
	var got []Message
	testenv.WaitFor(t, 5*time.Second, func() error {
		got = append(got, c.TakeEvents()...)
		for _, m := range got {
			if m.Event() == "DeviceStateChange" {
				return nil
			}
		}
		return errors.New("no DeviceStateChange queued")
	})
	for _, m := range got {
		if m.Event() == "DeviceStateChange" {
			if m.Pos <= resp.Pos || m.Get("State") != "NOT_INUSE" {
				t.Fatalf("event %v at pos %d, response at %d", m, m.Pos, resp.Pos)
			}
		}
		if m.Event() == "FullyBooted" && m.Pos >= resp.Pos {
			t.Fatalf("FullyBooted at %d after the list response at %d", m.Pos, resp.Pos)
		}
	}
}

func TestDropEndsClient(t *testing.T) {
	s := newFake(t)
	c, err := dial(t, s.Addr(), "bridge", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	s.DropConnections()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client did not notice the drop")
	}
	if !errors.Is(c.Err(), ErrClosed) {
		t.Fatalf("Err = %v, want ErrClosed", c.Err())
	}
	if _, err := c.Action(context.Background(), "Ping", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("action after drop: %v", err)
	}
}

func TestEventOverflowDropsConnection(t *testing.T) {
	s := newFake(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, Config{Addr: s.Addr(), Username: "bridge", Secret: "s3cret", MaxQueuedEvents: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 5; i++ {
		s.FullyBooted()
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("no overflow")
	}
	if !errors.Is(c.Err(), ErrEventOverflow) {
		t.Fatalf("Err = %v, want ErrEventOverflow", c.Err())
	}
}

// TestKeepaliveDetectsSilentPeer: a peer that stops answering (a dead
// TCP path with no RST) is noticed by the Ping keepalive.
func TestKeepaliveDetectsSilentPeer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte("Asterisk Call Manager/5.0.1\r\n"))
		br := bufio.NewReader(c)
		login, err := readMessage(br)
		if err != nil {
			return
		}
		c.Write([]byte("Response: Success\r\nActionID: " + login["ActionID"] + "\r\n\r\n"))
		for { // swallow everything, answer nothing
			if _, err := readMessage(br); err != nil {
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, Config{Addr: ln.Addr().String(), Username: "u", Secret: "s",
		PingInterval: 20 * time.Millisecond, ActionTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("silent peer not detected")
	}
	if !errors.Is(c.Err(), ErrClosed) || !strings.Contains(c.Err().Error(), "ping") {
		t.Fatalf("Err = %v, want ErrClosed by ping", c.Err())
	}
	c.Close()
	<-served
}
