package bus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pgw/pgw/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/nats-io/nats.go.(*timerPool).Get"))
}

func TestSubjects(t *testing.T) {
	s := Subjects{"pgw"}
	cases := []struct{ subject, kind, tenant, user string }{
		{s.Presence("acme", "u1"), "presence", "acme", "u1"},
		{s.Call("acme", "u-2"), "call", "acme", "u-2"},
		{s.Node("n1"), "node", "", ""},
		{"other.presence.acme.u1", "", "", ""},
		{"pgw.presence.acme", "", "", ""},
	}
	for _, tc := range cases {
		k, tn, u := s.parse(tc.subject)
		if k != tc.kind || tn != tc.tenant || u != tc.user {
			t.Errorf("%s: %s %s %s", tc.subject, k, tn, u)
		}
	}
	if s.PresenceTenant("acme") != "pgw.presence.acme.*" || s.CallTenant("acme") != "pgw.call.acme.*" {
		t.Error("wildcards")
	}
}

const testClusterSecret = "cluster-secret-0123456789abcdef"

// recorder collects what a bus delivers.
type recorder struct {
	mu       sync.Mutex
	presence []string
	calls    []string
	control  []string
	resyncs  int
}

func (r *recorder) handlers() Handlers {
	return Handlers{
		Presence: func(tenant, user string, v int64, data []byte) {
			r.mu.Lock()
			r.presence = append(r.presence, fmt.Sprintf("%s/%s@%d:%s", tenant, user, v, data))
			r.mu.Unlock()
		},
		Call: func(tenant, user string, data []byte) {
			r.mu.Lock()
			r.calls = append(r.calls, tenant+"/"+user+":"+string(data))
			r.mu.Unlock()
		},
		Control: func(data []byte) {
			r.mu.Lock()
			r.control = append(r.control, string(data))
			r.mu.Unlock()
		},
		Resync: func() {
			r.mu.Lock()
			r.resyncs++
			r.mu.Unlock()
		},
	}
}

func (r *recorder) count(f func() int) func() int {
	return func() int { r.mu.Lock(); defer r.mu.Unlock(); return f() }
}

func waitCount(t *testing.T, f func() int, want int) {
	t.Helper()
	testenv.WaitFor(t, 5*time.Second, func() error {
		if got := f(); got != want {
			return fmt.Errorf("%d, want %d", got, want)
		}
		return nil
	})
}

func open(t *testing.T, url, node string, r *recorder, wildcardAt int) *Bus {
	t.Helper()
	b, err := Open(context.Background(), Config{URL: url, Prefix: "pgw", Node: node, TenantWildcardAt: wildcardAt,
		Secret: []byte(testClusterSecret), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, r.handlers())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// TestInterestIsPerNodeAndIdempotent: Watch and Unwatch mark a user watched
// or not (the gateway's hub counts its local watchers): a second Watch takes
// no second subscription, one Unwatch ends it.
func TestInterestIsPerNodeAndIdempotent(t *testing.T) {
	n := testenv.NATS(t)
	var rec recorder
	sub := open(t, n.URL, "n1", &rec, 64)
	pub := open(t, n.URL, "n2", &recorder{}, 64)
	ctx := context.Background()
	presence := rec.count(func() int { return len(rec.presence) })

	for range 2 {
		if err := sub.Watch("acme", "u1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := sub.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sub.nc.NumSubscriptions(); got != 2 { // control + u1
		t.Fatalf("subscriptions %d, want 2", got)
	}
	_ = pub.PublishPresence("acme", "u1", 7, []byte(`{"v":7}`))
	waitCount(t, presence, 1)
	if rec.presence[0] != `acme/u1@7:{"v":7}` {
		t.Fatalf("delivered %q", rec.presence[0])
	}
	sub.Unwatch("acme", "u1")
	_ = sub.Flush(ctx)
	if got := sub.nc.NumSubscriptions(); got != 1 {
		t.Fatalf("subscriptions after unwatch %d, want 1", got)
	}
	// Unwatching what is not watched changes nothing.
	sub.Unwatch("acme", "u1")
	sub.Unwatch("acme", "nobody")
	if len(sub.Watched()) != 0 {
		t.Fatalf("watched %v", sub.Watched())
	}
}

func TestManyUsersOfATenantShareOneWildcard(t *testing.T) {
	n := testenv.NATS(t)
	var rec recorder
	sub := open(t, n.URL, "n1", &rec, 3)
	pub := open(t, n.URL, "n2", &recorder{}, 3)
	for _, u := range []string{"a", "b", "c", "d"} {
		if err := sub.Watch("acme", u); err != nil {
			t.Fatal(err)
		}
	}
	_ = sub.Flush(context.Background())
	if got := sub.nc.NumSubscriptions(); got != 2 { // control + acme wildcard
		t.Fatalf("subscriptions %d, want 2 (one wildcard)", got)
	}
	for i, u := range []string{"a", "d"} {
		_ = pub.PublishPresence("acme", u, int64(i+1), []byte(`{}`))
	}
	waitCount(t, rec.count(func() int { return len(rec.presence) }), 2)
	for _, u := range []string{"a", "b", "c", "d"} {
		sub.Unwatch("acme", u)
	}
	_ = sub.Flush(context.Background())
	if got := sub.nc.NumSubscriptions(); got != 1 || len(sub.Watched()) != 0 {
		t.Fatalf("after the last unwatch: %d subscriptions, watched %v; want only control", got, sub.Watched())
	}
}

func TestCallsAndControl(t *testing.T) {
	n := testenv.NATS(t)
	var rec recorder
	sub := open(t, n.URL, "n1", &rec, 64)
	pub := open(t, n.URL, "n2", &recorder{}, 64)
	if err := sub.WatchCalls("acme"); err != nil {
		t.Fatal(err)
	}
	_ = sub.Flush(context.Background())
	_ = pub.PublishCall("acme", "alice", []byte(`{"type":"call"}`))
	_ = pub.PublishCall("zeta", "bob", []byte(`{"type":"call"}`)) // another tenant: not watched
	_ = pub.PublishControl("n1", []byte(`{"op":"close"}`))
	_ = pub.PublishControl("n3", []byte(`{"op":"close"}`)) // another node
	waitCount(t, rec.count(func() int { return len(rec.calls) + len(rec.control) }), 2)
	if rec.calls[0] != `acme/alice:{"type":"call"}` || rec.control[0] != `{"op":"close"}` {
		t.Fatalf("calls %v control %v", rec.calls, rec.control)
	}
}

// TestResyncAfterNATSRestart: after the server restarts, the bus reconnects,
// its subscriptions work again, and the owner is told to resync.
func TestResyncAfterNATSRestart(t *testing.T) {
	n := testenv.NATS(t)
	var rec recorder
	sub := open(t, n.URL, "n1", &rec, 64)
	pub := open(t, n.URL, "n2", &recorder{}, 64)
	if err := sub.Watch("acme", "u1"); err != nil {
		t.Fatal(err)
	}
	n.Restart()
	waitCount(t, rec.count(func() int { return min(rec.resyncs, 1) }), 1)
	testenv.WaitFor(t, 5*time.Second, func() error {
		if !pub.Connected() {
			return errors.New("publisher not reconnected")
		}
		return nil
	})
	_ = pub.PublishPresence("acme", "u1", 9, []byte(`{}`))
	waitCount(t, rec.count(func() int { return len(rec.presence) }), 1)
}

func TestEmbeddedServerWhenNoURL(t *testing.T) {
	var rec recorder
	b := open(t, "", "solo", &rec, 64)
	if !b.Connected() || b.ClientURL() != "" {
		t.Fatal("embedded server not connected")
	}
	if err := b.Watch("acme", "u1"); err != nil {
		t.Fatal(err)
	}
	_ = b.Flush(context.Background())
	_ = b.PublishPresence("acme", "u1", 1, []byte(`{}`))
	waitCount(t, rec.count(func() int { return len(rec.presence) }), 1)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Watch("acme", "u2"); !errors.Is(err, ErrClosed) {
		t.Fatalf("watch after close: %v", err)
	}
}
