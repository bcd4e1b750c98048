package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pgw/pgw/gateway/auth"
	"github.com/pgw/pgw/internal/testenv"
)

const testSecret = "0123456789abcdef0123456789abcdef"

// The harness's fanout frames work against it: hello is welcomed,
// subscribe and status are answered ok, and a watcher on another node
// gets the change once, as a presence frame with the note.
func TestBareFanoutDeliversAChangeToAWatcherOnAnotherNode(t *testing.T) {
	rd, nt := testenv.Redis(t), testenv.NATS(t)
	var urls []string
	for _, node := range []string{"b1", "b2"} {
		s, err := newServer(testSecret, rd.URL, nt.URL, "bt", node)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.close)
		hs := httptest.NewServer(s.handler())
		t.Cleanup(hs.Close)
		urls = append(urls, "ws"+strings.TrimPrefix(hs.URL, "http")+"/v1/ws")
	}
	dial := func(url, user string) *websocket.Conn {
		tok, err := auth.Sign([]byte(testSecret), auth.Claims{Subject: user, Tenant: "acme", Expires: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		ws, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Authorization": {"Bearer " + tok}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		return ws
	}
	read := func(ws *websocket.Conn) map[string]any {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var f map[string]any
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		return f
	}
	request := func(ws *websocket.Conn, frame string) map[string]any {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
			t.Fatal(err)
		}
		return read(ws)
	}
	watcher, alice := dial(urls[0], "bob"), dial(urls[1], "alice")
	for _, ws := range []*websocket.Conn{watcher, alice} {
		if f := request(ws, `{"type":"hello","id":1,"device":"desktop"}`); f["type"] != "welcome" || f["conn"] == "" {
			t.Fatalf("hello: %v", f)
		}
	}
	if f := request(watcher, `{"type":"subscribe","id":2,"users":["alice"]}`); f["type"] != "ok" || f["id"] != 2.0 {
		t.Fatalf("subscribe: %v", f)
	}
	if f := request(alice, `{"type":"status","id":3,"status":"busy","note":"lt 1 1"}`); f["type"] != "ok" || f["id"] != 3.0 {
		t.Fatalf("status: %v", f)
	}
	if p := read(watcher); p["type"] != "presence" || p["user"] != "alice" || p["status"] != "busy" || p["note"] != "lt 1 1" || !positive(p["version"]) {
		t.Fatalf("presence: %v", p)
	}
}

// positive reports whether a decoded JSON value is a number above 0.
func positive(v any) bool {
	f, ok := v.(float64)
	return ok && f > 0
}
