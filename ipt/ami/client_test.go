package ami_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/pgw/pgw/internal/testenv"
	"github.com/pgw/pgw/ipt/ami"
	"github.com/pgw/pgw/ipt/ami/amitest"
)

func newFake(t *testing.T) *amitest.Server {
	t.Helper()
	s, err := amitest.NewServer("bridge", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func dial(t *testing.T, addr, user, secret string) (*ami.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := ami.Dial(ctx, ami.Config{Addr: addr, Username: user, Secret: secret})
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
		{"wrong secret", s.Addr(), "bridge", "nope", ami.ErrAuth},
		{"not an AMI server", notAMI.Addr().String(), "bridge", "s3cret", ami.ErrBanner},
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
	if _, err := c.Action(ctx, "NoSuchAction", nil); !errors.Is(err, ami.ErrAction) {
		t.Fatalf("unknown action: err = %v, want ami.ErrAction", err)
	}
	if _, err := c.Action(ctx, "Ping", map[string]string{"X": "a\r\nAction: Logoff"}); !errors.Is(err, ami.ErrBadField) {
		t.Fatalf("injected CRLF: err = %v, want ami.ErrBadField", err)
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
	var got []ami.Message
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
	if !errors.Is(c.Err(), ami.ErrClosed) {
		t.Fatalf("Err = %v, want ami.ErrClosed", c.Err())
	}
	if _, err := c.Action(context.Background(), "Ping", nil); !errors.Is(err, ami.ErrClosed) {
		t.Fatalf("action after drop: %v", err)
	}
}

func TestEventOverflowDropsConnection(t *testing.T) {
	s := newFake(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := ami.Dial(ctx, ami.Config{Addr: s.Addr(), Username: "bridge", Secret: "s3cret", MaxQueuedEvents: 3})
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
	if !errors.Is(c.Err(), ami.ErrEventOverflow) {
		t.Fatalf("Err = %v, want ami.ErrEventOverflow", c.Err())
	}
}
