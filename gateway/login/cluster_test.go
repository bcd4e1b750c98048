package login

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pgw/pgw/internal/testenv"
	"github.com/pgw/pgw/presence"
)

// TestTrackerOnRedisCluster: sessions spread over the slots of a real
// three-master Redis Cluster are read with one HMGET each, the check
// round's pipeline reaches every master, and a deleted session on any of
// them is revoked.
func TestTrackerOnRedisCluster(t *testing.T) {
	addrs := testenv.RedisCluster(t)
	rdb, err := presence.NewRedisClient(strings.Join(addrs, ","))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	v, err := New(Config{Key: testKey, CookieBase64: true}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const n = 30 // enough ids to land on every master
	tr := NewTracker(v)
	conns := make([]*revoker, n)
	for i := range n {
		id := fmt.Sprintf("cluster-%d", i)
		if err := rdb.HSet(ctx, v.key(id), "sessionAttr:pgw.user", `"u`+fmt.Sprint(i)+`"`, "sessionAttr:pgw.tenant", `"acme"`,
			"lastAccessedTime", time.Now().UnixMilli(), "maxInactiveInterval", 1800).Err(); err != nil {
			t.Fatal(err)
		}
		l, err := v.Verify(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		conns[i] = &revoker{}
		tr.Add(l, conns[i])
	}
	if r, err := tr.Check(ctx); err != nil || r != (Round{Sessions: n}) {
		t.Fatalf("first round: %+v, %v", r, err)
	}
	for i := 0; i < n; i += 3 {
		rdb.Del(ctx, v.key(fmt.Sprintf("cluster-%d", i)))
	}
	r, err := tr.Check(ctx)
	if err != nil || r != (Round{Sessions: n, Revoked: n / 3, Closed: n / 3}) {
		t.Fatalf("second round: %+v, %v", r, err)
	}
	for i, c := range conns {
		if want := map[bool]int{true: 1, false: 0}[i%3 == 0]; c.count() != want {
			t.Errorf("connection of cluster-%d revoked %d times, want %d", i, c.count(), want)
		}
	}
}
