package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The admin listener (PGW_ADMIN_ADDR) serves what an operator, not a
// client, reads: /metrics and the runtime profiles of net/http/pprof, as
// nats-server's monitoring port and Centrifugo's admin port do. With it set
// the public listener serves neither (404 problem), so a profile (which can
// stall the node for its duration) or the metrics' label values are never
// reachable from the public network. Without it /metrics stays public, as
// contract §7 lists it, and pprof is served nowhere.

// metricsHandler is the one /metrics handler, on whichever listener has it.
func (n *Node) metricsHandler() http.Handler {
	return promhttp.HandlerFor(n.metrics.reg, promhttp.HandlerOpts{})
}

// AdminHandler returns the admin listener's handler: GET /metrics and
// /debug/pprof/ (index, cmdline, profile, symbol, trace and the named
// profiles). Unknown paths and methods get the same problems as the public
// listener.
func (n *Node) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", n.metricsHandler())
	mux.HandleFunc("GET /debug/pprof/", pprof.Index) // also heap, goroutine, allocs, block, mutex, threadcreate
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return n.withProblems(mux)
}

// AdminAddr is the admin listener's bound address once Serve has bound it
// (useful with port 0); empty when PGW_ADMIN_ADDR is not set.
func (n *Node) AdminAddr() string {
	if a := n.adminAddr.Load(); a != nil {
		return *a
	}
	return ""
}

// startAdmin binds PGW_ADMIN_ADDR and serves AdminHandler on it; stop ends
// it (at most 5s for requests in flight, then closes them: a 30 s CPU
// profile must not hold a shutdown). With no admin address it does nothing.
func (n *Node) startAdmin() (stop func(), err error) {
	if n.cfg.AdminAddr == "" {
		return func() {}, nil
	}
	l, err := net.Listen("tcp", n.cfg.AdminAddr)
	if err != nil {
		return nil, fmt.Errorf("PGW_ADMIN_ADDR %s: %w", n.cfg.AdminAddr, err)
	}
	addr := l.Addr().String()
	n.adminAddr.Store(&addr)
	srv := &http.Server{
		Handler:           n.AdminHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    maxHeaderBytes,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("admin listener failed", "addr", addr, "err", err)
		}
	}()
	n.log.Info("admin listener", "addr", addr, "serves", "/metrics /debug/pprof/")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if srv.Shutdown(ctx) != nil {
			_ = srv.Close()
		}
		cancel()
		<-done
	}, nil
}
