// Command membench measures the memory per idle connection of a gateway
// node against a bare gorilla server (see internal/membench and
// scripts/membench.sh).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/pgw/pgw/internal/membench"
)

func main() {
	var cfg membench.Config
	flag.StringVar(&cfg.Gateway, "gateway", "", "built ./cmd/gateway binary (required)")
	flag.StringVar(&cfg.Bare, "bare", "", "built ./internal/membench/bare binary (empty: skip)")
	flag.StringVar(&cfg.RedisServer, "redis-server", "", "redis-server binary for a run on a private Redis (empty: skip)")
	flag.IntVar(&cfg.Clients.Conns, "conns", 10000, "idle connections per server")
	flag.IntVar(&cfg.Clients.Windows, "windows", 2, "connections per session (main + child windows)")
	flag.IntVar(&cfg.Clients.Subscribe, "subscribe", 10, "users each connection subscribes to")
	flag.IntVar(&cfg.Clients.Parallel, "parallel", 32, "connections being opened at once")
	flag.IntVar(&cfg.Clients.Sources, "sources", 4, "127.0.0.x source addresses (0: kernel's choice)")
	flag.BoolVar(&cfg.GoroutineReader, "goroutine-reader", true, "also measure the gateway with PGW_READER=goroutine (one reader goroutine per connection)")
	flag.BoolVar(&cfg.RedisOnly, "redis-only", false, "measure only the gateway on a private Redis (needs --redis-server; --bare still adds the bare server): for interleaved before/after runs of two gateway binaries")
	flag.DurationVar(&cfg.Settle, "settle", 3*time.Minute, "deadline of each wait for 2 GC cycles")
	serverEnv := flag.String("server-env", "", "comma-separated NAME=value added to every server's environment (e.g. GOGC=50)")
	serverLog := flag.String("server-log", "", "file for the servers' output (empty: discarded)")
	flag.Parse()
	if cfg.Gateway == "" {
		fmt.Fprintln(os.Stderr, "membench: --gateway is required")
		os.Exit(2)
	}
	if cfg.RedisOnly && cfg.RedisServer == "" {
		fmt.Fprintln(os.Stderr, "membench: --redis-only needs --redis-server")
		os.Exit(2)
	}
	if *serverEnv != "" {
		cfg.ServerEnv = strings.Split(*serverEnv, ",")
	}
	cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *serverLog != "" {
		f, err := os.Create(*serverLog)
		if err != nil {
			fmt.Fprintln(os.Stderr, "membench:", err)
			os.Exit(1)
		}
		defer f.Close()
		cfg.ServerLog = f
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rs, err := membench.Run(ctx, cfg)
	membench.WriteTable(os.Stdout, rs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "membench:", err)
		os.Exit(1)
	}
}
