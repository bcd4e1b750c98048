package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pgw/pgw/bus"
	"github.com/pgw/pgw/internal/testenv"
)

// A process that can publish on the deployment's NATS but is no node
// changes nothing a client sees: a fake presence with a huge version, a
// fake call event and a fake control message that would close a connection
// are all dropped, and real changes keep flowing.
func TestForgedBusMessagesChangeNothing(t *testing.T) {
	nt := testenv.NATS(t)
	tn := startNode(t, func(c *Config) { c.NATSURL = nt.URL })
	watcher, _ := connectUser(t, tn, "watcher", "acme", "", "main")
	watcher.request(map[string]any{"type": "subscribe", "users": []string{"u1"}})
	victim, w := connectUser(t, tn, "u1", "acme", "", "main")

	raw, err := nats.Connect(nt.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	far := strconv.FormatInt(time.Now().Add(24*time.Hour).UnixMicro(), 10)
	forged := []*nats.Msg{
		{Subject: "pgw.presence.acme.u1", Header: nats.Header{bus.VersionHeader: {far}},
			Data: []byte(`{"type":"presence","tenant":"acme","user":"u1","status":"dnd","note":"forged","manual":true,"sessions":1,"devices":["desktop"],"version":` + far + `}`)},
		{Subject: "pgw.call.acme.u1", Data: []byte(`{"type":"call","tenant":"acme","user":"u1","ext":"1","event":"ringing","call":{"id":"x","state":"ringing"}}`)},
		{Subject: "pgw.node." + tn.ID(), Data: []byte(`{"op":"close","conns":["` + w["conn"].(string) + `"],"code":1000,"reason":"logged_out"}`)},
	}
	for _, m := range forged {
		if err := raw.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	_ = raw.Flush()
	testenv.WaitFor(t, 10*time.Second, func() error {
		if got := tn.Bus().Rejected(); got < int64(len(forged)) {
			return fmt.Errorf("%d of %d forged messages seen", got, len(forged))
		}
		return nil
	})
	// A real change after the forgeries reaches the watcher; the victim's
	// connection is still open.
	if r := victim.request(map[string]any{"type": "status", "status": "busy", "note": "real"}); r["type"] != "ok" {
		t.Fatalf("victim: %v", r)
	}
	waitNote(t, watcher, "u1", "real")
	for _, f := range append(watcher.all(), victim.all()...) {
		if f["note"] == "forged" || f["type"] == "call" || f["type"] == "bye" {
			t.Fatalf("a forged message reached a client: %v", f)
		}
	}
}

// Even a signed presence whose version is implausibly far ahead (a node
// with a broken clock, a bug) is not taken: the node re-reads the store.
func TestBusVersionFarAheadIsNotTaken(t *testing.T) {
	nt := testenv.NATS(t)
	tn := startNode(t, func(c *Config) { c.NATSURL = nt.URL })
	watcher, _ := connectUser(t, tn, "watcher", "acme", "", "main")
	watcher.request(map[string]any{"type": "subscribe", "users": []string{"u1"}})
	u1, _ := connectUser(t, tn, "u1", "acme", "", "main")

	peer, err := bus.Open(context.Background(), bus.Config{URL: nt.URL, Prefix: "pgw", Node: "peer", Secret: []byte(testSecret),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, bus.Handlers{})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	far := time.Now().Add(24 * time.Hour).UnixMicro()
	_ = peer.PublishPresence("acme", "u1", far, []byte(fmt.Sprintf(`{"type":"presence","tenant":"acme","user":"u1","status":"dnd","note":"far","manual":true,"sessions":1,"devices":["desktop"],"version":%d}`, far)))
	_ = peer.Flush(context.Background())
	if r := u1.request(map[string]any{"type": "status", "status": "busy", "note": "real"}); r["type"] != "ok" {
		t.Fatalf("u1: %v", r)
	}
	waitNote(t, watcher, "u1", "real")
	for _, f := range watcher.presenceFrames("u1") {
		if f["note"] == "far" {
			t.Fatalf("a version a day ahead was delivered: %v", f)
		}
	}
}

// An external NATS needs a secret to sign with; NATS credentials need an
// external NATS.
func TestBusSettings(t *testing.T) {
	wantSettingError(t, map[string]string{"PGW_NATS_URL": "nats://127.0.0.1:4222"}, "PGW_CLUSTER_SECRET")
	wantSettingError(t, map[string]string{"PGW_NATS_NKEY": "/etc/pgw/nats.nk"}, "PGW_NATS_URL")
	for _, kv := range []map[string]string{
		{"PGW_NATS_URL": "nats://127.0.0.1:4222", "PGW_JWT_SECRET": "x"},
		{"PGW_NATS_URL": "nats://127.0.0.1:4222", "PGW_CLUSTER_SECRET": "y", "PGW_JWT_KEYS": "/k.pem"},
	} {
		if _, _, err := LoadConfig("t", nil, envOf(kv), io.Discard); err != nil {
			t.Errorf("%v: %v", kv, err)
		}
	}
}

// envOf is a getenv over kv.
func envOf(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

// wantSettingError checks LoadConfig refuses the environment kv with an
// error naming the setting name.
func wantSettingError(t *testing.T, kv map[string]string, name string) {
	t.Helper()
	if _, _, err := LoadConfig("t", nil, envOf(kv), io.Discard); err == nil || !strings.HasPrefix(err.Error(), name) {
		t.Errorf("%v: err %v, want one naming %s", kv, err, name)
	}
}

// waitNote waits until the newest presence frame of user that c holds has
// the note.
func waitNote(t *testing.T, c *client, user, note string) {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, func() error {
		fs := c.presenceFrames(user)
		if len(fs) == 0 || fs[len(fs)-1]["note"] != note {
			return fmt.Errorf("the newest presence of %s is not %q yet: %v", user, note, fs)
		}
		return nil
	})
}
