package tenant

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pgw/pgw/internal/testenv"
)

func stores(t *testing.T) map[string]Store {
	srv := testenv.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	return map[string]Store{"memory": NewMemory(), "redis": NewRedis(rdb, "pgwtest")}
}

func mustParse(t *testing.T, js string) Policy {
	t.Helper()
	p, errs, err := ParseJSON([]byte(js))
	if err != nil || len(errs) > 0 {
		t.Fatalf("%s: %v %v", js, err, errs)
	}
	return p
}

func TestStoreVersionsAndHistory(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			r, err := st.Get(ctx, "acme")
			if err != nil || r.Version != 0 || !r.Policy.Empty() || r.ETag() != `"0"` {
				t.Fatalf("empty tenant: %+v %v", r, err)
			}
			now := time.Now()
			r1, err := st.Put(ctx, "acme", 0, mustParse(t, `{"grace":"20s"}`), "ops1", now)
			if err != nil || r1.Version <= 0 {
				t.Fatalf("first put: %+v %v", r1, err)
			}
			// A stale version is refused and the current record returned.
			cur, err := st.Put(ctx, "acme", 0, mustParse(t, `{"grace":"40s"}`), "ops2", now)
			if !errors.Is(err, ErrStale) || cur.Version != r1.Version {
				t.Fatalf("stale put: %+v %v", cur, err)
			}
			r2, err := st.Put(ctx, "acme", r1.Version, mustParse(t, `{"grace":"40s","disabled":true}`), "ops2", now)
			if err != nil || r2.Version <= r1.Version {
				t.Fatalf("second put: %+v %v", r2, err)
			}
			got, _ := st.Get(ctx, "acme")
			if got.Version != r2.Version || !got.Policy.Disabled || time.Duration(*got.Policy.Grace) != 40*time.Second {
				t.Fatalf("get after put: %+v", got)
			}
			h, err := st.History(ctx, "acme", 0)
			if err != nil || len(h) != 2 {
				t.Fatalf("history: %+v %v", h, err)
			}
			if h[0].Who != "ops2" || h[0].Version != r2.Version || len(h[0].Fields) != 2 ||
				h[0].Fields[0].Field != "disabled" || string(h[0].Fields[1].From) != `"20s"` || string(h[0].Fields[1].To) != `"40s"` {
				t.Fatalf("newest change: %+v", h[0])
			}
			if h[1].Who != "ops1" || len(h[1].Fields) != 1 || h[1].Fields[0].From != nil {
				t.Fatalf("first change: %+v", h[1])
			}
			ts, _ := st.Tenants(ctx)
			if len(ts) != 1 || ts[0] != "acme" {
				t.Fatalf("tenants %v", ts)
			}
		})
	}
}

// Two writers with the same ETag: exactly one wins, and the history names
// the winner only.
func TestStoreConcurrentPuts(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			for round := 0; round < 20; round++ {
				base, _ := st.Get(ctx, "acme")
				var wg sync.WaitGroup
				errs := make([]error, 2)
				for i := range errs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						p := mustParse(t, fmt.Sprintf(`{"specifics":{"summary":"round %d by w%d"}}`, round, i))
						_, errs[i] = st.Put(ctx, "acme", base.Version, p, fmt.Sprintf("w%d", i), time.Now())
					}()
				}
				wg.Wait()
				won := -1
				for i, err := range errs {
					switch {
					case err == nil && won < 0:
						won = i
					case err == nil:
						t.Fatalf("round %d: both writers won", round)
					case !errors.Is(err, ErrStale):
						t.Fatalf("round %d: %v", round, err)
					}
				}
				if won < 0 {
					t.Fatalf("round %d: nobody won: %v", round, errs)
				}
				h, _ := st.History(ctx, "acme", 1)
				cur, _ := st.Get(ctx, "acme")
				want := fmt.Sprintf("round %d by w%d", round, won)
				if h[0].Who != fmt.Sprintf("w%d", won) || cur.Policy.Specifics.Summary != want || h[0].Version != cur.Version {
					t.Fatalf("round %d: history %+v, policy %+v, want winner w%d", round, h[0], cur, won)
				}
			}
		})
	}
}

func TestHistoryKeepsTheLastThousand(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			var v int64
			for i := 0; i < HistoryKeep+5; i++ {
				r, err := st.Put(ctx, "acme", v, mustParse(t, fmt.Sprintf(`{"specifics":{"summary":"%d"}}`, i)), "ops", time.Now())
				if err != nil {
					t.Fatal(err)
				}
				v = r.Version
			}
			h, _ := st.History(ctx, "acme", 0)
			if len(h) != HistoryKeep || h[0].Version != v || string(h[HistoryKeep-1].Fields[0].To) != `"5"` {
				t.Fatalf("history has %d entries, newest %d", len(h), h[0].Version)
			}
		})
	}
}

func TestCacheOnlyMovesForward(t *testing.T) {
	c := NewCache()
	if !c.Offer(Record{Tenant: "a", Version: 5, Policy: Policy{Disabled: true}}) {
		t.Fatal("first record refused")
	}
	if c.Offer(Record{Tenant: "a", Version: 4}) || c.Offer(Record{Tenant: "a", Version: 5}) {
		t.Fatal("older or same version taken")
	}
	if !c.Policy("a").Disabled || c.Policy("b") != nil {
		t.Fatal("cache lost its record")
	}
	if !c.Offer(Record{Tenant: "a", Version: 6, Policy: Policy{Origins: []string{"https://x"}}}) || c.Policy("a").Disabled {
		t.Fatal("newer record refused")
	}
	if o := c.Origins(); len(o) != 1 || o[0] != "https://x" {
		t.Fatalf("origins %v", o)
	}
}
