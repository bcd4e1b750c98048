package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/pgw/pgw/problem"
)

// maxHeaderBytes caps a request's headers (431 header_too_large above).
const maxHeaderBytes = 64 << 10

// Run serves on cfg.Addr until ctx is done, then drains: /readyz turns 503,
// every connection gets bye shutdown and close 1001 spread over cfg.Drain,
// the node removes its keys and publishes the resulting presence.
func (n *Node) Run(ctx context.Context) error {
	l, err := n.listen()
	if err != nil {
		return err
	}
	return n.Serve(ctx, l)
}

// Serve is Run on a ready listener.
// With PGW_ADMIN_ADDR it also binds and serves the admin listener
// (admin.go), stopped after the drain.
func (n *Node) Serve(ctx context.Context, l net.Listener) error {
	stopAdmin, err := n.startAdmin()
	if err != nil {
		_ = l.Close()
		n.Shutdown(context.Background())
		return err
	}
	defer stopAdmin()
	srv := &http.Server{
		Handler: n.Handler(),
		// A request's headers and body must arrive within the request
		// timeout (slow-body clients are cut off); upgraded WebSockets
		// clear these deadlines and keep their own.
		ReadHeaderTimeout: min(10*time.Second, n.cfg.RequestTimeout),
		ReadTimeout:       n.cfg.RequestTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnState:         connState,
	}
	wl := newWSListener(n, newCapListener(l, n.cfg.MaxHTTPConnsPerIP), srv.ReadHeaderTimeout)
	defer wl.wait() // srv.Serve closed it
	l = wl
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	n.log.Info("serving", "addr", l.Addr().String(), "store", n.describeStore(), "bus", n.describeBus())
	select {
	case err := <-errc:
		n.Shutdown(context.Background())
		return err
	case <-ctx.Done():
	}
	n.log.Info("draining", "connections", n.hub.count(), "over", n.cfg.Drain)
	n.draining.Store(true)
	// Stop accepting (hijacked WebSockets are not touched by Shutdown).
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = srv.Shutdown(sctx)
	cancel()
	n.Shutdown(context.Background())
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown drains the node's connections (bye + 1001 spread over the drain
// window), waits a bounded time for them to go, removes the node's state
// from the store, publishes the resulting presence, and stops everything.
// When ctx ends first, the remaining connections are closed at once and
// the store clean-up gets what is left of ctx (at most 5s): what it could
// not remove in time, the other nodes reap after PGW_NODE_TTL. It closes
// only what the node opened (never a store of Deps.Store). It is safe to
// call more than once.
func (n *Node) Shutdown(ctx context.Context) {
	n.stopOnce.Do(func() {
		n.draining.Store(true)
		n.admitMu.Lock()
		n.stopping = true
		n.admitMu.Unlock()
		conns := n.hub.all()
		if len(conns) > 0 {
			spread := n.cfg.Drain / time.Duration(len(conns))
			for _, c := range conns {
				c.closeWith(problem.CloseGoingAway, problem.Shutdown, true)
				if spread > 0 && ctx.Err() == nil {
					t := time.NewTimer(spread)
					select {
					case <-t.C:
					case <-ctx.Done():
					}
					t.Stop()
				}
			}
		}
		// Bounded wait for readers to finish their cleanup.
		done := make(chan struct{})
		go func() { n.wg.Wait(); close(done) }()
		wait := time.NewTimer(closeWait + 3*time.Second)
		select {
		case <-done:
		case <-wait.C:
		case <-ctx.Done():
		}
		wait.Stop()
		select {
		case <-done:
		default:
			n.log.Warn("connections still open after drain; closing them", "connections", n.hub.count())
			for _, c := range n.hub.all() {
				c.abort()
			}
			<-done
		}
		close(n.stop)
		n.loops.Wait()
		n.poll.close() // every connection is gone (wg)
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if ended, err := n.store.RemoveNode(rctx, n.cfg.NodeID, time.Now()); err != nil {
			n.log.Warn("removing this node's state failed; other nodes reap it after PGW_NODE_TTL", "err", err)
		} else {
			n.publishEnded(ended)
			n.sessionsEnded(rctx, ended, time.Now())
		}
		cancel()
		_ = n.bus.Close()
		n.closeOwned()
		n.closeLogins()
		n.log.Info("stopped")
	})
}
