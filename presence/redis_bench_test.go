package presence_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pgw/pgw/internal/testenv"
	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/presence/storetest"
	"github.com/redis/go-redis/v9"
)

// benchUsers is how many users the benchmarks spread their connections over.
const benchUsers = 1000

// benchModes are the two paths a connection takes: "reconnect" keeps the
// default grace, so after the first round each connect continues the
// session in grace and nothing changes (a window reopening); "online-offline"
// has no grace, so every connect makes its user online and every disconnect
// offline (the full path: binding, index, session release).
func benchModes() []struct {
	name  string
	grace time.Duration
} {
	return []struct {
		name  string
		grace time.Duration
	}{{"reconnect", 5 * time.Second}, {"online-offline", 0}}
}

// benchStore starts a private redis-server and a store on it. The returned
// function reports the CPU time per transition of the server (INFO cpu) and
// of this process (getrusage): on a shared machine the wall-clock rate
// depends on the other load, CPU time much less, and 2 cores divided by
// the sum estimates the rate on an idle machine.
func benchStore(b *testing.B, grace time.Duration) (*presence.Redis, func(transitions int64)) {
	srv := testenv.Redis(b)
	opt := storetest.Options()
	opt.Grace = grace
	s := newRedisStore(b, srv.URL, opt)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	redisCPU := func() float64 {
		info, err := rdb.Info(ctx, "cpu").Result()
		if err != nil {
			b.Fatal(err)
		}
		var sec float64
		for _, line := range strings.Split(info, "\n") {
			line = strings.TrimSpace(line)
			for _, k := range []string{"used_cpu_sys:", "used_cpu_user:"} {
				if v, ok := strings.CutPrefix(line, k); ok {
					f, _ := strconv.ParseFloat(v, 64)
					sec += f
				}
			}
		}
		return sec * 1e6
	}
	selfCPU := func() float64 {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e3
	}
	r0, s0 := redisCPU(), selfCPU()
	return s, func(transitions int64) {
		if transitions == 0 {
			return
		}
		r, c := (redisCPU()-r0)/float64(transitions), (selfCPU()-s0)/float64(transitions)
		b.ReportMetric(r, "redis-cpu-µs/transition")
		b.ReportMetric(c, "client-cpu-µs/transition")
		b.ReportMetric(2e6/(r+c), "idle-2core-est-transitions/s")
	}
}

func benchConn(i int64) presence.ConnInfo {
	u := i % benchUsers
	return ci(fmt.Sprintf("u%d", u), fmt.Sprintf("s%d", u), fmt.Sprintf("c%d", i), "n1")
}

// reportTransitions reports connects plus disconnects per second.
func reportTransitions(b *testing.B, transitions int64, start time.Time) {
	b.ReportMetric(float64(transitions)/time.Since(start).Seconds(), "transitions/s")
}

// BenchmarkRedisConnectDisconnect: one caller, one Connect and one
// Disconnect per iteration (two transitions), each a round trip or more.
func BenchmarkRedisConnectDisconnect(b *testing.B) {
	for _, mode := range benchModes() {
		b.Run(mode.name, func(b *testing.B) {
			s, redisCPU := benchStore(b, mode.grace)
			ctx := context.Background()
			now := time.Now()
			start := time.Now()
			var i int64
			for b.Loop() {
				c := benchConn(i)
				i++
				if _, err := s.Connect(ctx, c, now); err != nil {
					b.Fatal(err)
				}
				if _, err := s.Disconnect(ctx, c.Ref(), now); err != nil {
					b.Fatal(err)
				}
			}
			reportTransitions(b, 2*i, start)
			redisCPU(2 * i)
		})
	}
}

// BenchmarkRedisConnectDisconnectParallel: many callers at once, as the
// connections of a busy node arrive (64 goroutines on 2 cores), which the
// store coalesces by group commit.
func BenchmarkRedisConnectDisconnectParallel(b *testing.B) {
	for _, mode := range benchModes() {
		b.Run(mode.name, func(b *testing.B) {
			s, redisCPU := benchStore(b, mode.grace)
			ctx := context.Background()
			now := time.Now()
			var next atomic.Int64
			b.SetParallelism(32)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					// Distinct users per goroutine at any moment: i is unique.
					c := benchConn(next.Add(1))
					if _, err := s.Connect(ctx, c, now); err != nil {
						b.Error(err)
						return
					}
					if _, err := s.Disconnect(ctx, c.Ref(), now); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportTransitions(b, 2*next.Load(), start)
			redisCPU(2 * next.Load())
		})
	}
}

// benchBatch is the batch size of BenchmarkRedisConnectDisconnectBatch.
const benchBatch = 100

// BenchmarkRedisConnectDisconnectBatch: ConnectBatch and DisconnectBatch of
// 100 connections per iteration (a node re-asserting its connections after
// a Redis restart), one caller.
func BenchmarkRedisConnectDisconnectBatch(b *testing.B) {
	for _, mode := range benchModes() {
		b.Run(mode.name, func(b *testing.B) {
			s, redisCPU := benchStore(b, mode.grace)
			ctx := context.Background()
			now := time.Now()
			conns := make([]presence.ConnInfo, benchBatch)
			refs := make([]presence.ConnRef, benchBatch)
			start := time.Now()
			var i, n int64
			for b.Loop() {
				for j := range conns {
					conns[j] = benchConn(i)
					refs[j] = conns[j].Ref()
					i++
				}
				_, errs := s.ConnectBatch(ctx, conns, now)
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
				_, errs = s.DisconnectBatch(ctx, refs, now)
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
				n += 2 * benchBatch
			}
			reportTransitions(b, n, start)
			redisCPU(n)
		})
	}
}
