package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pgw/pgw/ipt/ami"
)

// source feeds the core, in order: snapshots (sync updates) and events. A
// signal on resync asks for a fresh snapshot (the gateway reconnected).
// run returns nil when ctx ends, an error only when it cannot go on.
type source interface {
	run(ctx context.Context, out chan<- update, resync <-chan struct{}) error
}

// amiSource is the Asterisk side: one AMI connection at a time, redialled
// with backoff, a snapshot after every login, on resync and on FullyBooted.
type amiSource struct {
	cfg   ami.Config
	model *pbx
	bo    backoff
	log   *slog.Logger
	// stableAfter: a session that lasted this long resets the backoff.
	stableAfter time.Duration
}

func (s *amiSource) run(ctx context.Context, out chan<- update, resync <-chan struct{}) error {
	for {
		c, err := ami.Dial(ctx, s.cfg)
		if err == nil {
			start := time.Now()
			err = s.session(ctx, c, out, resync)
			c.Close()
			if time.Since(start) > s.stableAfter {
				s.bo.reset()
			}
			if !send(ctx, out, update{down: true}) {
				return nil
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		delay := s.bo.next()
		s.log.Warn("ami: disconnected, reconnecting", "addr", s.cfg.Addr, "err", err, "in", delay)
		if !sleep(ctx, delay) {
			return nil
		}
	}
}

// session serves one logged-in connection until it ends. Events are queued
// by the client from login on, so nothing is lost while a snapshot is
// taken; events older than the snapshot (written before its first response)
// are already in it and are skipped, the rest are applied in order.
func (s *amiSource) session(ctx context.Context, c *ami.Client, out chan<- update, resync <-chan struct{}) error {
	select { // this snapshot answers any resync asked while AMI was down
	case <-resync:
	default:
	}
	cut, err := s.snapshot(ctx, c, out)
	if err != nil {
		return err
	}
	s.log.Info("ami: connected and synchronised", "addr", s.cfg.Addr)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.Done():
			return c.Err()
		case <-resync:
			if cut, err = s.snapshot(ctx, c, out); err != nil {
				return err
			}
		case <-c.EventsReady():
			for _, m := range c.TakeEvents() {
				if m.Pos < cut {
					continue
				}
				if m.Event() == "FullyBooted" {
					// Asterisk (re)started or reloaded: what we hold may be stale.
					if cut, err = s.snapshot(ctx, c, out); err != nil {
						return err
					}
					continue
				}
				for _, e := range s.model.apply(m) {
					if !send(ctx, out, update{event: e}) {
						return nil
					}
				}
			}
		}
	}
}

// snapshot lists devices, channels and contacts, replaces the model and
// hands the core a sync. It returns the stream position of the first
// list's response: the cut between events it contains and later ones.
func (s *amiSource) snapshot(ctx context.Context, c *ami.Client, out chan<- update) (uint64, error) {
	resp, devices, err := c.List(ctx, "DeviceStateList", nil)
	if err != nil {
		return 0, fmt.Errorf("snapshot: DeviceStateList: %w", err)
	}
	_, channels, err := c.List(ctx, "CoreShowChannels", nil)
	if err != nil {
		return 0, fmt.Errorf("snapshot: CoreShowChannels: %w", err)
	}
	_, contacts, err := c.List(ctx, "PJSIPShowContacts", nil)
	if errors.Is(err, ami.ErrAction) {
		// No PJSIP (chan_sip, IAX2) or no contacts at all: device
		// states alone decide registration.
		s.log.Debug("ami: PJSIPShowContacts refused; using device states only", "err", err)
		contacts, err = nil, nil
	}
	if err != nil {
		return 0, fmt.Errorf("snapshot: PJSIPShowContacts: %w", err)
	}
	s.model.loadSnapshot(devices, channels, contacts)
	if !send(ctx, out, update{sync: true, devices: s.model.devices()}) {
		return 0, ctx.Err()
	}
	return resp.Pos, nil
}

// send hands u to the core unless ctx ends first.
func send(ctx context.Context, out chan<- update, u update) bool {
	select {
	case out <- u:
		return true
	case <-ctx.Done():
		return false
	}
}
