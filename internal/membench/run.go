package membench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// Config is one measurement run.
type Config struct {
	// Gateway is the built ./cmd/gateway binary.
	Gateway string
	// Bare is the built ./internal/membench/bare binary ("" skips it).
	Bare string
	// RedisServer is a redis-server binary for the run with --redis-url ("":
	// only the in-process store).
	RedisServer string
	// Clients shapes the connections (URL, Bare, Secret and Tenant are set
	// per server).
	Clients ClientConfig
	// ServerEnv is added to every server's environment (GOGC=50, …), the
	// bare one's too, so the comparison stays fair.
	ServerEnv []string
	// GoroutineReader adds a run of the gateway (in-process store) with
	// PGW_READER=goroutine, the reading of before issue 13: the same-run
	// baseline of epoll reading.
	GoroutineReader bool
	// RedisOnly measures the gateway on a private Redis alone (no
	// in-process store run, no PGW_READER=goroutine run): interleaved
	// before/after runs of two gateway binaries (docs/benchmarks.md).
	RedisOnly bool
	// Settle bounds each wait for the server's GC cycles. Default 3m.
	Settle time.Duration
	// Log receives progress; ServerLog the servers' own output.
	Log       *slog.Logger
	ServerLog io.Writer
}

// Result is one server's measurement.
type Result struct {
	Name   string
	Conns  int
	Before Sample // settled, no connections
	After  Sample // settled, Conns idle connections
	Open   time.Duration
	Pushes int64 // frames the clients got after setup (presence of others connecting)
	// ServerCPU and RedisCPU are the CPU time (user + system) the server
	// process and its private redis-server (0 without one) used while the
	// connections were being opened: connect cost, measured outside the
	// client's process.
	ServerCPU, RedisCPU time.Duration
}

// CPUPerConn is the server's CPU per connection opened.
func (r Result) CPUPerConn() time.Duration { return r.ServerCPU / time.Duration(max(r.Conns, 1)) }

// RedisCPUPerConn is the private redis-server's CPU per connection opened.
func (r Result) RedisCPUPerConn() time.Duration { return r.RedisCPU / time.Duration(max(r.Conns, 1)) }

// HeapStackPerConn is (heap in use + stacks in use) growth per connection.
func (r Result) HeapStackPerConn() float64 {
	return (r.After.HeapInuse + r.After.StackInuse - r.Before.HeapInuse - r.Before.StackInuse) / float64(r.Conns)
}

// RSSPerConn is VmRSS growth per connection.
func (r Result) RSSPerConn() float64 { return (r.After.VmRSS - r.Before.VmRSS) / float64(r.Conns) }

// target is one server to measure.
type target struct {
	name  string
	bin   string
	ws    string // WebSocket path
	bare  bool
	redis bool
	env   []string // added to the server's environment
}

// Run measures, one after the other, the gateway with its in-process store,
// the gateway on a private Redis (when RedisServer is set) and the bare
// gorilla server (when Bare is set).
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	if cfg.Settle <= 0 {
		cfg.Settle = 3 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.ServerLog == nil {
		cfg.ServerLog = io.Discard
	}
	var targets []target
	if !cfg.RedisOnly {
		targets = append(targets, target{name: "pgw (in-process store, embedded NATS)", bin: cfg.Gateway, ws: "/v1/ws"})
	}
	if cfg.GoroutineReader && !cfg.RedisOnly {
		targets = append(targets, target{name: "pgw (in-process store, PGW_READER=goroutine)", bin: cfg.Gateway, ws: "/v1/ws",
			env: []string{"PGW_READER=goroutine"}})
	}
	if cfg.RedisServer != "" {
		targets = append(targets, target{name: "pgw (private Redis, embedded NATS)", bin: cfg.Gateway, ws: "/v1/ws", redis: true})
	}
	if cfg.Bare != "" {
		targets = append(targets, target{name: "bare gorilla echo", bin: cfg.Bare, ws: "/ws", bare: true})
	}
	var out []Result
	for _, t := range targets {
		r, err := measure(ctx, cfg, t)
		if err != nil {
			return out, fmt.Errorf("%s: %w", t.name, err)
		}
		cfg.Log.Info("measured", "server", r.Name, "conns", r.Conns,
			"heap+stack/conn", r.HeapStackPerConn(), "rss/conn", r.RSSPerConn())
		out = append(out, r)
	}
	return out, nil
}

// measure starts one server, samples it settled without connections, opens
// the connections, samples it settled again, then stops everything.
func measure(ctx context.Context, cfg Config, t target) (Result, error) {
	res := Result{Name: t.name, Conns: cfg.Clients.Conns}
	addr, err := freeAddr()
	if err != nil {
		return res, err
	}
	secret := randomHex(32)
	args := []string{"--addr", addr}
	if !t.bare {
		args = append(args, "--jwt-secret", secret, "--log-level", "warn")
	}
	redisPID := 0
	if t.redis {
		rp, url, err := startRedis(ctx, cfg.RedisServer, cfg.ServerLog)
		if err != nil {
			return res, err
		}
		defer rp.stop(5 * time.Second)
		args = append(args, "--redis-url", url)
		redisPID = rp.pid()
	}
	p, err := startProcess(t.name, t.bin, args, append(append([]string(nil), cfg.ServerEnv...), t.env...), cfg.ServerLog)
	if err != nil {
		return res, err
	}
	defer p.stop(30 * time.Second)
	base := "http://" + addr
	if err := p.waitHTTP(ctx, base+"/metrics", 30*time.Second); err != nil {
		return res, err
	}
	s := &sampler{metricsURL: base + "/metrics", pid: p.pid(), http: &http.Client{Timeout: 10 * time.Second}}
	cfg.Log.Info("server up, settling", "server", t.name, "addr", addr, "pid", p.pid())
	if res.Before, err = s.settle(ctx, 2, cfg.Settle); err != nil {
		return res, fmt.Errorf("baseline: %w", err)
	}
	cc := cfg.Clients
	cc.URL, cc.Bare, cc.Secret, cc.Tenant = "ws://"+addr+t.ws, t.bare, []byte(secret), "membench"
	cpu0, rcpu0 := procCPU(p.pid()), procCPU(redisPID)
	start := time.Now()
	cs, err := Open(ctx, cc)
	if err != nil {
		return res, fmt.Errorf("open clients: %w", err)
	}
	defer cs.Close()
	res.Open = time.Since(start)
	res.ServerCPU, res.RedisCPU = procCPU(p.pid())-cpu0, procCPU(redisPID)-rcpu0
	cfg.Log.Info("connections open, settling", "server", t.name, "conns", cs.Len(), "in", res.Open.Round(time.Millisecond))
	if res.After, err = s.settle(ctx, 2, cfg.Settle); err != nil {
		return res, fmt.Errorf("with connections: %w", err)
	}
	res.Pushes = cs.Pushes()
	return res, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
