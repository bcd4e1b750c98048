package login

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// hmgetCalls is the number of HMGETs the Redis has served (INFO
// commandstats), to count what a check round sends.
func hmgetCalls(t testing.TB, rdb redis.UniversalClient) int64 {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_hmget:calls="); ok {
			n, _ := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
			return n
		}
	}
	return 0
}

// trackMany stores logins sessions and tracks conns connections spread
// evenly over them.
func trackMany(t testing.TB, v *Verifier, rdb redis.UniversalClient, conns, logins int) *Tracker {
	t.Helper()
	ctx := context.Background()
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	p := rdb.Pipeline()
	for i := range logins {
		p.HSet(ctx, v.key(fmt.Sprintf("s%05d", i)), "sessionAttr:pgw.user", fmt.Sprintf(`"u%d"`, i),
			"sessionAttr:pgw.tenant", `"acme"`, "lastAccessedTime", now, "maxInactiveInterval", "1800")
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	tr := NewTracker(v)
	ls := make([]Login, logins)
	for i := range logins {
		l, err := v.Verify(ctx, fmt.Sprintf("s%05d", i))
		if err != nil {
			t.Fatal(err)
		}
		ls[i] = l
	}
	for i := range conns {
		tr.Add(ls[i%logins], &revoker{})
	}
	return tr
}

// TestTrackerCostFollowsSessions: a check round sends one HMGET per
// distinct session, however many connections share it.
func TestTrackerCostFollowsSessions(t *testing.T) {
	v, rdb := newVerifier(t, time.Now())
	tr := trackMany(t, v, rdb, 40, 4)
	before := hmgetCalls(t, rdb)
	r, err := tr.Check(context.Background())
	if err != nil || r != (Round{Sessions: 4}) {
		t.Fatalf("round %+v, %v", r, err)
	}
	if n := hmgetCalls(t, rdb) - before; n != 4 {
		t.Fatalf("a round over 40 connections of 4 sessions sent %d HMGETs, want 4", n)
	}
}

// BenchmarkTrackerCheck is one revocation round on a node holding conns
// connections over logins distinct login sessions, against a real
// redis-server: process CPU per round (user + system, this process only:
// the gateway's side) and Redis commands per round.
func BenchmarkTrackerCheck(b *testing.B) {
	for _, sz := range []struct{ conns, logins int }{{10000, 5000}, {10000, 1000}, {1000, 1000}} {
		b.Run(fmt.Sprintf("conns=%d/logins=%d", sz.conns, sz.logins), func(b *testing.B) {
			v, rdb := newVerifier(b, time.Now())
			tr := trackMany(b, v, rdb, sz.conns, sz.logins)
			ctx := context.Background()
			calls := hmgetCalls(b, rdb)
			cpu := processCPU()
			b.ResetTimer()
			for b.Loop() {
				if r, err := tr.Check(ctx); err != nil || r.Revoked != 0 {
					b.Fatalf("round %+v, %v", r, err)
				}
			}
			b.StopTimer()
			rounds := float64(b.N)
			b.ReportMetric(float64(processCPU()-cpu)/float64(time.Microsecond)/rounds, "cpu-µs/round")
			b.ReportMetric(float64(hmgetCalls(b, rdb)-calls)/rounds, "HMGET/round")
			b.ReportMetric(float64((sz.logins+CheckBatch-1)/CheckBatch), "round-trips/round")
		})
	}
}

// processCPU is this process's user + system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
