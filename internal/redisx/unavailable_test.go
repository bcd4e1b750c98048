package redisx_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pgw/pgw/internal/redisx"
	"github.com/pgw/pgw/internal/testenv"
)

// TestUnavailable classifies errors a real Redis gives: replies a retry
// would not change are not "unavailable"; Redis gone, closed, slow or saying
// it cannot serve now is.
func TestUnavailable(t *testing.T) {
	srv := testenv.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rdb.Set(ctx, "str", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// A script can return any error reply: the way to get the replies Redis
	// gives while loading, failing over or resharding from a real server.
	reply := func(msg string) error {
		return rdb.Eval(ctx, fmt.Sprintf("return redis.error_reply(%q)", msg), nil).Err()
	}
	cancelled, stop := context.WithCancel(ctx)
	stop()
	expired, stop2 := context.WithTimeout(ctx, time.Nanosecond)
	defer stop2()
	<-expired.Done()

	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"redis.Nil", rdb.Get(ctx, "missing").Err(), false},
		{"WRONGTYPE", rdb.HGet(ctx, "str", "f").Err(), false},
		{"script runtime error", rdb.Eval(ctx, "return redis.call('HGET', KEYS[1], 'f')", []string{"str"}).Err(), false},
		{"script syntax error", rdb.Eval(ctx, "this is not lua", nil).Err(), false},
		{"NOSCRIPT", rdb.EvalSha(ctx, "0123456789012345678901234567890123456789", nil).Err(), false},
		{"unknown command", rdb.Do(ctx, "NOSUCHCOMMAND").Err(), false},
		{"caller cancelled", rdb.Get(cancelled, "str").Err(), false},
		{"deadline", rdb.Get(expired, "str").Err(), true},
		{"LOADING", reply("LOADING Redis is loading the dataset in memory"), true},
		{"READONLY", reply("READONLY You can't write against a read only replica."), true},
		{"CLUSTERDOWN", reply("CLUSTERDOWN The cluster is down"), true},
		{"TRYAGAIN", reply("TRYAGAIN Multiple keys request during rehashing of slot"), true},
		{"MASTERDOWN", reply("MASTERDOWN Link with MASTER is down"), true},
		{"BUSY", reply("BUSY Redis is busy running a script."), true},
		{"BUSYGROUP is no outage", reply("BUSYGROUP Consumer Group name already exists"), false},
		{"wrapped", fmt.Errorf("op: %w", reply("LOADING x")), true},
	}
	for _, c := range cases {
		if got := redisx.Unavailable(c.err); got != c.want {
			t.Errorf("%s: Unavailable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}

	// Redis gone: connection refused (a net error) on a fresh client, and a
	// closed client.
	closed := redis.NewClient(&redis.Options{Addr: srv.Addr})
	_ = closed.Close()
	if err := closed.Ping(ctx).Err(); !redisx.Unavailable(err) {
		t.Errorf("closed client: Unavailable(%v) = false", err)
	}
	srv.Kill()
	if err := rdb.Ping(ctx).Err(); !redisx.Unavailable(err) {
		t.Errorf("server down: Unavailable(%v) = false", err)
	}
}
