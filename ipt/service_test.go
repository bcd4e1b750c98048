package ipt

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pgw/pgw/internal/testenv"
	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/wire"
)

const tenant = "acme"

// backend builds the two stores of one fixture.
type backend func(t *testing.T) (StateStore, presence.Store)

// newBackends returns the combinations the suite runs on: each StateStore
// with presence.Memory, and the Redis one with presence.Redis. Redis ones
// share one private redis-server, each fixture under its own key prefix.
func newBackends(t *testing.T) map[string]backend {
	srv := testenv.Redis(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = client.Close() })
	n := 0
	prefix := func() string { n++; return fmt.Sprintf("t%d", n) }
	memPresence := func() presence.Store { return presence.NewMemory(presence.DefaultOptions()) }
	return map[string]backend{
		"memory": func(*testing.T) (StateStore, presence.Store) { return NewMemoryState(), memPresence() },
		"redis": func(*testing.T) (StateStore, presence.Store) {
			return NewRedisState(client, prefix()), memPresence()
		},
		"redis+presence.Redis": func(t *testing.T) (StateStore, presence.Store) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			opt := presence.DefaultOptions()
			opt.Prefix = prefix()
			// The presence store owns (and closes) its own client.
			pres, err := presence.NewRedis(ctx, redis.NewClient(&redis.Options{Addr: srv.Addr}), opt)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = pres.Close() })
			return NewRedisState(client, opt.Prefix), pres
		},
	}
}

// fixture drives one Service with a clock that advances one second a step.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	svc   *Service
	state StateStore
	pres  presence.Store
	now   time.Time
	// versions is the last version seen per user, to check they increase.
	versions map[string]int64
	// sequence is, per session (one connection each here), the sequence its
	// last sync started: what the gateway passes with the events.
	sequence map[string]int64
}

func newFixture(t *testing.T, b backend) *fixture {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	state, pres := b(t)
	return &fixture{
		t: t, ctx: ctx, state: state, pres: pres,
		svc:      NewService(state, pres, Options{Grace: 5 * time.Second, BridgeTTL: 30 * time.Second}),
		now:      time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC),
		versions: map[string]int64{},
		sequence: map[string]int64{},
	}
}

func (f *fixture) tick() time.Time { f.now = f.now.Add(time.Second); return f.now }

func (f *fixture) sync(session string, m Sync) Result {
	f.t.Helper()
	res, err := f.svc.Sync(f.ctx, tenant, session, m, f.tick())
	if err != nil {
		f.t.Fatalf("sync: %v", err)
	}
	f.sequence[session] = res.Sequence
	f.checkChanges(res)
	return res
}

func (f *fixture) event(session string, e Event) Result {
	f.t.Helper()
	res, err := f.svc.Event(f.ctx, tenant, session, f.sequence[session], e, f.tick())
	if err != nil {
		f.t.Fatalf("event %+v: %v", e, err)
	}
	f.checkChanges(res)
	return res
}

// checkChanges checks that every change is real and raises the version.
func (f *fixture) checkChanges(res Result) {
	f.t.Helper()
	for _, ch := range res.Changes {
		p := ch.Presence
		if !ch.Changed {
			f.t.Errorf("unchanged presence of %s in Result", p.User)
		}
		if p.Version <= f.versions[p.User] {
			f.t.Errorf("%s: version %d not above %d", p.User, p.Version, f.versions[p.User])
		}
		f.versions[p.User] = p.Version
	}
}

// phone returns the user's overlay as "state ext [callid callstate]", "-" when absent.
func (f *fixture) phone(user string) string {
	f.t.Helper()
	p, err := f.pres.Get(f.ctx, tenant, user)
	if err != nil {
		f.t.Fatal(err)
	}
	return phoneString(p.Phone)
}

func phoneString(p *wire.Phone) string {
	if p == nil {
		return "-"
	}
	s := p.State + " " + p.Ext
	if p.Call != nil {
		s += " " + p.Call.ID + " " + p.Call.State
	}
	return s
}

// calls renders call events as "user ext event callid callstate[/reason]".
func calls(res Result) []string {
	var out []string
	for _, c := range res.Calls {
		s := fmt.Sprintf("%s %s %s %s %s", c.User, c.Ext, c.Event, c.Call.ID, c.Call.State)
		if c.Call.Reason != "" {
			s += "/" + c.Call.Reason
		}
		out = append(out, s)
	}
	return out
}

func (f *fixture) wantCalls(res Result, want ...string) {
	f.t.Helper()
	got := calls(res)
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		f.t.Fatalf("calls %q, want %q", got, want)
	}
}

func (f *fixture) wantPhone(user, want string) {
	f.t.Helper()
	if got := f.phone(user); got != want {
		f.t.Fatalf("phone of %s = %q, want %q", user, got, want)
	}
}

func reg(ext, user string) wire.Device {
	return wire.Device{Ext: ext, User: user, State: wire.SyncRegistered}
}

func regCall(ext, user, id, state string) wire.Device {
	d := reg(ext, user)
	d.Call = &wire.SyncCall{ID: id, State: state, Direction: wire.Inbound, Peer: "555"}
	return d
}

// TestService runs the telephony suite on every StateStore.
func TestService(t *testing.T) {
	for name, b := range newBackends(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range serviceCases {
				t.Run(tc.name, func(t *testing.T) { tc.run(newFixture(t, b)) })
			}
		})
	}
}

var serviceCases = []struct {
	name string
	run  func(f *fixture)
}{
	{"call lifecycle", testCallLifecycle},
	{"duplicate and out-of-order seq", testSeq},
	{"restarted bridge counts from 1 after sync", testRestart},
	{"an event from a replaced connection changes nothing", testReplacedConnection},
	{"sync sweeps devices and calls", testSyncSweep},
	{"sync announces calls it reveals", testSyncReveals},
	{"session ended makes devices unknown until resync", testSessionEnded},
	{"session ended after rebinding changes nothing", testSessionRebound},
	{"http bridge ttl", testHTTPBridgeTTL},
	{"unknown extension", testUnknownExtension},
	{"extension moves between users", testExtMoves},
	{"user with several extensions", testSeveralExtensions},
	{"several bridges per tenant", testSeveralBridges},
	{"unregistered ends the call", testUnregisteredEndsCall},
	{"call waiting", testCallWaiting},
	{"validation", testServiceValidates},
	{"concurrent resend applied once", testConcurrentResend},
	{"overlays written out of order converge", testOverlayRace},
}

func testCallLifecycle(f *fixture) {
	// The user is present with a manual status: calls never touch it.
	if _, err := f.pres.Connect(f.ctx, presence.ConnInfo{Tenant: tenant, User: "u1", Session: "s-u1", Conn: "c-u1", Node: "n1", Device: wire.DeviceDesktop}, f.tick()); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.pres.SetStatus(f.ctx, tenant, "u1", wire.DND, "focus", f.tick()); err != nil {
		f.t.Fatal(err)
	}
	f.wantPhone("u1", "-")
	res := f.sync("bridge-s1", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "u1")}})
	f.wantCalls(res)
	f.wantPhone("u1", "idle 1001")
	if len(res.Changes) != 1 {
		f.t.Fatalf("%d changes after sync, want 1", len(res.Changes))
	}

	// since: the CALL's since is the time of this step: it started ringing,
	// was answered, or ended; hold and resume keep the answer time.
	steps := []struct {
		event, phone, call string
		since              int
	}{
		{wire.EventRinging, "ringing 1001 c1 ringing", "u1 1001 ringing c1 ringing", 0},
		{wire.EventAnswered, "in_call 1001 c1 in_call", "u1 1001 answered c1 in_call", 1},
		{wire.EventHeld, "held 1001 c1 held", "u1 1001 held c1 held", 1},
		{wire.EventResumed, "in_call 1001 c1 in_call", "u1 1001 resumed c1 in_call", 1},
		{wire.EventEnded, "idle 1001", "u1 1001 ended c1 ended/hangup", 4},
	}
	var times []time.Time
	for i, st := range steps {
		times = append(times, f.now.Add(time.Second)) // the time f.event uses
		res := f.event("bridge-s1", Event{Bridge: "b1", Seq: int64(i + 1), Ext: "1001", Event: st.event, Call: "c1", Direction: wire.Inbound, Peer: "555"})
		f.wantCalls(res, st.call)
		f.wantPhone("u1", st.phone)
		if want := wire.FormatSince(times[st.since]); res.Calls[0].Call.Since != want {
			f.t.Fatalf("%s: call since %s, want %s", st.event, res.Calls[0].Call.Since, want)
		}
		if p, _ := f.pres.Get(f.ctx, tenant, "u1"); p.Phone.Call != nil && p.Phone.Call.Since != res.Calls[0].Call.Since {
			f.t.Fatalf("%s: phone call since %s, call event since %s", st.event, p.Phone.Call.Since, res.Calls[0].Call.Since)
		}
		if len(res.Changes) != 1 || res.Ignored {
			f.t.Fatalf("%s: %d changes (ignored %v), want 1", st.event, len(res.Changes), res.Ignored)
		}
		p := res.Changes[0].Presence
		if p.Status != wire.DND || !p.Manual || p.Note != "focus" {
			f.t.Fatalf("%s: status %s manual %v note %q: calls must not touch the status", st.event, p.Status, p.Manual, p.Note)
		}
		c := res.Calls[0]
		if c.Type != "call" || c.Tenant != tenant || c.Call.Direction != wire.Inbound || c.Call.Peer != "555" || c.At != wire.FormatSince(f.now) {
			f.t.Fatalf("%s: call event %+v", st.event, c)
		}
	}
}

func testSeq(f *fixture) {
	f.sync("", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "u1")}})
	ev := func(seq int64, event, call string) Event {
		return Event{Bridge: "b1", Seq: seq, Ext: "1001", Event: event, Call: call}
	}
	steps := []struct {
		name    string
		event   Event
		ignored bool
		phone   string
	}{
		{"first", ev(1, wire.EventRinging, "c1"), false, "ringing 1001 c1 ringing"},
		{"resend", ev(1, wire.EventRinging, "c1"), true, "ringing 1001 c1 ringing"},
		{"gap is fine", ev(3, wire.EventAnswered, "c1"), false, "in_call 1001 c1 in_call"},
		{"late old event", ev(2, wire.EventEnded, "c1"), true, "in_call 1001 c1 in_call"},
		{"resend of the last", ev(3, wire.EventHeld, "c1"), true, "in_call 1001 c1 in_call"},
		{"next", ev(4, wire.EventEnded, "c1"), false, "idle 1001"},
	}
	for _, st := range steps {
		res := f.event("", st.event)
		if res.Ignored != st.ignored {
			f.t.Fatalf("%s: ignored %v, want %v", st.name, res.Ignored, st.ignored)
		}
		if st.ignored && (len(res.Changes) != 0 || len(res.Calls) != 0) {
			f.t.Fatalf("%s: ignored event produced %d changes, %d calls", st.name, len(res.Changes), len(res.Calls))
		}
		f.wantPhone("u1", st.phone)
	}
}

func testRestart(f *fixture) {
	f.sync("s1", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "u1")}})
	for seq := int64(1); seq <= 5; seq++ {
		f.event("s1", Event{Bridge: "b1", Seq: seq, Ext: "1001", Event: wire.EventRegistered})
	}
	if res := f.event("s1", Event{Bridge: "b1", Seq: 1, Ext: "1001", Event: wire.EventRinging, Call: "c1"}); !res.Ignored {
		f.t.Fatal("seq 1 accepted before the restart's sync")
	}
	// The bridge restarts: a sync, then it counts from 1.
	f.sync("s2", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "u1")}})
	res := f.event("s2", Event{Bridge: "b1", Seq: 1, Ext: "1001", Event: wire.EventRinging, Call: "c1"})
	if res.Ignored {
		f.t.Fatal("seq 1 ignored after the restart's sync")
	}
	f.wantCalls(res, "u1 1001 ringing c1 ringing")
	f.wantPhone("u1", "ringing 1001 c1 ringing")
	if res := f.event("s2", Event{Bridge: "b1", Seq: 1, Ext: "1001", Event: wire.EventRinging, Call: "c1"}); !res.Ignored {
		f.t.Fatal("resend after restart accepted")
	}
}

// testReplacedConnection: the bridge's connection s1 is closed with an event
// in flight (its node re-asserted after Redis restarted empty, or was
// stalled); the bridge reconnects as s2, syncs and carries on from seq 1.
// The old connection's event, run by its node after that sync, must change
// nothing: not the device (the bridge's truth is s2's sync) and not the
// sequence (s2's events must not be ignored as resends).
func testReplacedConnection(f *fixture) {
	f.sync("s1", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "u1")}})
	f.event("s1", Event{Bridge: "b1", Seq: 1, Ext: "1001", Event: wire.EventRinging, Call: "c1"})
	f.event("s1", Event{Bridge: "b1", Seq: 2, Ext: "1001", Event: wire.EventAnswered, Call: "c1"})
	f.wantPhone("u1", "in_call 1001 c1 in_call")
	// s1's "held" (seq 3) is in flight when the bridge, which got no reply,
	// reconnects as s2 and syncs what it knows.
	f.sync("s2", Sync{Bridge: "b1", Devices: []wire.Device{regCall("1001", "u1", "c1", wire.PhoneInCall)}})
	if res := f.event("s1", Event{Bridge: "b1", Seq: 3, Ext: "1001", Event: wire.EventHeld, Call: "c1"}); !res.Ignored {
		f.t.Fatalf("an event of the replaced connection was applied after the new connection's sync: %+v", res)
	}
	f.wantPhone("u1", "in_call 1001 c1 in_call")
	res := f.event("s2", Event{Bridge: "b1", Seq: 1, Ext: "1001", Event: wire.EventEnded, Call: "c1"})
	if res.Ignored {
		f.t.Fatal("the new connection's seq 1 was ignored")
	}
	f.wantPhone("u1", "idle 1001")
	// A connection that has not synced (HTTP, a bridge that skips the
	// sync) is not held to a sequence: seq alone decides.
	if res := f.event("", Event{Bridge: "b1", Seq: 2, Ext: "1001", Event: wire.EventRinging, Call: "c2"}); res.Ignored {
		f.t.Fatal("seq 2 without a sequence was ignored")
	}
	f.wantPhone("u1", "ringing 1001 c2 ringing")
}

func testSyncSweep(f *fixture) {
	f.sync("s1", Sync{Bridge: "b1", Devices: []wire.Device{
		regCall("1001", "u1", "c1", wire.PhoneInCall), reg("1002", "u2"), regCall("1003", "u3", "c3", wire.PhoneRinging)}})
	f.wantPhone("u1", "in_call 1001 c1 in_call")
	f.wantPhone("u2", "idle 1002")
	f.wantPhone("u3", "ringing 1003 c3 ringing")

	// 1001 lost its call, 1002 is left out, 1003's call was replaced.
	res := f.sync("s1", Sync{Bridge: "b1", Devices: []wire.Device{
		reg("1001", "u1"), regCall("1003", "u3", "c4", wire.PhoneHeld)}})
	f.wantCalls(res,
		"u1 1001 ended c1 ended/resync",
		"u3 1003 ended c3 ended/resync",
		"u3 1003 held c4 held")
	f.wantPhone("u1", "idle 1001")
	f.wantPhone("u2", "unregistered 1002")
	f.wantPhone("u3", "held 1003 c4 held")
	if len(res.Changes) != 3 {
		f.t.Fatalf("%d changes, want 3", len(res.Changes))
	}

	// The same sync again changes nothing and announces nothing.
	res = f.sync("s1", Sync{Bridge: "b1", Devices: []wire.Device{
		reg("1001", "u1"), regCall("1003", "u3", "c4", wire.PhoneHeld)}})
	f.wantCalls(res)
	if len(res.Changes) != 0 {
		f.t.Fatalf("repeated sync: %d changes, want 0", len(res.Changes))
	}

	// An empty sync unregisters everything the bridge had and ends its calls.
	res = f.sync("s1", Sync{Bridge: "b1"})
	f.wantCalls(res, "u3 1003 ended c4 ended/resync")
	f.wantPhone("u1", "unregistered 1001")
	f.wantPhone("u3", "unregistered 1003")
}

func testSyncReveals(f *fixture) {
	f.sync("s1", Sync{Bridge: "b1", Devices: []wire.Device{regCall("1001", "u1", "c1", wire.PhoneRinging)}})
	steps := []struct {
		state, call string
	}{
		{wire.PhoneInCall, "u1 1001 answered c1 in_call"},
		{wire.PhoneHeld, "u1 1001 held c1 held"},
		{wire.PhoneInCall, "u1 1001 resumed c1 in_call"},
	}
	for _, st := range steps {
		res := f.sync("s1", Sync{Bridge: "b1", Devices: []wire.Device{regCall("1001", "u1", "c1", st.state)}})
		f.wantCalls(res, st.call)
		f.wantPhone("u1", st.state+" 1001 c1 "+st.state)
	}
}

func testSessionEnded(f *fixture) {
	f.sync("s1", Sync{Bridge: "b1", Devices: []wire.Device{
		regCall("1001", "u1", "c1", wire.PhoneInCall), reg("1002", "u2"), {Ext: "1003", User: "u3", State: wire.SyncUnregistered}}})
	// Another session ending touches nothing.
	res, err := f.svc.SessionEnded(f.ctx, tenant, "s-other", f.tick())
	if err != nil || len(res.Changes) != 0 {
		f.t.Fatalf("unrelated session ended: %d changes, %v", len(res.Changes), err)
	}
	f.wantPhone("u1", "in_call 1001 c1 in_call")

	res, err = f.svc.SessionEnded(f.ctx, tenant, "s1", f.tick())
	if err != nil {
		f.t.Fatal(err)
	}
	f.checkChanges(res)
	f.wantCalls(res) // nobody knows whether c1 ended: the resync will tell
	for _, u := range []string{"u1", "u2", "u3"} {
		if got := f.phone(u); !strings.HasPrefix(got, "unknown 100") || strings.Contains(got, "c1") {
			f.t.Fatalf("phone of %s after session end = %q, want unknown without call", u, got)
		}
	}
	if len(res.Changes) != 3 {
		f.t.Fatalf("%d changes, want 3", len(res.Changes))
	}
	// Reconnect + sync restores the truth: c1 ended meanwhile, u3 came back.
	res = f.sync("s2", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "u1"), reg("1002", "u2"), reg("1003", "u3")}})
	f.wantCalls(res, "u1 1001 ended c1 ended/resync")
	f.wantPhone("u1", "idle 1001")
	f.wantPhone("u2", "idle 1002")
	f.wantPhone("u3", "idle 1003")

	// A call that survived the outage continues without a new announcement.
	f.event("s2", Event{Bridge: "b1", Seq: 1, Ext: "1002", Event: wire.EventAnswered, Call: "c2"})
	if _, err := f.svc.SessionEnded(f.ctx, tenant, "s2", f.tick()); err != nil {
		f.t.Fatal(err)
	}
	f.wantPhone("u2", "unknown 1002")
	res = f.sync("s3", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "u1"), regCall("1002", "u2", "c2", wire.PhoneInCall), reg("1003", "u3")}})
	f.wantCalls(res)
	f.wantPhone("u2", "in_call 1002 c2 in_call")
}

func testSessionRebound(f *fixture) {
	f.sync("s1", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "u1")}})
	// The bridge reconnected on s2 before s1's grace ran out.
	f.sync("s2", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "u1")}})
	res, err := f.svc.SessionEnded(f.ctx, tenant, "s1", f.tick())
	if err != nil || len(res.Changes) != 0 {
		f.t.Fatalf("old session ended: %d changes, %v", len(res.Changes), err)
	}
	f.wantPhone("u1", "idle 1001")
	// A WebSocket bridge is never expired by the HTTP TTL.
	if _, err := f.svc.ExpireHTTPBridges(f.ctx, f.now.Add(time.Hour)); err != nil {
		f.t.Fatal(err)
	}
	f.wantPhone("u1", "idle 1001")
	// Ending it twice (two nodes) marks once.
	res1, err1 := f.svc.SessionEnded(f.ctx, tenant, "s2", f.tick())
	res2, err2 := f.svc.SessionEnded(f.ctx, tenant, "s2", f.tick())
	if err1 != nil || err2 != nil || len(res1.Changes) != 1 || len(res2.Changes) != 0 {
		f.t.Fatalf("session ended twice: %d then %d changes (%v, %v), want 1 then 0", len(res1.Changes), len(res2.Changes), err1, err2)
	}
	f.wantPhone("u1", "unknown 1001")
}

func testHTTPBridgeTTL(f *fixture) {
	start := f.now
	f.sync("", Sync{Bridge: "hb", Devices: []wire.Device{reg("1001", "u1")}}) // at start+1s
	ttl := f.svc.Options().BridgeTTL
	expire := func(at time.Time) Result {
		f.t.Helper()
		res, err := f.svc.ExpireHTTPBridges(f.ctx, at)
		if err != nil {
			f.t.Fatal(err)
		}
		f.checkChanges(res)
		return res
	}
	// A heartbeat at +20s keeps it past the first TTL.
	if err := f.svc.Heartbeat(f.ctx, tenant, "hb", start.Add(20*time.Second)); err != nil {
		f.t.Fatal(err)
	}
	if res := expire(start.Add(ttl + 10*time.Second)); len(res.Changes) != 0 {
		f.t.Fatalf("expired %d despite the heartbeat", len(res.Changes))
	}
	f.wantPhone("u1", "idle 1001")
	if res := expire(start.Add(20*time.Second + ttl)); len(res.Changes) != 1 {
		f.t.Fatalf("silent for the TTL: %d changes, want 1", len(res.Changes))
	}
	f.wantPhone("u1", "unknown 1001")
	if res := expire(start.Add(time.Hour)); len(res.Changes) != 0 {
		f.t.Fatalf("expired twice: %d changes", len(res.Changes))
	}
	// It posts again: a sync restores the truth.
	f.now = start.Add(2 * time.Hour)
	f.sync("", Sync{Bridge: "hb", Devices: []wire.Device{reg("1001", "u1")}})
	f.wantPhone("u1", "idle 1001")

	if err := f.svc.Heartbeat(f.ctx, tenant, "h.b", f.now); problem.As(err) == nil {
		f.t.Fatalf("heartbeat with a bad bridge id: %v, want a problem", err)
	}
}

func testUnknownExtension(f *fixture) {
	_, err := f.svc.Event(f.ctx, tenant, "s1", 0, Event{Bridge: "b1", Seq: 1, Ext: "1001", Event: wire.EventRegistered}, f.tick())
	p := problem.As(err)
	if p == nil || p.Code != problem.UnknownExtension || p.Status != http.StatusNotFound || !strings.Contains(p.Detail, `"1001"`) {
		f.t.Fatalf("unknown ext: %v, want 404 unknown_extension naming 1001", err)
	}
	// The refused event did not consume its seq.
	res := f.event("s1", Event{Bridge: "b1", Seq: 1, Ext: "1001", User: "u1", Event: wire.EventRegistered})
	if res.Ignored {
		f.t.Fatal("seq consumed by a refused event")
	}
	f.wantPhone("u1", "idle 1001")
	// Known now: user may be left out.
	f.event("s1", Event{Bridge: "b1", Seq: 2, Ext: "1001", Event: wire.EventRinging, Call: "c1"})
	f.wantPhone("u1", "ringing 1001 c1 ringing")
	// Extensions are per tenant.
	_, err = f.svc.Event(f.ctx, "other", "s9", 0, Event{Bridge: "b1", Seq: 1, Ext: "1001", Event: wire.EventRegistered}, f.tick())
	if p := problem.As(err); p == nil || p.Code != problem.UnknownExtension {
		f.t.Fatalf("ext of another tenant: %v, want unknown_extension", err)
	}
}

func testExtMoves(f *fixture) {
	f.sync("s1", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "u1")}})
	f.wantPhone("u1", "idle 1001")
	f.wantPhone("u3", "-")
	res := f.event("s1", Event{Bridge: "b1", Seq: 1, Ext: "1001", User: "u2", Event: wire.EventRinging, Call: "c1"})
	f.wantCalls(res, "u2 1001 ringing c1 ringing")
	f.wantPhone("u1", "-")
	f.wantPhone("u2", "ringing 1001 c1 ringing")
	if len(res.Changes) != 2 {
		f.t.Fatalf("%d changes, want 2 (old and new owner)", len(res.Changes))
	}
	// A sync naming another user moves it again; the call ends for u2.
	res = f.sync("s1", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "u1")}})
	f.wantCalls(res, "u2 1001 ended c1 ended/resync")
	f.wantPhone("u1", "idle 1001")
	f.wantPhone("u2", "-")
}

func testSeveralExtensions(f *fixture) {
	f.sync("s1", Sync{Bridge: "b1", Devices: []wire.Device{reg("1002", "u1"), reg("1001", "u1"), {Ext: "1000", User: "u1", State: wire.SyncUnregistered}}})
	f.wantPhone("u1", "idle 1001") // idle beats unregistered; lowest ext among equals
	steps := []struct {
		event Event
		phone string
	}{
		{Event{Ext: "1002", Event: wire.EventRinging, Call: "c1"}, "ringing 1002 c1 ringing"},
		{Event{Ext: "1001", Event: wire.EventAnswered, Call: "c2"}, "in_call 1001 c2 in_call"},
		{Event{Ext: "1001", Event: wire.EventHeld, Call: "c2"}, "held 1001 c2 held"},
		{Event{Ext: "1002", Event: wire.EventAnswered, Call: "c1"}, "in_call 1002 c1 in_call"},
		{Event{Ext: "1002", Event: wire.EventEnded}, "held 1001 c2 held"},
		{Event{Ext: "1001", Event: wire.EventEnded, Call: "c2"}, "idle 1001"},
	}
	for i, st := range steps {
		e := st.event
		e.Bridge, e.Seq = "b1", int64(i+1)
		f.event("s1", e)
		f.wantPhone("u1", st.phone)
	}
}

func testSeveralBridges(f *fixture) {
	f.sync("s1", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "u1")}})
	f.sync("s2", Sync{Bridge: "b2", Devices: []wire.Device{reg("2001", "u2")}})
	// Each bridge has its own sequence.
	f.event("s1", Event{Bridge: "b1", Seq: 7, Ext: "1001", Event: wire.EventRinging, Call: "c1"})
	if res := f.event("s2", Event{Bridge: "b2", Seq: 1, Ext: "2001", Event: wire.EventRinging, Call: "c2"}); res.Ignored {
		f.t.Fatal("b2's seq 1 ignored after b1's seq 7")
	}
	// b1's empty sync and session end leave b2's devices alone.
	f.sync("s1", Sync{Bridge: "b1"})
	if _, err := f.svc.SessionEnded(f.ctx, tenant, "s1", f.tick()); err != nil {
		f.t.Fatal(err)
	}
	f.wantPhone("u1", "unknown 1001")
	f.wantPhone("u2", "ringing 2001 c2 ringing")
	// An extension reported by b2 moves to b2: b1's sync no longer sweeps it.
	f.sync("s2", Sync{Bridge: "b2", Devices: []wire.Device{reg("2001", "u2"), reg("1001", "u1")}})
	f.sync("s3", Sync{Bridge: "b1"})
	f.wantPhone("u1", "idle 1001")
}

func testUnregisteredEndsCall(f *fixture) {
	f.sync("s1", Sync{Bridge: "b1", Devices: []wire.Device{regCall("1001", "u1", "c1", wire.PhoneInCall)}})
	res := f.event("s1", Event{Bridge: "b1", Seq: 1, Ext: "1001", Event: wire.EventUnregistered})
	f.wantCalls(res, "u1 1001 ended c1 ended/unregistered")
	f.wantPhone("u1", "unregistered 1001")
	f.event("s1", Event{Bridge: "b1", Seq: 2, Ext: "1001", Event: wire.EventRegistered})
	f.wantPhone("u1", "idle 1001")
}

func testCallWaiting(f *fixture) {
	f.sync("s1", Sync{Bridge: "b1", Devices: []wire.Device{regCall("1001", "u1", "c1", wire.PhoneInCall)}})
	// A second call rings during c1: announced, c1 stays current.
	res := f.event("s1", Event{Bridge: "b1", Seq: 1, Ext: "1001", Event: wire.EventRinging, Call: "c2", Peer: "777"})
	f.wantCalls(res, "u1 1001 ringing c2 ringing")
	f.wantPhone("u1", "in_call 1001 c1 in_call")
	// It is rejected: its end is announced, c1 stays.
	res = f.event("s1", Event{Bridge: "b1", Seq: 2, Ext: "1001", Event: wire.EventEnded, Call: "c2"})
	f.wantCalls(res, "u1 1001 ended c2 ended/hangup")
	f.wantPhone("u1", "in_call 1001 c1 in_call")
	// Answering another call makes it current.
	f.event("s1", Event{Bridge: "b1", Seq: 3, Ext: "1001", Event: wire.EventRinging, Call: "c3"})
	res = f.event("s1", Event{Bridge: "b1", Seq: 4, Ext: "1001", Event: wire.EventAnswered, Call: "c3"})
	f.wantCalls(res, "u1 1001 answered c3 in_call")
	f.wantPhone("u1", "in_call 1001 c3 in_call")
}

func testConcurrentResend(f *fixture) {
	f.sync("", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "u1")}})
	// An HTTP retry reaching several nodes at once: one applies it.
	nodes := []*Service{f.svc, NewService(f.state, f.pres, f.svc.Options()), NewService(f.state, f.pres, f.svc.Options())}
	results := make(chan Result, 3*len(nodes))
	errs := make(chan error, 3*len(nodes))
	var wg sync.WaitGroup
	now := f.tick()
	for i := range 3 * len(nodes) {
		wg.Add(1)
		go func(svc *Service) {
			defer wg.Done()
			res, err := svc.Event(f.ctx, tenant, "", 0, Event{Bridge: "b1", Seq: 1, Ext: "1001", Event: wire.EventRinging, Call: "c1"}, now)
			results <- res
			errs <- err
		}(nodes[i%len(nodes)])
	}
	wg.Wait()
	close(results)
	close(errs)
	for err := range errs {
		if err != nil {
			f.t.Fatal(err)
		}
	}
	applied := 0
	for res := range results {
		if !res.Ignored {
			applied++
			f.wantCalls(res, "u1 1001 ringing c1 ringing")
		}
	}
	if applied != 1 {
		f.t.Fatalf("applied %d times, want once", applied)
	}
	f.wantPhone("u1", "ringing 1001 c1 ringing")
}

// heldPhone is a presence.Store whose next SetPhone (when armed) waits
// until released: a node slow between reading the devices and writing the
// overlay.
type heldPhone struct {
	presence.Store
	mu       sync.Mutex
	armed    bool
	reached  chan struct{}
	released chan struct{}
}

func (h *heldPhone) SetPhone(ctx context.Context, t, u string, p *wire.Phone, now time.Time) (presence.Change, error) {
	h.mu.Lock()
	hold := h.armed
	h.armed = false
	h.mu.Unlock()
	if hold {
		close(h.reached)
		<-h.released
	}
	return h.Store.SetPhone(ctx, t, u, p, now)
}

// testOverlayRace: two nodes change devices of one user at once (a bridge's
// sync on one, its old session's end or an old connection's event on the
// other). The one that read the devices first writes its overlay last: the
// overlay must still end as the devices say, not as that older read.
func testOverlayRace(f *fixture) {
	f.sync("s1", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "u1")}})
	slow := &heldPhone{Store: f.pres, armed: true, reached: make(chan struct{}), released: make(chan struct{})}
	a := NewService(f.state, slow, f.svc.Options())
	done := make(chan error, 1)
	go func() {
		_, err := a.Event(f.ctx, tenant, "s1", f.sequence["s1"], Event{Bridge: "b1", Seq: 1, Ext: "1001", Event: wire.EventRinging, Call: "c1"}, f.tick())
		done <- err
	}()
	select {
	case <-slow.reached: // a has read the devices (ringing), not yet written
	case err := <-done:
		f.t.Fatalf("event on the slow node returned without writing the overlay: %v", err)
	}
	f.event("s1", Event{Bridge: "b1", Seq: 2, Ext: "1001", Event: wire.EventAnswered, Call: "c1"})
	f.wantPhone("u1", "in_call 1001 c1 in_call")
	close(slow.released)
	if err := <-done; err != nil {
		f.t.Fatal(err)
	}
	f.wantPhone("u1", "in_call 1001 c1 in_call")
}

func testServiceValidates(f *fixture) {
	_, err := f.svc.Sync(f.ctx, tenant, "s1", Sync{Bridge: "b1", Devices: []wire.Device{{Ext: "1001", User: "u1", State: "up"}}}, f.tick())
	if p := problem.As(err); p == nil || len(p.Errors) != 1 || p.Errors[0].Field != "devices[0].state" {
		f.t.Fatalf("sync with a bad state: %v", err)
	}
	_, err = f.svc.Event(f.ctx, tenant, "s1", 0, Event{Bridge: "b1", Ext: "1001", Event: wire.EventRegistered, User: "u1"}, f.tick())
	if p := problem.As(err); p == nil || p.Errors[0].Field != "seq" {
		f.t.Fatalf("event without seq: %v", err)
	}
	f.wantPhone("u1", "-")
}

func TestRedisStateUnavailable(t *testing.T) {
	srv := testenv.Redis(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = client.Close() })
	svc := NewService(NewRedisState(client, "pgw"), presence.NewMemory(presence.DefaultOptions()), Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Kill()
	_, err := svc.Sync(ctx, tenant, "s1", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "u1")}}, time.Now())
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("sync with Redis down: %v, want ErrUnavailable", err)
	}
}

// TestRedisStateErrorsAreNotAllOutages: a reply a retry would not change
// (WRONGTYPE on a key of the wrong type) is not ErrUnavailable (which the
// gateway answers 503 "retry"), while Redis down is.
func TestRedisStateErrorsAreNotAllOutages(t *testing.T) {
	srv := testenv.Redis(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The tenant's ext index is a hash; make it a string.
	if err := client.Set(ctx, "pgw:ipt:ext:{acme}", "not a hash", 0).Err(); err != nil {
		t.Fatal(err)
	}
	svc := NewService(NewRedisState(client, "pgw"), presence.NewMemory(presence.DefaultOptions()), Options{})
	_, err := svc.Sync(ctx, tenant, "s1", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "u1")}}, time.Now())
	if err == nil || errors.Is(err, ErrUnavailable) {
		t.Fatalf("sync on a WRONGTYPE key: %v, want an error that is not ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Fatalf("sync on a WRONGTYPE key: %v, want the cause named", err)
	}
}

func TestRedisKeys(t *testing.T) {
	srv := testenv.Redis(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	svc := NewService(NewRedisState(client, "pgw"), presence.NewMemory(presence.DefaultOptions()), Options{})
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	if _, err := svc.Sync(ctx, tenant, "s1", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "u1")}}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Sync(ctx, tenant, "", Sync{Bridge: "h1"}, now); err != nil {
		t.Fatal(err)
	}
	keys, err := client.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"pgw:ipt:devices:{acme:u1}":     true,
		"pgw:ipt:ext:{acme}":            true,
		"pgw:ipt:bridge:{acme}:b1":      true,
		"pgw:ipt:bridge:{acme}:b1:exts": true,
		"pgw:ipt:session:{acme}:s1":     true,
		"pgw:ipt:bridge:{acme}:h1":      true,
		"pgw:ipt:http":                  true,
	}
	for _, k := range keys {
		if !want[k] {
			t.Errorf("unexpected key %s", k)
		}
		delete(want, k)
	}
	for k := range want {
		t.Errorf("missing key %s", k)
	}
}

// TestServiceRedisCluster runs the suite on Redis Cluster: every script and
// pipeline must respect hash slots (a CROSSSLOT error fails it).
func TestServiceRedisCluster(t *testing.T) {
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: testenv.RedisCluster(t)})
	t.Cleanup(func() { _ = client.Close() })
	n := 0
	b := func(*testing.T) (StateStore, presence.Store) {
		n++
		return NewRedisState(client, fmt.Sprintf("c%d", n)), presence.NewMemory(presence.DefaultOptions())
	}
	for _, tc := range serviceCases {
		t.Run(tc.name, func(t *testing.T) { tc.run(newFixture(t, b)) })
	}
}

// TestRedisStateSequenceAfterLoss: Redis restarted empty loses the bridge's
// sequence. An event of the replaced connection that lands first then
// cannot be told from a live one, but the newer connection's events must
// still be accepted from seq 1 (a newer sequence starts over), and the old
// connection is refused again from then on. Sequence ids keep rising over
// the loss (the caller's clock), so a sync after it outranks the old ones.
func TestRedisStateSequenceAfterLoss(t *testing.T) {
	srv := testenv.Redis(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st := NewRedisState(client, "loss")
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	old, err := st.Restart(ctx, tenant, "b1", now)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := st.Restart(ctx, tenant, "b1", now) // same clock: still above
	if err != nil {
		t.Fatal(err)
	}
	if cur <= old || old < now.UnixMicro() {
		t.Fatalf("sequence ids %d then %d, want rising and at least %d", old, cur, now.UnixMicro())
	}
	accept := func(seq, sequence int64, want bool) {
		t.Helper()
		ok, err := st.Accept(ctx, tenant, "b1", seq, sequence)
		if err != nil {
			t.Fatal(err)
		}
		if ok != want {
			t.Fatalf("Accept(seq %d, sequence %d) = %v, want %v", seq, sequence, ok, want)
		}
	}
	accept(5, old, false) // replaced
	accept(1, cur, true)
	if err := client.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	accept(7, old, true) // nothing left to tell it from a live one
	accept(2, cur, true) // a newer sequence starts over
	accept(8, old, false)
	accept(2, cur, false) // a resend
	next, err := st.Restart(ctx, tenant, "b1", now)
	if err != nil {
		t.Fatal(err)
	}
	if next <= cur {
		t.Fatalf("sequence id after the loss %d, want above %d", next, cur)
	}
}
