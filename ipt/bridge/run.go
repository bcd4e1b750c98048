package bridge

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pgw/pgw/wire"
	"golang.org/x/time/rate"
)

// stableAfter is how long a connection must last before its side's backoff
// starts over: a peer that accepts and drops at once is still backed off.
const stableAfter = 10 * time.Second

// Run is the bridge: it keeps one gateway connection and one source (AMI or
// the simulator) up until ctx ends, sending ipt.sync after every reconnect
// of either side and ipt.event in between. It returns nil when ctx ends, or
// an error when it must not go on (ErrConfig, ErrGatewayRefused).
func Run(ctx context.Context, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	b := &bridge{
		cfg:     cfg,
		log:     cfg.Logger.With("bridge", cfg.BridgeID),
		updates: make(chan update),
		resync:  make(chan struct{}, 1),
		gwUp:    make(chan *gwConn),
		gwDown:  make(chan *gwConn),
		gate:    newGate(),
		lost:    make(chan struct{}, 1),
	}
	var src source
	if cfg.Simulate > 0 {
		src = newSimSource(cfg.Simulate, cfg.Rate, cfg.Users, cfg.Seed)
		b.log.Info("simulating extensions", "n", cfg.Simulate, "rate", cfg.Rate)
	} else {
		src = &amiSource{
			cfg:         cfg.AMI,
			model:       newPBX(cfg.Users, time.Now),
			bo:          backoff{min: cfg.BackoffMin, max: cfg.BackoffMax},
			log:         b.log,
			stableAfter: stableAfter,
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	goFn := func(f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	goFn(func(ctx context.Context) error { return src.run(ctx, b.updates, b.resync) })
	goFn(b.gatewayLoop)
	goFn(b.core)
	wg.Wait()
	return first
}

// bridge wires the source, the gateway loop and the core together.
type bridge struct {
	cfg     Config
	log     *slog.Logger
	updates chan update   // source → core
	resync  chan struct{} // core → source: snapshot again (capacity 1)
	gwUp    chan *gwConn  // gateway loop → core: a welcomed connection
	gwDown  chan *gwConn  // gateway loop → core: it ended
	gate    *gate         // core → gateway loop: connect only while the source is good
	lost    chan struct{} // gateway reader → core: a frame was refused for now (capacity 1)
}

// frameLost tells the core, without blocking the reader, that the gateway
// missed a frame.
func (b *bridge) frameLost() {
	select {
	case b.lost <- struct{}{}:
	default:
	}
}

// gatewayLoop keeps a gateway connection, following the close-code table.
func (b *bridge) gatewayLoop(ctx context.Context) error {
	bo := backoff{min: b.cfg.BackoffMin, max: b.cfg.BackoffMax}
	for {
		if !b.gate.wait(ctx) {
			return nil
		}
		conn, err := dialGateway(ctx, b.cfg, b.frameLost)
		delay, atOnce := time.Duration(0), false
		if err == nil {
			start := time.Now()
			select {
			case b.gwUp <- conn:
			case <-ctx.Done():
				conn.shutdown()
				return nil
			}
			select {
			case <-conn.done:
				_ = conn.ws.Close() // the reader stopped; release the socket
			case <-ctx.Done():
				conn.shutdown()
				return nil
			}
			select {
			case b.gwDown <- conn:
			case <-ctx.Done():
				return nil
			}
			if time.Since(start) > stableAfter {
				bo.reset()
			}
			if conn.closedLocally() {
				continue // the core left on purpose; the gate says when to return
			}
			err = conn.classify(conn.closeErr())
			code, reason := closeOf(err)
			if code != 0 && ruleFor(code, reason, b.cfg.canRenew()) == reconnectAtOnce {
				// Drain: every bridge of the node comes back now, spread by jitter.
				delay, atOnce = rand.N(time.Second), true
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrGatewayRefused) {
			b.log.Error("gateway: refused; stopping (fix the token or role and restart)", "err", err)
			return err
		}
		if !atOnce {
			delay = bo.next()
		}
		b.log.Warn("gateway: disconnected, reconnecting", "url", b.cfg.GatewayURL, "err", err, "in", delay)
		if !sleep(ctx, delay) {
			return nil
		}
	}
}

// core owns the sequence: it sends each sync (restarting seq) and each
// event after a sync on the current connection. Events while no synced
// connection exists are dropped: the next sync carries their effect.
func (b *bridge) core(ctx context.Context) error {
	var (
		conn    *gwConn
		synced  bool
		seq     int64
		stale   *time.Timer // runs while the source is down
		staleC  <-chan time.Time
		redo    *time.Timer // runs after a refused frame, until the resync
		redoC   <-chan time.Time
		limiter = rate.NewLimiter(rate.Limit(b.cfg.MaxFrameRate), b.cfg.MaxFrameBurst)
	)
	if b.cfg.MaxFrameRate < 0 {
		limiter.SetLimit(rate.Inf)
	}
	defer func() {
		for _, t := range []*time.Timer{stale, redo} {
			if t != nil {
				t.Stop()
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-b.lost:
			// One delayed resync covers every frame refused until then;
			// waiting lets a rate limit or a dependency recover first.
			if redoC == nil {
				d := b.cfg.ResyncDelay + rand.N(b.cfg.ResyncDelay)
				redo = time.NewTimer(d)
				redoC = redo.C
				b.log.Warn("gateway: refused a frame for now; resynchronising", "in", d)
			}
		case <-redoC:
			redoC = nil
			select {
			case b.resync <- struct{}{}:
			default:
			}
		case <-staleC:
			staleC = nil
			b.gate.set(false)
			if conn != nil {
				b.log.Warn("gateway: leaving while the PBX is unreachable, so its devices turn unknown", "after", b.cfg.StaleAfter)
				conn.closeLocal("pbx unreachable")
				conn, synced = nil, false
			}
		case c := <-b.gwUp:
			conn, synced = c, false
			select { // a fresh snapshot for the new connection
			case b.resync <- struct{}{}:
			default:
			}
		case c := <-b.gwDown:
			if c == conn {
				conn, synced = nil, false
			}
		case u := <-b.updates:
			if u.down {
				if staleC == nil {
					stale = time.NewTimer(b.cfg.StaleAfter)
					staleC = stale.C
				}
				continue
			}
			if u.sync {
				if stale != nil {
					stale.Stop()
				}
				staleC = nil
				b.gate.set(true)
			}
			if conn == nil || !u.sync && !synced {
				continue
			}
			if err := limiter.Wait(ctx); err != nil {
				return nil
			}
			if u.sync {
				f := wire.SyncFrame{Type: wire.TypeIPTSync, ID: conn.reserve(wire.TypeIPTSync), SyncBody: wire.SyncBody{Bridge: b.cfg.BridgeID, Devices: u.devices}}
				if err := conn.write(f); err != nil {
					b.log.Warn("gateway: send ipt.sync", "err", err)
					conn, synced = nil, false
					continue
				}
				synced, seq = true, 0
				select { // this sync answers a resync still pending, if any
				case <-b.resync:
				default:
				}
				b.log.Info("gateway: ipt.sync sent", "devices", len(u.devices))
				continue
			}
			seq++
			e := u.event
			e.Type, e.Bridge, e.Seq = wire.TypeIPTEvent, b.cfg.BridgeID, seq
			e.ID = conn.reserve(wire.TypeIPTEvent)
			if err := conn.write(e); err != nil {
				b.log.Warn("gateway: send ipt.event", "err", err)
				conn, synced = nil, false
			}
		}
	}
}
