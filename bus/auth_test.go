package bus

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Messages on the bus that no node signed are dropped: a process that can
// reach NATS cannot fake presence, call events or node control messages.
func TestUnsignedMessagesAreDropped(t *testing.T) {
	n := startServer(t, server.Options{})
	var rec recorder
	sub := open(t, n.ClientURL(), "n1", &rec, 64)
	if err := sub.Watch("acme", "u1"); err != nil {
		t.Fatal(err)
	}
	if err := sub.WatchCalls("acme"); err != nil {
		t.Fatal(err)
	}
	_ = sub.Flush(context.Background())

	raw, err := nats.Connect(n.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	forged := []*nats.Msg{
		{Subject: "pgw.presence.acme.u1", Data: []byte(`{"status":"dnd"}`), Header: nats.Header{VersionHeader: {"9999999999999999"}}},
		{Subject: "pgw.presence.acme.u1", Data: []byte(`{"status":"dnd"}`), Header: nats.Header{VersionHeader: {"5"}, SignatureHeader: {"not-a-signature"}}},
		{Subject: "pgw.call.acme.u1", Data: []byte(`{"type":"call"}`)},
		{Subject: "pgw.node.n1", Data: []byte(`{"op":"close","conns":["x"],"code":1000,"reason":"logged_out"}`)},
	}
	// A node of another deployment (another secret) is as foreign.
	other, err := Open(context.Background(), Config{Prefix: "pgw", URL: n.ClientURL(), Node: "n9", Secret: []byte("another-secret-0123456789abcdef"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, Handlers{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for _, m := range forged {
		if err := raw.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	_ = other.PublishPresence("acme", "u1", 6, []byte(`{"status":"away"}`))
	_ = other.PublishControl("n1", []byte(`{"op":"close"}`))
	_ = raw.Flush()
	_ = other.Flush(context.Background())

	// A real node's message goes through, after the forged ones.
	pub := open(t, n.ClientURL(), "n2", &recorder{}, 64)
	_ = pub.PublishPresence("acme", "u1", 7, []byte(`{"status":"busy"}`))
	waitCount(t, rec.count(func() int { return len(rec.presence) }), 1)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.presence[0] != `acme/u1@7:{"status":"busy"}` || len(rec.calls) != 0 || len(rec.control) != 0 {
		t.Fatalf("forged messages delivered: presence %q calls %q control %q", rec.presence, rec.calls, rec.control)
	}
	if got := sub.Rejected(); got != 6 {
		t.Fatalf("rejected %d messages, want 6", got)
	}
}

// The embedded server has no TCP listener: only the node reaches it.
func TestEmbeddedServerDoesNotListen(t *testing.T) {
	var rec recorder
	b := open(t, "", "solo", &rec, 64)
	if b.srv.Addr() != nil {
		t.Fatalf("embedded NATS listens on %v", b.srv.Addr())
	}
	if err := b.Watch("acme", "u1"); err != nil {
		t.Fatal(err)
	}
	_ = b.Flush(context.Background())
	_ = b.PublishPresence("acme", "u1", 1, []byte(`{}`))
	waitCount(t, rec.count(func() int { return len(rec.presence) }), 1)
}

// An external NATS with user/password (in the URL or the settings) or an
// nkey.
func TestExternalCredentials(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Run("user and password", func(t *testing.T) {
		n := startServer(t, server.Options{Username: "pgw", Password: "s3cret"})
		// Without credentials the node starts (NATS may come later) but
		// never connects.
		if b, err := Open(context.Background(), Config{Prefix: "pgw", URL: n.ClientURL(), Node: "n1", Secret: []byte(testClusterSecret), Logger: log}, Handlers{}); err == nil {
			if b.Connected() {
				t.Fatal("connected without credentials")
			}
			b.Close()
		}
		url := strings.Replace(n.ClientURL(), "nats://", "nats://pgw:s3cret@", 1)
		b, err := Open(context.Background(), Config{Prefix: "pgw", URL: url, Node: "n1", Secret: []byte(testClusterSecret), Logger: log}, Handlers{})
		if err != nil {
			t.Fatal(err)
		}
		b.Close()
		b, err = Open(context.Background(), Config{Prefix: "pgw", URL: n.ClientURL(), User: "pgw", Password: "s3cret", Node: "n1", Secret: []byte(testClusterSecret), Logger: log}, Handlers{})
		if err != nil {
			t.Fatal(err)
		}
		b.Close()
	})
	t.Run("nkey", func(t *testing.T) {
		kp, _ := nkeys.CreateUser()
		pub, _ := kp.PublicKey()
		seed, _ := kp.Seed()
		file := filepath.Join(t.TempDir(), "pgw.nk")
		if err := os.WriteFile(file, seed, 0o600); err != nil {
			t.Fatal(err)
		}
		n := startServer(t, server.Options{Nkeys: []*server.NkeyUser{{Nkey: pub}}})
		b, err := Open(context.Background(), Config{Prefix: "pgw", URL: n.ClientURL(), NKeyFile: file, Node: "n1", Secret: []byte(testClusterSecret), Logger: log}, Handlers{})
		if err != nil {
			t.Fatal(err)
		}
		b.Close()
	})
	t.Run("an external NATS needs a secret", func(t *testing.T) {
		n := startServer(t, server.Options{})
		if _, err := Open(context.Background(), Config{Prefix: "pgw", URL: n.ClientURL(), Node: "n1", Logger: log}, Handlers{}); err == nil {
			t.Fatal("opened an external bus without a cluster secret")
		}
	})
}

// startServer starts a NATS server on a free port with opts.
func startServer(t *testing.T, opts server.Options) *server.Server {
	t.Helper()
	opts.Host, opts.Port, opts.NoLog, opts.NoSigs = "127.0.0.1", -1, true, true
	srv, err := server.NewServer(&opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv
}
