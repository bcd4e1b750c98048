package ipt

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/wire"
)

// Options are the telephony parameters.
type Options struct {
	// Grace is the WebSocket session grace (PGW_GRACE). The presence store
	// applies it to the bridge's session and the gateway calls
	// SessionEnded when it runs out; the Service only reports it.
	// Default 5s.
	Grace time.Duration
	// BridgeTTL is how long an HTTP-only bridge counts as connected after
	// its last post (PGW_BRIDGE_TTL). Default 30s.
	BridgeTTL time.Duration
}

// Result is what the gateway must publish after a bridge message: the
// presence changes (publish those with Changed) and the call events, in
// order.
type Result struct {
	Changes []presence.Change
	Calls   []wire.CallFrame
	// Ignored: the event's seq was not above the bridge's last accepted one
	// (a resend or an old event), or the event belongs to a sequence a
	// later ipt.sync replaced. Acknowledge it; nothing was done.
	Ignored bool
	// Sequence is the id of the sequence an ipt.sync started: the caller
	// passes it with the events that follow that sync on the same
	// connection (Event), so an event still in flight on a connection the
	// bridge has replaced cannot undo the newer connection's sync.
	Sequence int64
}

// Service applies bridge messages to the telephony state and the users'
// phone overlays. It is safe for concurrent use; messages of one bridge are
// expected in order (one WebSocket, or one HTTP request at a time).
type Service struct {
	state    StateStore
	presence presence.Store
	opt      Options
}

// DefaultOptions returns the defaults: the presence store's grace (it is
// the same grace) and a 30s bridge TTL.
func DefaultOptions() Options {
	return Options{Grace: presence.DefaultOptions().Grace, BridgeTTL: 30 * time.Second}
}

// NewService returns a Service keeping devices in state and writing phone
// overlays to store. Zero fields of opt take DefaultOptions.
func NewService(state StateStore, store presence.Store, opt Options) *Service {
	def := DefaultOptions()
	if opt.Grace <= 0 {
		opt.Grace = def.Grace
	}
	if opt.BridgeTTL <= 0 {
		opt.BridgeTTL = def.BridgeTTL
	}
	return &Service{state: state, presence: store, opt: opt}
}

// Options returns the options in effect (defaults applied).
func (s *Service) Options() Options { return s.opt }

// batch gathers what one message did.
type batch struct {
	tenant string
	notes  []callNote
	at     time.Time
	users  map[string]bool // users whose overlay may have changed
}

func newBatch(tenant string, at time.Time) *batch {
	return &batch{tenant: tenant, at: at, users: map[string]bool{}}
}

// put stores d, remembering whose overlays to recompute.
func (s *Service) put(ctx context.Context, b *batch, prev *Device, d Device) error {
	if err := s.state.PutDevice(ctx, b.tenant, d); err != nil {
		return fmt.Errorf("ipt: store device %q: %w", d.Ext, err)
	}
	b.users[d.User] = true
	if prev != nil {
		b.users[prev.User] = true
	}
	return nil
}

// finish writes the overlay of every touched user and builds the Result.
func (s *Service) finish(ctx context.Context, b *batch, now time.Time) (Result, error) {
	var res Result
	users := make([]string, 0, len(b.users))
	for u := range b.users {
		users = append(users, u)
	}
	sort.Strings(users)
	for _, u := range users {
		changes, err := s.writeOverlay(ctx, b.tenant, u, now)
		res.Changes = append(res.Changes, changes...)
		if err != nil {
			return res, err
		}
	}
	at := wire.FormatSince(b.at)
	for _, n := range b.notes {
		res.Calls = append(res.Calls, wire.CallFrame{Type: wire.TypeCall, Tenant: b.tenant, User: n.user, Ext: n.ext, Event: n.event, Call: n.call, At: at})
	}
	return res, nil
}

// overlayTries bounds writeOverlay's read-write rounds; each round past the
// first needs another node to change the user's devices in between.
const overlayTries = 4

// writeOverlay writes the user's phone overlay from their devices, then
// reads the devices again and writes again until the overlay written is
// the one they give. Two nodes changing one user's devices at once (a
// bridge's sync on one, its old session's end or its replaced connection's
// event on the other) may otherwise write in the opposite order to their
// reads, leaving the overlay of the older read: the last writer has read
// after every device write whose own overlay write came before it.
func (s *Service) writeOverlay(ctx context.Context, tenant, user string, now time.Time) ([]presence.Change, error) {
	var changes []presence.Change
	var written *wire.Phone
	for i := range overlayTries {
		devs, err := s.state.UserDevices(ctx, tenant, user)
		if err != nil {
			return changes, fmt.Errorf("ipt: devices of %q: %w", user, err)
		}
		p := overlay(devs)
		if i > 0 && p.Equal(written) {
			break
		}
		ch, err := s.presence.SetPhone(ctx, tenant, user, p, now)
		if err != nil {
			return changes, fmt.Errorf("ipt: phone of %q: %w", user, err)
		}
		if ch.Changed {
			changes = append(changes, ch)
		}
		written = p
	}
	return changes, nil
}

// Sync applies a bridge's full snapshot (mark and sweep): listed devices take
// the listed state, devices the bridge held that are not listed become
// unregistered, calls no longer listed end (reason resync). It starts a new
// sequence for the bridge. session is the bridge connection's session id,
// "" for an HTTP-only bridge.
func (s *Service) Sync(ctx context.Context, tenant, session string, m Sync, now time.Time) (Result, error) {
	if err := m.Validate(); err != nil {
		return Result{}, err
	}
	if err := s.state.Bind(ctx, tenant, m.Bridge, session, now); err != nil {
		return Result{}, fmt.Errorf("ipt: bind bridge %q: %w", m.Bridge, err)
	}
	sequence, err := s.state.Restart(ctx, tenant, m.Bridge, now)
	if err != nil {
		return Result{}, fmt.Errorf("ipt: restart bridge %q: %w", m.Bridge, err)
	}
	had, err := s.state.BridgeExts(ctx, tenant, m.Bridge)
	if err != nil {
		return Result{}, fmt.Errorf("ipt: devices of bridge %q: %w", m.Bridge, err)
	}
	b := newBatch(tenant, now)
	listed := make(map[string]bool, len(m.Devices))
	for _, sd := range m.Devices {
		listed[sd.Ext] = true
		old, ok, err := s.state.Device(ctx, tenant, sd.Ext)
		if err != nil {
			return Result{}, fmt.Errorf("ipt: device %q: %w", sd.Ext, err)
		}
		var prev *Device
		if ok {
			prev = &old
		} else {
			old = Device{Ext: sd.Ext, User: sd.User, State: wire.PhoneUnknown}
		}
		d, notes := applySync(old, sd, m.Bridge, now)
		b.notes = append(b.notes, notes...)
		if err := s.put(ctx, b, prev, d); err != nil {
			return Result{}, err
		}
	}
	for _, ext := range had {
		if listed[ext] {
			continue
		}
		old, ok, err := s.state.Device(ctx, tenant, ext)
		if err != nil {
			return Result{}, fmt.Errorf("ipt: device %q: %w", ext, err)
		}
		if !ok || old.Bridge != m.Bridge {
			continue
		}
		d, notes := applySync(old, wire.Device{Ext: ext, User: old.User, State: wire.SyncUnregistered}, m.Bridge, now)
		b.notes = append(b.notes, notes...)
		if err := s.put(ctx, b, &old, d); err != nil {
			return Result{}, err
		}
	}
	res, err := s.finish(ctx, b, now)
	res.Sequence = sequence
	return res, err
}

// Event applies one ipt.event. An ext the gateway does not know, sent
// without user, is a problem unknown_extension (404); an event whose seq is
// not above the last accepted one is Ignored. sequence is the Result.Sequence
// of the last ipt.sync on the event's connection for this bridge, 0 when
// there was none (HTTP): an event of a sequence a later sync replaced is
// Ignored, whatever its seq.
func (s *Service) Event(ctx context.Context, tenant, session string, sequence int64, e Event, now time.Time) (Result, error) {
	if err := e.Validate(); err != nil {
		return Result{}, err
	}
	old, ok, err := s.state.Device(ctx, tenant, e.Ext)
	if err != nil {
		return Result{}, fmt.Errorf("ipt: device %q: %w", e.Ext, err)
	}
	if !ok && e.User == "" {
		return Result{}, problem.New(problem.UnknownExtension,
			"ext %q is not known to the gateway: send the event with user, or send ipt.sync first", e.Ext)
	}
	if err := s.state.Bind(ctx, tenant, e.Bridge, session, now); err != nil {
		return Result{}, fmt.Errorf("ipt: bind bridge %q: %w", e.Bridge, err)
	}
	accepted, err := s.state.Accept(ctx, tenant, e.Bridge, e.Seq, sequence)
	if err != nil {
		return Result{}, fmt.Errorf("ipt: seq of bridge %q: %w", e.Bridge, err)
	}
	if !accepted {
		return Result{Ignored: true}, nil
	}
	at := now
	if e.At != "" {
		at, _ = time.Parse(time.RFC3339Nano, e.At) // validated
	}
	var prev *Device
	if ok {
		was := old
		prev = &was
	} else {
		old = Device{Ext: e.Ext, State: wire.PhoneUnknown}
	}
	// The event's user and bridge own the device from now on: an extension
	// belongs to one user, and to the bridge that reported it last.
	if e.User != "" {
		old.User = e.User
	}
	old.Bridge = e.Bridge
	d, notes := applyEvent(old, e, at)
	b := newBatch(tenant, at)
	b.notes = notes
	if err := s.put(ctx, b, prev, d); err != nil {
		return Result{}, err
	}
	return s.finish(ctx, b, now)
}

// SessionEnded is called when a WebSocket session ended (its grace ran out,
// its node died, or logout): the devices of the bridges bound to it become
// unknown. Calling it for a session that bound no bridge does nothing.
func (s *Service) SessionEnded(ctx context.Context, tenant, session string, now time.Time) (Result, error) {
	bridges, err := s.state.TakeSession(ctx, tenant, session)
	if err != nil {
		return Result{}, fmt.Errorf("ipt: bridges of session %q: %w", session, err)
	}
	b := newBatch(tenant, now)
	for _, br := range bridges {
		if err := s.markUnknown(ctx, b, br); err != nil {
			return Result{}, err
		}
	}
	return s.finish(ctx, b, now)
}

// Heartbeat records that an HTTP-only bridge posted (an empty events list is
// a heartbeat): it counts as connected for BridgeTTL more.
func (s *Service) Heartbeat(ctx context.Context, tenant, bridge string, now time.Time) error {
	if !wire.ValidID(bridge) {
		return problem.Field("bridge", "must match "+wire.IDPattern)
	}
	if err := s.state.Bind(ctx, tenant, bridge, "", now); err != nil {
		return fmt.Errorf("ipt: heartbeat of bridge %q: %w", bridge, err)
	}
	return nil
}

// ExpireHTTPBridges makes unknown the devices of HTTP-only bridges that did
// not post for BridgeTTL. Every node may call it periodically. A bridge
// leaves the liveness index only after its devices were marked, so a failure
// is retried at the next call; marking twice changes nothing the second time.
func (s *Service) ExpireHTTPBridges(ctx context.Context, now time.Time) (Result, error) {
	cutoff := now.Add(-s.opt.BridgeTTL)
	refs, err := s.state.DueHTTP(ctx, cutoff)
	if err != nil {
		return Result{}, fmt.Errorf("ipt: expired bridges: %w", err)
	}
	var res Result
	for _, ref := range refs {
		b := newBatch(ref.Tenant, now)
		if err := s.markUnknown(ctx, b, ref.Bridge); err != nil {
			return res, err
		}
		r, err := s.finish(ctx, b, now)
		if err != nil {
			return res, err
		}
		res.Changes = append(res.Changes, r.Changes...)
		res.Calls = append(res.Calls, r.Calls...)
		if _, err := s.state.ExpireHTTP(ctx, ref, cutoff); err != nil {
			return res, fmt.Errorf("ipt: expire bridge %q: %w", ref.Bridge, err)
		}
	}
	return res, nil
}

// markUnknown makes every device of bridge unknown: nobody reports for them.
// Their calls are kept so that the bridge's next sync ends or continues them.
func (s *Service) markUnknown(ctx context.Context, b *batch, bridge string) error {
	exts, err := s.state.BridgeExts(ctx, b.tenant, bridge)
	if err != nil {
		return fmt.Errorf("ipt: devices of bridge %q: %w", bridge, err)
	}
	for _, ext := range exts {
		d, ok, err := s.state.Device(ctx, b.tenant, ext)
		if err != nil {
			return fmt.Errorf("ipt: device %q: %w", ext, err)
		}
		if !ok || d.Bridge != bridge || d.State == wire.PhoneUnknown {
			continue
		}
		d.State = wire.PhoneUnknown
		if err := s.put(ctx, b, nil, d); err != nil {
			return err
		}
	}
	return nil
}
