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
				got, err := ReadFields(br)
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
			if _, err := ReadFields(br); err != want {
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
		login, err := ReadFields(br)
		if err != nil {
			return
		}
		c.Write([]byte("Response: Success\r\nActionID: " + login["ActionID"] + "\r\n\r\n"))
		for { // swallow everything, answer nothing
			if _, err := ReadFields(br); err != nil {
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
