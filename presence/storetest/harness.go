package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/wire"
)

// Factory returns a new, empty store with the given options; the test owns
// it (the factory registers its clean-up).
type Factory func(t *testing.T, opt presence.Options) presence.Store

// Tenant is the tenant of the scenarios' users unless a step names another.
const Tenant = "acme"

// conn builds the ConnInfo of a step: user u, session s, connection id c, on
// node n1 from a desktop main window, changed with the options below.
func conn(u, s, c string, opts ...func(*presence.ConnInfo)) presence.ConnInfo {
	ci := presence.ConnInfo{Tenant: Tenant, User: u, Session: s, Conn: c, Node: "n1",
		Device: wire.DeviceDesktop, Window: "main"}
	for _, o := range opts {
		o(&ci)
	}
	return ci
}

func on(node string) func(*presence.ConnInfo) { return func(c *presence.ConnInfo) { c.Node = node } }
func device(d string) func(*presence.ConnInfo) {
	return func(c *presence.ConnInfo) { c.Device = d }
}
func child(c *presence.ConnInfo) { c.Window = "child" }
func inTenant(t string) func(*presence.ConnInfo) {
	return func(c *presence.ConnInfo) { c.Tenant = t }
}
func bridge(c *presence.ConnInfo) { c.Bridge, c.Device = true, wire.DeviceBridge }

// result is what one operation returned.
type result struct {
	change *presence.Change
	ended  []presence.Ended
	conns  []presence.ConnRef
	alive  *bool
	owner  string
	list   []wire.Presence
	err    error
}

// op is one call on the store at a given time.
type op struct {
	name string
	run  func(ctx context.Context, s presence.Store, now time.Time) result
}

// want is what a step expects. Zero fields are not checked, except changed
// and err, which are always checked for operations returning a Change.
type want struct {
	err     error
	changed bool
	// status, when set, checks status, sessions, manual and note of the
	// returned presence (for operations ending sessions: of the last Ended).
	status   wire.Status
	sessions int
	manual   bool
	note     string
	devices  []string // checked when non-nil
	phone    *wire.Phone
	anyPhone bool     // check phone (nil included)
	ended    []string // sorted ended sessions, "s1" or "s1(bridge)"
	conns    []string // sorted connection ids Logout returned
	users    []string // "user:status" of ListTenant / GetMany, in order
	alive    *bool
	owner    string // "tenant:user"
}

// step is an operation at an offset from the scenario's start.
type step struct {
	at   time.Duration
	op   op
	want want
}

// scenario is a named sequence of steps on a fresh store.
type scenario struct {
	name  string
	opt   func(*presence.Options)
	steps []step
}

// harness runs scenarios and checks the invariants every store keeps.
type harness struct {
	t     *testing.T
	s     presence.Store
	start time.Time
	// last is the presence each user was last reported with (any change or
	// read), to check that versions only grow and Changed means changed.
	last map[[2]string]wire.Presence
}

func (h *harness) run(steps []step) {
	for i, st := range steps {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		now := h.start.Add(st.at)
		res := st.op.run(ctx, h.s, now)
		cancel()
		where := fmt.Sprintf("step %d (%s at %v)", i+1, st.op.name, st.at)
		h.check(where, res, st.want)
	}
}

func (h *harness) check(where string, res result, w want) {
	t := h.t
	t.Helper()
	if w.err != nil || res.err != nil {
		if !errors.Is(res.err, w.err) {
			t.Fatalf("%s: error %v, want %v", where, res.err, w.err)
		}
		return
	}
	if res.change != nil {
		h.observe(where, *res.change)
		if res.change.Changed != w.changed {
			t.Fatalf("%s: changed=%v, want %v (presence %+v)", where, res.change.Changed, w.changed, res.change.Presence)
		}
		h.checkPresence(where, res.change.Presence, w)
	}
	if res.ended != nil || w.ended != nil {
		var got []string
		for _, e := range res.ended {
			h.observe(where, e.Change)
			name := e.Session
			if e.Bridge {
				name += "(bridge)"
			}
			got = append(got, name)
		}
		sort.Strings(got)
		if !slices.Equal(got, w.ended) {
			t.Fatalf("%s: ended %v, want %v", where, got, w.ended)
		}
		if len(res.ended) > 0 {
			h.checkPresence(where, res.ended[len(res.ended)-1].Change.Presence, w)
		}
	}
	if w.conns != nil {
		var got []string
		for _, c := range res.conns {
			got = append(got, c.Conn)
		}
		if !slices.Equal(got, w.conns) && !(len(got) == 0 && len(w.conns) == 0) {
			t.Fatalf("%s: connections %v, want %v", where, got, w.conns)
		}
	}
	if w.users != nil {
		var got []string
		for _, p := range res.list {
			h.observe(where, presence.Change{Presence: p})
			got = append(got, p.User+":"+string(p.Status))
		}
		if !slices.Equal(got, w.users) && !(len(got) == 0 && len(w.users) == 0) {
			t.Fatalf("%s: users %v, want %v", where, got, w.users)
		}
	}
	if w.alive != nil {
		if res.alive == nil || *res.alive != *w.alive {
			t.Fatalf("%s: alive %v, want %v", where, res.alive != nil && *res.alive, *w.alive)
		}
	}
	if w.owner != "" && res.owner != w.owner {
		t.Fatalf("%s: owner %q, want %q", where, res.owner, w.owner)
	}
}

func (h *harness) checkPresence(where string, p wire.Presence, w want) {
	t := h.t
	t.Helper()
	if p.Type != wire.TypePresence || p.Devices == nil {
		t.Fatalf("%s: malformed presence %+v", where, p)
	}
	if w.status != "" {
		if p.Status != w.status || p.Sessions != w.sessions || p.Manual != w.manual || p.Note != w.note {
			t.Fatalf("%s: presence %s sessions=%d manual=%v note=%q, want %s sessions=%d manual=%v note=%q",
				where, p.Status, p.Sessions, p.Manual, p.Note, w.status, w.sessions, w.manual, w.note)
		}
	}
	if w.devices != nil && !slices.Equal(p.Devices, w.devices) {
		t.Fatalf("%s: devices %v, want %v", where, p.Devices, w.devices)
	}
	if w.anyPhone && !p.Phone.Equal(w.phone) {
		t.Fatalf("%s: phone %+v, want %+v", where, p.Phone, w.phone)
	}
}

// observe checks the version rules against what the user was last seen with:
// a change has a higher version and a different state; no change repeats the
// state and version. An offline user keeps the version of its offline change
// (§3.2): only the forgotten op accepts version 0 for a user seen before.
func (h *harness) observe(where string, ch presence.Change) {
	t := h.t
	t.Helper()
	p := ch.Presence
	k := [2]string{p.Tenant, p.User}
	prev, seen := h.last[k]
	if !seen {
		prev = wire.OfflinePresence(p.Tenant, p.User)
	}
	switch {
	case ch.Changed:
		if p.Version <= prev.Version {
			t.Fatalf("%s: %s/%s version %d after %d: must increase", where, p.Tenant, p.User, p.Version, prev.Version)
		}
		if p.SameState(prev) {
			t.Fatalf("%s: %s/%s reported changed but state is the same: %+v", where, p.Tenant, p.User, p)
		}
		if p.Since == "" {
			t.Fatalf("%s: changed presence without since", where)
		}
	default:
		if p.Version != prev.Version || !p.SameState(prev) {
			t.Fatalf("%s: %s/%s unchanged presence %+v differs from the last one %+v", where, p.Tenant, p.User, p, prev)
		}
	}
	h.last[k] = p
}

// Operations.

func connect(c presence.ConnInfo) op {
	return op{"connect " + c.User + "/" + c.Session + "/" + c.Conn, func(ctx context.Context, s presence.Store, now time.Time) result {
		ch, err := s.Connect(ctx, c, now)
		return result{change: &ch, err: err}
	}}
}

func disconnect(c presence.ConnInfo) op {
	return op{"disconnect " + c.User + "/" + c.Conn, func(ctx context.Context, s presence.Store, now time.Time) result {
		ch, err := s.Disconnect(ctx, c.Ref(), now)
		return result{change: &ch, err: err}
	}}
}

func setStatus(u string, st wire.Status, note string) op {
	return op{"status " + u + " " + string(st), func(ctx context.Context, s presence.Store, now time.Time) result {
		ch, err := s.SetStatus(ctx, Tenant, u, st, note, now)
		return result{change: &ch, err: err}
	}}
}

// restoreStatus restores a manual status learnt from the version of the
// change made sinceAgo before this step (a change at time T has version T
// in microseconds when the steps are a millisecond or more apart).
func restoreStatus(u string, st wire.Status, note string, sinceAgo time.Duration) op {
	return op{"restore status " + u + " " + string(st), func(ctx context.Context, s presence.Store, now time.Time) result {
		ch, err := s.RestoreStatus(ctx, Tenant, u, st, note, now.Add(-sinceAgo).UnixMicro(), now)
		return result{change: &ch, err: err}
	}}
}

func setIdle(u, session string, idle bool) op {
	return op{fmt.Sprintf("idle %s/%s %v", u, session, idle), func(ctx context.Context, s presence.Store, now time.Time) result {
		ch, err := s.SetIdle(ctx, Tenant, u, session, idle, now)
		return result{change: &ch, err: err}
	}}
}

func logout(u, session string) op {
	return op{"logout " + u + "/" + session, func(ctx context.Context, s presence.Store, now time.Time) result {
		ch, refs, err := s.Logout(ctx, Tenant, u, session, now)
		return result{change: &ch, conns: refs, err: err}
	}}
}

func setPhone(u string, p *wire.Phone) op {
	return op{"phone " + u, func(ctx context.Context, s presence.Store, now time.Time) result {
		ch, err := s.SetPhone(ctx, Tenant, u, p, now)
		return result{change: &ch, err: err}
	}}
}

func get(u string) op {
	return op{"get " + u, func(ctx context.Context, s presence.Store, _ time.Time) result {
		p, err := s.Get(ctx, Tenant, u)
		return result{change: &presence.Change{Presence: p}, err: err}
	}}
}

// forgotten waits (wall clock, with a deadline) until the store answers u
// as never seen: offline, version 0. Redis forgets by a key TTL, so this
// is the one op that waits for real time. It leaves the harness' record of
// u alone: the next change must still be above the version seen before.
func forgotten(u string) op {
	return op{"forgotten " + u, func(ctx context.Context, s presence.Store, _ time.Time) result {
		for {
			p, err := s.Get(ctx, Tenant, u)
			if err != nil {
				return result{err: err}
			}
			if p.Version == 0 {
				if !p.SameState(wire.OfflinePresence(Tenant, u)) {
					return result{err: fmt.Errorf("forgotten %s: version 0 with state %+v", u, p)}
				}
				return result{}
			}
			select {
			case <-ctx.Done():
				return result{err: fmt.Errorf("%s still has version %d: %w", u, p.Version, ctx.Err())}
			case <-time.After(20 * time.Millisecond):
			}
		}
	}}
}

func getMany(users ...string) op {
	return op{"get many " + strings.Join(users, ","), func(ctx context.Context, s presence.Store, _ time.Time) result {
		ps, err := s.GetMany(ctx, Tenant, users)
		return result{list: ps, err: err}
	}}
}

func listTenant(tenant string) op {
	return op{"list " + tenant, func(ctx context.Context, s presence.Store, _ time.Time) result {
		ps, err := s.ListTenant(ctx, tenant)
		return result{list: ps, err: err}
	}}
}

func sessionOwner(session string) op { return sessionOwnerIn(Tenant, session) }

func sessionOwnerIn(tenant, session string) op {
	return op{"owner " + tenant + "/" + session, func(ctx context.Context, s presence.Store, _ time.Time) result {
		u, err := s.SessionOwner(ctx, tenant, session)
		return result{owner: tenant + ":" + u, err: err}
	}}
}

func expireDue() op {
	return op{"expire", func(ctx context.Context, s presence.Store, now time.Time) result {
		ended, err := s.ExpireDue(ctx, now)
		return result{ended: nonNil(ended), err: err}
	}}
}

func heartbeat(node string) op {
	return op{"heartbeat " + node, func(ctx context.Context, s presence.Store, now time.Time) result {
		alive, err := s.Heartbeat(ctx, node, now)
		return result{alive: &alive, err: err}
	}}
}

func reap() op {
	return op{"reap", func(ctx context.Context, s presence.Store, now time.Time) result {
		ended, err := s.ReapDeadNodes(ctx, now)
		return result{ended: nonNil(ended), err: err}
	}}
}

func removeNode(node string) op {
	return op{"remove node " + node, func(ctx context.Context, s presence.Store, now time.Time) result {
		ended, err := s.RemoveNode(ctx, node, now)
		return result{ended: nonNil(ended), err: err}
	}}
}

func nonNil(e []presence.Ended) []presence.Ended {
	if e == nil {
		return []presence.Ended{}
	}
	return e
}

// ptr returns a pointer to b (want.alive).
func ptr(b bool) *bool { return &b }
