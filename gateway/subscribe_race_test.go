package gateway

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pgw/pgw/internal/testenv"
	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/wire"
)

// pausingStore holds the first GetMany that asks for user `hold` after it
// has read, until released: the window between a subscribe's store read
// and the connection's registration in the hub.
type pausingStore struct {
	presence.Store
	hold    string
	once    sync.Once
	read    chan struct{}
	release chan struct{}
}

func (s *pausingStore) GetMany(ctx context.Context, tenant string, users []string) ([]wire.Presence, error) {
	ps, err := s.Store.GetMany(ctx, tenant, users)
	if slices.Contains(users, s.hold) {
		s.once.Do(func() {
			close(s.read)
			<-s.release
		})
	}
	return ps, err
}

// TestSubscribeChangeDuringSnapshot: a change of a user published while a
// subscribe of that user has read the store but not yet registered its
// connection (nobody else on the node watches the user) must still reach
// the subscriber. Found by the chaos checker (a subscriber stuck at the
// state of its subscribe reply).
func TestSubscribeChangeDuringSnapshot(t *testing.T) {
	st := &pausingStore{Store: presence.NewMemory(presence.Options{Grace: 300 * time.Millisecond, NodeTTL: 8 * time.Second, MaxConnsPerUser: 32, Prefix: "pgw"}), hold: "x",
		read: make(chan struct{}), release: make(chan struct{})}
	tn := startNodeDeps(t, nil, Deps{Store: st})
	// b watches y only; y's push to b proves the node has dispatched every
	// message published before it (one publisher connection: NATS keeps
	// the order).
	b, _ := connectUser(t, tn, "b", "acme", "sb", "main")
	if r := b.request(map[string]any{"type": "subscribe", "users": []string{"y"}}); r["type"] != "ok" {
		t.Fatalf("subscribe y: %v", r)
	}
	a, _ := connectUser(t, tn, "a", "acme", "sa", "main")
	a.send(map[string]any{"type": "subscribe", "id": "sub-x", "users": []string{"x"}})
	<-st.read
	// x comes online while a's subscribe is between its read and its
	// registration.
	connectUser(t, tn, "x", "acme", "sx", "main")
	connectUser(t, tn, "y", "acme", "sy", "main")
	b.waitFrame(0, 10*time.Second, func(f map[string]any) bool {
		return f["type"] == "presence" && f["user"] == "y" && f["status"] == "online"
	})
	close(st.release)
	testenv.WaitFor(t, 10*time.Second, func() error {
		var last map[string]any
		for _, f := range a.all() {
			if f["type"] == "ok" && f["id"] == "sub-x" {
				for _, p := range f["presence"].([]any) {
					last = p.(map[string]any)
				}
			}
			if f["type"] == "presence" && f["user"] == "x" {
				last = f
			}
		}
		if last == nil || last["status"] != "online" {
			return fmt.Errorf("a holds x as %v, want online", last)
		}
		return nil
	})
}
