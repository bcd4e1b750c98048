package storetest

import (
	"testing"
	"time"

	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/wire"
)

// Options are the options of every scenario unless it changes them: the
// contract's defaults.
func Options() presence.Options { return presence.DefaultOptions() }

// Run runs the contract suite against fresh stores from newStore.
func Run(t *testing.T, newStore Factory) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			opt := Options()
			if sc.opt != nil {
				sc.opt(&opt)
			}
			h := &harness{t: t, s: newStore(t, opt), start: time.Now().UTC().Truncate(time.Millisecond),
				last: map[[2]string]wire.Presence{}}
			h.run(sc.steps)
		})
	}
	t.Run("windows of one session from many goroutines", func(t *testing.T) { runConcurrent(t, newStore) })
}

const ms = time.Millisecond

func scenarios() []scenario {
	c1 := conn("u1", "s1", "c1")
	c1child := conn("u1", "s1", "c2", child)
	online1 := want{changed: true, status: wire.Online, sessions: 1, devices: []string{"desktop"}}
	still := func(st wire.Status, sessions int) want { return want{status: st, sessions: sessions} }
	offline := want{changed: true, status: wire.Offline, devices: []string{}}
	phone1001 := &wire.Phone{State: wire.PhoneIdle, Ext: "1001"}
	ringing := &wire.Phone{State: wire.PhoneRinging, Ext: "1001",
		Call: &wire.Call{ID: "call-1", State: "ringing", Direction: "inbound", Peer: "+4930123"}}

	return []scenario{
		{name: "main and child window are one session", steps: []step{
			{0, connect(c1), online1},
			{1 * ms, connect(c1child), still(wire.Online, 1)},
			{2 * ms, sessionOwner("s1"), want{owner: "acme:u1"}},
			{3 * ms, disconnect(c1child), still(wire.Online, 1)},
			{4 * ms, connect(c1child), still(wire.Online, 1)},
			{5 * ms, disconnect(c1), still(wire.Online, 1)},
			{6 * ms, get("u1"), still(wire.Online, 1)},
		}},
		{name: "offline only after the grace", steps: []step{
			{0, connect(c1), online1},
			{1 * ms, connect(c1child), still(wire.Online, 1)},
			{time.Second, disconnect(c1child), still(wire.Online, 1)},
			{time.Second, disconnect(c1), still(wire.Online, 1)},
			{2 * time.Second, sessionOwner("s1"), want{owner: "acme:u1"}},
			{5999 * ms, expireDue(), want{}},
			{5999 * ms, get("u1"), still(wire.Online, 1)},
			{6 * time.Second, expireDue(), want{ended: []string{"s1"}, status: wire.Offline}},
			{6 * time.Second, get("u1"), still(wire.Offline, 0)},
			{6 * time.Second, sessionOwner("s1"), want{err: presence.ErrUnknownSession}},
			{7 * time.Second, expireDue(), want{}},
		}},
		{name: "reconnect within the grace changes nothing", steps: []step{
			{0, connect(c1), online1},
			{time.Second, disconnect(c1), still(wire.Online, 1)},
			{3 * time.Second, connect(conn("u1", "s1", "c3", on("n2"))), still(wire.Online, 1)},
			{10 * time.Second, expireDue(), want{}},
			{10 * time.Second, get("u1"), still(wire.Online, 1)},
			{11 * time.Second, disconnect(conn("u1", "s1", "c3", on("n2"))), still(wire.Online, 1)},
			{15999 * ms, expireDue(), want{}},
			{16 * time.Second, expireDue(), want{ended: []string{"s1"}, status: wire.Offline}},
		}},
		{name: "manual status and note", steps: []step{
			{0, connect(c1), online1},
			{1 * ms, setStatus("u1", wire.Busy, "in a meeting"),
				want{changed: true, status: wire.Busy, sessions: 1, manual: true, note: "in a meeting"}},
			{2 * ms, setStatus("u1", wire.Busy, "in a meeting"),
				want{status: wire.Busy, sessions: 1, manual: true, note: "in a meeting"}},
			{3 * ms, setStatus("u1", wire.Busy, `"quoted" \ ünïcode`),
				want{changed: true, status: wire.Busy, sessions: 1, manual: true, note: `"quoted" \ ünïcode`}},
			{4 * ms, setStatus("u1", wire.DND, ""), want{changed: true, status: wire.DND, sessions: 1, manual: true}},
			{5 * ms, setStatus("u1", wire.Away, "lunch"),
				want{changed: true, status: wire.Away, sessions: 1, manual: true, note: "lunch"}},
			{6 * ms, connect(conn("u1", "s2", "c9", device("mobile"))),
				want{changed: true, status: wire.Away, sessions: 2, manual: true, note: "lunch", devices: []string{"desktop", "mobile"}}},
			{7 * ms, setStatus("u1", wire.Online, "ignored"), want{changed: true, status: wire.Online, sessions: 2}},
			{8 * ms, setStatus("u1", wire.Online, ""), still(wire.Online, 2)},
		}},
		{name: "manual status ends when the user goes offline", steps: []step{
			{0, setStatus("u1", wire.Busy, "x"), want{err: presence.ErrOffline}},
			{0, connect(c1), online1},
			{1 * ms, setStatus("u1", wire.DND, "focus"),
				want{changed: true, status: wire.DND, sessions: 1, manual: true, note: "focus"}},
			{2 * ms, disconnect(c1), want{status: wire.DND, sessions: 1, manual: true, note: "focus"}},
			{4 * ms, connect(c1), want{status: wire.DND, sessions: 1, manual: true, note: "focus"}},
			{5 * ms, disconnect(c1), want{status: wire.DND, sessions: 1, manual: true, note: "focus"}},
			{6 * time.Second, expireDue(), want{ended: []string{"s1"}, status: wire.Offline}},
			{6 * time.Second, setStatus("u1", wire.Busy, "x"), want{err: presence.ErrOffline}},
			{7 * time.Second, connect(c1), online1},
		}},
		{name: "a restored status never undoes a status the user chose since", steps: []step{
			{0, connect(c1), online1},
			{1 * ms, setStatus("u1", wire.Busy, "meeting"),
				want{changed: true, status: wire.Busy, sessions: 1, manual: true, note: "meeting"}},
			// Restoring what the store still has: allowed, nothing changes.
			{2 * ms, restoreStatus("u1", wire.Busy, "meeting", 1*ms),
				want{status: wire.Busy, sessions: 1, manual: true, note: "meeting"}},
			{3 * ms, setStatus("u1", wire.Online, ""), want{changed: true, status: wire.Online, sessions: 1}},
			// The node learnt busy at 1 ms; the user chose online at 3 ms.
			{4 * ms, restoreStatus("u1", wire.Busy, "meeting", 3*ms), want{err: presence.ErrStatusChosen}},
			{5 * ms, get("u1"), want{status: wire.Online, sessions: 1}},
			// The store forgets the user (all gone); their connection comes
			// back (a re-assert): the restore goes through.
			{6 * ms, disconnect(c1), want{status: wire.Online, sessions: 1}},
			{6 * time.Second, expireDue(), want{ended: []string{"s1"}, status: wire.Offline}},
			{7 * time.Second, connect(c1), online1},
			{7*time.Second + 1*ms, restoreStatus("u1", wire.Busy, "meeting", 7*time.Second),
				want{changed: true, status: wire.Busy, sessions: 1, manual: true, note: "meeting"}},
		}},
		{name: "a restore yields to online chosen after a re-assert, even unchanged", steps: []step{
			{0, connect(c1), online1},
			{1 * ms, setStatus("u1", wire.Busy, ""), want{changed: true, status: wire.Busy, sessions: 1, manual: true}},
			{2 * ms, disconnect(c1), want{status: wire.Busy, sessions: 1, manual: true}},
			{6 * time.Second, expireDue(), want{ended: []string{"s1"}, status: wire.Offline}},
			// Re-asserted without its manual status: online.
			{7 * time.Second, connect(c1), online1},
			// The user chooses online: nothing changes, but it is a choice.
			{7*time.Second + 1*ms, setStatus("u1", wire.Online, ""), still(wire.Online, 1)},
			{7*time.Second + 2*ms, restoreStatus("u1", wire.Busy, "", 7*time.Second+1*ms), want{err: presence.ErrStatusChosen}},
			{7*time.Second + 3*ms, get("u1"), want{status: wire.Online, sessions: 1}},
		}},
		{name: "idle sessions make the user away", steps: []step{
			{0, connect(c1), online1},
			{1 * ms, setIdle("u1", "s1", true), want{changed: true, status: wire.Away, sessions: 1}},
			{2 * ms, setIdle("u1", "s1", true), still(wire.Away, 1)},
			{3 * ms, connect(conn("u1", "s2", "c2", device("web"))),
				want{changed: true, status: wire.Online, sessions: 2, devices: []string{"desktop", "web"}}},
			{4 * ms, setIdle("u1", "s2", true), want{changed: true, status: wire.Away, sessions: 2}},
			{5 * ms, setIdle("u1", "s1", false), want{changed: true, status: wire.Online, sessions: 2}},
			{6 * ms, setStatus("u1", wire.Busy, ""), want{changed: true, status: wire.Busy, sessions: 2, manual: true}},
			{7 * ms, setIdle("u1", "s1", true), want{status: wire.Busy, sessions: 2, manual: true}},
			{8 * ms, setStatus("u1", wire.Online, ""), want{changed: true, status: wire.Away, sessions: 2}},
			{9 * ms, setIdle("u1", "nope", true), want{err: presence.ErrUnknownSession}},
			{10 * ms, setIdle("u9", "s1", true), want{err: presence.ErrUnknownSession}},
			{11 * ms, logout("u1", "s2"), want{changed: true, status: wire.Away, sessions: 1, devices: []string{"desktop"}, conns: []string{"c2"}}},
		}},
		{name: "logout ends the session at once", steps: []step{
			{0, connect(c1), online1},
			{1 * ms, connect(conn("u1", "s1", "c2", child, on("n2"))), still(wire.Online, 1)},
			{2 * ms, connect(conn("u1", "s2", "c3", device("web"))),
				want{changed: true, status: wire.Online, sessions: 2, devices: []string{"desktop", "web"}}},
			{3 * ms, logout("u1", "s1"),
				want{changed: true, status: wire.Online, sessions: 1, devices: []string{"web"}, conns: []string{"c1", "c2"}}},
			{4 * ms, logout("u1", "s1"), want{err: presence.ErrUnknownSession}},
			{4 * ms, sessionOwner("s1"), want{err: presence.ErrUnknownSession}},
			{5 * ms, disconnect(c1), still(wire.Online, 1)},
			{6 * ms, logout("u1", "s2"), want{changed: true, status: wire.Offline, conns: []string{"c3"}}},
			{7 * ms, connect(conn("u1", "s3", "c4")), online1},
			{8 * ms, disconnect(conn("u1", "s3", "c4")), still(wire.Online, 1)},
			{9 * ms, logout("u1", "s3"), want{changed: true, status: wire.Offline, conns: []string{}}},
			{10 * time.Second, expireDue(), want{}},
			{10 * time.Second, logout("u2", "s1"), want{err: presence.ErrUnknownSession}},
		}},
		{name: "a logged-out connection never comes back", steps: []step{
			// A node that missed the logout's close message re-asserts the
			// connection: refused, and nothing is left of it.
			{0, connect(c1), online1},
			{1 * ms, connect(conn("u1", "s1", "c2", child, on("n2"))), still(wire.Online, 1)},
			{2 * ms, logout("u1", "s1"), want{changed: true, status: wire.Offline, conns: []string{"c1", "c2"}}},
			{3 * ms, connect(conn("u1", "s1", "c2", child, on("n2"))), want{err: presence.ErrLoggedOut}},
			{4 * ms, get("u1"), still(wire.Offline, 0)},
			{4 * ms, sessionOwner("s1"), want{err: presence.ErrUnknownSession}},
			// The session id itself may be used again, by a new connection.
			{6 * ms, connect(conn("u1", "s1", "c3")), online1},
		}},
		{name: "a session belongs to one user", steps: []step{
			{0, connect(c1), online1},
			{1 * ms, connect(conn("u2", "s1", "c2")), want{err: presence.ErrSessionConflict}},
			// Session ids are scoped by tenant: another tenant's s1 is a
			// different, fresh session (no conflict, nothing revealed).
			{2 * ms, connect(conn("u1", "s1", "c3", inTenant("globex"))), want{changed: true, status: wire.Online, sessions: 1}},
			{2 * ms, sessionOwnerIn("globex", "s1"), want{owner: "globex:u1"}},
			{2 * ms, sessionOwnerIn("initech", "s1"), want{err: presence.ErrUnknownSession}},
			{3 * ms, get("u2"), still(wire.Offline, 0)},
			{4 * ms, disconnect(c1), still(wire.Online, 1)},
			{5 * ms, connect(conn("u2", "s1", "c2")), want{err: presence.ErrSessionConflict}},
			{6 * time.Second, expireDue(), want{ended: []string{"s1"}, status: wire.Offline}},
			{7 * time.Second, connect(conn("u2", "s1", "c2")),
				want{changed: true, status: wire.Online, sessions: 1}},
			{8 * time.Second, sessionOwner("s1"), want{owner: "acme:u2"}},
			{9 * time.Second, logout("u2", "s1"), want{changed: true, status: wire.Offline, conns: []string{"c2"}}},
			{10 * time.Second, connect(c1), online1},
			{11 * time.Second, sessionOwner("s1"), want{owner: "acme:u1"}},
		}},
		{name: "too many connections", opt: func(o *presence.Options) { o.MaxConnsPerUser = 2 }, steps: []step{
			{0, connect(c1), online1},
			{1 * ms, connect(c1child), still(wire.Online, 1)},
			{2 * ms, connect(conn("u1", "s1", "c3", child)), want{err: presence.ErrTooManyConnections}},
			{3 * ms, connect(conn("u1", "s9", "c4")), want{err: presence.ErrTooManyConnections}},
			{4 * ms, sessionOwner("s9"), want{err: presence.ErrUnknownSession}},
			{5 * ms, connect(conn("u2", "s9", "c5")), online1},
			{6 * ms, connect(c1child), still(wire.Online, 1)},
			{7 * ms, disconnect(c1), still(wire.Online, 1)},
			{8 * ms, connect(conn("u1", "s1", "c3", child)), still(wire.Online, 1)},
		}},
		{name: "bridge sessions never make their user present", steps: []step{
			{0, connect(conn("u1", "b1", "cb", bridge, on("nb"))), want{status: wire.Offline}},
			{1 * ms, setStatus("u1", wire.Busy, ""), want{err: presence.ErrOffline}},
			{2 * ms, listTenant(Tenant), want{users: []string{}}},
			{3 * ms, setPhone("u1", phone1001), want{changed: true, status: wire.Offline, phone: phone1001, anyPhone: true}},
			{4 * ms, connect(c1), want{changed: true, status: wire.Online, sessions: 1, devices: []string{"desktop"},
				phone: phone1001, anyPhone: true}},
			{5 * ms, setIdle("u1", "s1", true), want{changed: true, status: wire.Away, sessions: 1}},
			{6 * ms, disconnect(c1), still(wire.Away, 1)},
			{6 * time.Second, expireDue(), want{ended: []string{"s1"}, status: wire.Offline}},
			{7 * time.Second, removeNode("nb"), want{ended: []string{"b1(bridge)"}, status: wire.Offline}},
			{8 * time.Second, get("u1"), want{status: wire.Offline, phone: phone1001, anyPhone: true}},
		}},
		{name: "phone overlay", steps: []step{
			{0, setPhone("u1", phone1001), want{changed: true, status: wire.Offline, phone: phone1001, anyPhone: true}},
			{1 * ms, setPhone("u1", &wire.Phone{State: wire.PhoneIdle, Ext: "1001"}), want{status: wire.Offline}},
			{2 * ms, listTenant(Tenant), want{users: []string{}}},
			{3 * ms, connect(c1), want{changed: true, status: wire.Online, sessions: 1, phone: phone1001, anyPhone: true}},
			{4 * ms, setPhone("u1", ringing), want{changed: true, status: wire.Online, sessions: 1, phone: ringing, anyPhone: true}},
			{5 * ms, setPhone("u1", &wire.Phone{State: wire.PhoneRinging, Ext: "1001",
				Call: &wire.Call{ID: "call-1", State: "ringing", Direction: "inbound", Peer: "+4930123"}}),
				want{status: wire.Online, sessions: 1, phone: ringing, anyPhone: true}},
			{6 * ms, setPhone("u1", nil), want{changed: true, status: wire.Online, sessions: 1, anyPhone: true}},
			{7 * ms, setPhone("u1", nil), want{status: wire.Online, sessions: 1, anyPhone: true}},
			{8 * ms, setPhone("u2", nil), want{status: wire.Offline}},
			{9 * ms, get("u1"), want{status: wire.Online, sessions: 1, anyPhone: true}},
		}},
		{name: "list a tenant and get many users", steps: []step{
			{0, connect(conn("u2", "s2", "c2")), online1},
			{1 * ms, setStatus("u2", wire.Busy, ""), want{changed: true, status: wire.Busy, sessions: 1, manual: true}},
			{2 * ms, connect(c1), online1},
			{3 * ms, connect(conn("u3", "s3", "c3")), online1},
			{4 * ms, disconnect(conn("u3", "s3", "c3")), still(wire.Online, 1)},
			{5 * ms, connect(conn("u4", "s4", "c4", inTenant("globex"))), online1},
			{6 * ms, connect(conn("u5", "s5", "c5", bridge)), want{status: wire.Offline}},
			{7 * ms, listTenant(Tenant), want{users: []string{"u1:online", "u2:busy", "u3:online"}}},
			{6 * time.Second, expireDue(), want{ended: []string{"s3"}, status: wire.Offline}},
			{6 * time.Second, listTenant(Tenant), want{users: []string{"u1:online", "u2:busy"}}},
			{6 * time.Second, listTenant("globex"), want{users: []string{"u4:online"}}},
			{6 * time.Second, listTenant("nobody"), want{users: []string{}}},
			{6 * time.Second, getMany("u3", "u1", "ghost", "u2", "u4"),
				want{users: []string{"u3:offline", "u1:online", "ghost:offline", "u2:busy", "u4:offline"}}},
			{6 * time.Second, getMany(), want{users: []string{}}},
		}},
		{name: "versions only go up", steps: []step{
			{0, connect(c1), online1},
			{1 * ms, setStatus("u1", wire.Busy, ""), want{changed: true, status: wire.Busy, sessions: 1, manual: true}},
			// The clock stepped back a minute: versions still increase.
			{-time.Minute, setStatus("u1", wire.DND, ""), want{changed: true, status: wire.DND, sessions: 1, manual: true}},
			{-time.Minute, setStatus("u1", wire.Online, ""), want{changed: true, status: wire.Online, sessions: 1}},
			{-time.Minute, setIdle("u1", "s1", true), want{changed: true, status: wire.Away, sessions: 1}},
			{-time.Minute, logout("u1", "s1"), want{changed: true, status: wire.Offline, conns: []string{"c1"}}},
			// Forgotten (nothing left): coming back later continues above
			// (a new connection: connection ids are never used twice).
			{2 * ms, get("u1"), still(wire.Offline, 0)},
			{3 * ms, connect(conn("u1", "s1", "c4")), online1},
			{3 * ms, get("u1"), still(wire.Online, 1)},
		}},
		{name: "dead nodes are reaped", steps: []step{
			{0, heartbeat("n1"), want{alive: ptr(true)}},
			{0, heartbeat("n2"), want{alive: ptr(true)}},
			{1 * ms, connect(c1), online1},
			{2 * ms, connect(conn("u1", "s2", "c2", on("n2"), device("web"))),
				want{changed: true, status: wire.Online, sessions: 2, devices: []string{"desktop", "web"}}},
			{3 * ms, connect(conn("u2", "s3", "c3")), online1},
			{4 * ms, connect(conn("u2", "s3", "c4", on("n2"), child)), still(wire.Online, 1)},
			{5 * ms, connect(conn("u3", "s5", "c5")), online1},
			{6 * ms, connect(conn("u4", "s6", "c6")), online1},
			{7 * ms, disconnect(conn("u4", "s6", "c6")), still(wire.Online, 1)},
			{5 * time.Second, heartbeat("n2"), want{alive: ptr(true)}},
			{5 * time.Second, reap(), want{}},
			{8 * time.Second, reap(), want{ended: []string{"s1", "s5"}}},
			{8 * time.Second, get("u1"), want{status: wire.Online, sessions: 1, devices: []string{"web"}}},
			{8 * time.Second, get("u2"), still(wire.Online, 1)},
			{8 * time.Second, get("u3"), still(wire.Offline, 0)},
			{8 * time.Second, get("u4"), still(wire.Online, 1)},
			{8 * time.Second, expireDue(), want{ended: []string{"s6"}, status: wire.Offline}},
			{8 * time.Second, sessionOwner("s5"), want{err: presence.ErrUnknownSession}},
			{9 * time.Second, heartbeat("n1"), want{alive: ptr(false)}},
			{9 * time.Second, heartbeat("n1"), want{alive: ptr(true)}},
			{9 * time.Second, heartbeat("n2"), want{alive: ptr(true)}},
			{10 * time.Second, reap(), want{}},
			{10 * time.Second, disconnect(c1), still(wire.Online, 1)},
			{11 * time.Second, connect(c1), want{changed: true, status: wire.Online, sessions: 2, devices: []string{"desktop", "web"}}},
		}},
		{name: "removing a node ends its sessions at once", steps: []step{
			{0, connect(c1), online1},
			{1 * ms, connect(conn("u2", "s2", "c2")), online1},
			{2 * ms, connect(conn("u1", "s3", "c3", on("n2"), device("mobile"))),
				want{changed: true, status: wire.Online, sessions: 2, devices: []string{"desktop", "mobile"}}},
			{3 * ms, connect(conn("u2", "s2", "c4", on("n2"))), still(wire.Online, 1)},
			{4 * ms, heartbeat("n1"), want{alive: ptr(true)}},
			{5 * ms, removeNode("n1"), want{ended: []string{"s1"}}},
			{5 * ms, get("u1"), want{status: wire.Online, sessions: 1, devices: []string{"mobile"}}},
			{5 * ms, get("u2"), still(wire.Online, 1)},
			{6 * ms, removeNode("n2"), want{ended: []string{"s2", "s3"}}},
			{6 * ms, get("u1"), still(wire.Offline, 0)},
			{6 * ms, get("u2"), still(wire.Offline, 0)},
			{7 * ms, removeNode("n2"), want{}},
			{8 * ms, heartbeat("n1"), want{alive: ptr(true)}},
		}},
		{name: "disconnect is idempotent", steps: []step{
			{0, connect(c1), online1},
			{1 * ms, disconnect(c1), still(wire.Online, 1)},
			{2 * ms, disconnect(c1), still(wire.Online, 1)},
			{3 * ms, disconnect(conn("ghost", "sx", "cx")), still(wire.Offline, 0)},
			{6 * time.Second, expireDue(), want{ended: []string{"s1"}, status: wire.Offline}},
			{6 * time.Second, expireDue(), want{}},
			{7 * time.Second, disconnect(c1), still(wire.Offline, 0)},
			{8 * time.Second, connect(c1), online1},
			{8 * time.Second, connect(c1), still(wire.Online, 1)},
		}},
		{name: "offline keeps its version", steps: []step{
			{0, connect(c1), online1},
			{1 * ms, disconnect(c1), still(wire.Online, 1)},
			{6 * time.Second, expireDue(), want{ended: []string{"s1"}, status: wire.Offline}},
			// get and getMany repeat the offline change's version (observe
			// checks it), not version 0: a client holding u1 online takes it.
			{7 * time.Second, get("u1"), still(wire.Offline, 0)},
			{7 * time.Second, getMany("u1", "never-seen"), want{users: []string{"u1:offline", "never-seen:offline"}}},
			{8 * time.Second, disconnect(c1), still(wire.Offline, 0)},
			{9 * time.Second, setStatus("u1", wire.Busy, ""), want{err: presence.ErrOffline}},
			{10 * time.Second, expireDue(), want{}},
			{10 * time.Second, get("u1"), still(wire.Offline, 0)},
			{11 * time.Second, connect(c1), online1},
			{12 * time.Second, setPhone("u1", phone1001), want{changed: true, status: wire.Online, sessions: 1}},
			{13 * time.Second, logout("u1", "s1"), want{changed: true, status: wire.Offline, conns: []string{"c1"}}},
			{14 * time.Second, setPhone("u1", nil), want{changed: true, status: wire.Offline}},
			{15 * time.Second, get("u1"), still(wire.Offline, 0)},
		}},
		{name: "an offline version is forgotten after the version TTL",
			opt: func(o *presence.Options) { o.Grace, o.VersionTTL = 0, 2*time.Second }, steps: []step{
				{0, connect(c1), online1},
				{1 * ms, disconnect(c1), offline},
				{2 * ms, get("u1"), still(wire.Offline, 0)},
				{3 * time.Second, expireDue(), want{}},
				{3 * time.Second, forgotten("u1"), want{}},
				// Forgotten, yet the next change is above every version seen.
				{4 * time.Second, connect(c1), online1},
			}},
		{name: "zero grace ends sessions at once", opt: func(o *presence.Options) { o.Grace = 0 }, steps: []step{
			{0, connect(c1), online1},
			{1 * ms, connect(c1child), still(wire.Online, 1)},
			{2 * ms, disconnect(c1child), still(wire.Online, 1)},
			{3 * ms, disconnect(c1), offline},
			{3 * ms, sessionOwner("s1"), want{err: presence.ErrUnknownSession}},
		}},
	}
}
