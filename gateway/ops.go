package gateway

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/wire"
)

// The node's operations, shared by the WebSocket frames and the HTTP API so
// no rule has two implementations.

// setStatus sets a user's manual status and publishes the change.
func (n *Node) setStatus(ctx context.Context, tenant, user string, st wire.Status, note string) (presence.Change, error) {
	ch, err := n.store.SetStatus(ctx, tenant, user, st, note, time.Now())
	if err != nil {
		return ch, err
	}
	n.publish(ch)
	return ch, nil
}

// logoutSession ends a session at once on every node: its connections get
// bye logged_out and close 1000; presence is recomputed with no grace.
// done, when not nil, runs once the store ended the session and before any
// connection is closed (the logout frame's ok goes out before its bye).
func (n *Node) logoutSession(ctx context.Context, tenant, user, session string, done func()) error {
	ch, refs, err := n.store.Logout(ctx, tenant, user, session, time.Now())
	if err != nil {
		return err
	}
	if done != nil {
		done()
	}
	n.publish(ch)
	n.closeRefs(refs, problem.CloseNormal, problem.LoggedOut)
	n.sessionsEnded(ctx, []presence.Ended{{Tenant: tenant, User: user, Session: session}}, time.Now())
	return nil
}

// control is a message to another node's connections.
type control struct {
	Op     string   `json:"op"` // "close"
	Conns  []string `json:"conns"`
	Code   int      `json:"code"`
	Reason string   `json:"reason"`
}

// closeRefs closes connections wherever they are: local ones directly,
// others through their node's control subject.
func (n *Node) closeRefs(refs []presence.ConnRef, code int, reason problem.Code) {
	remote := map[string][]string{}
	for _, r := range refs {
		if r.Node == n.cfg.NodeID {
			if c := n.hub.get(r.Conn); c != nil {
				c.closeWith(code, reason, true)
			}
			continue
		}
		remote[r.Node] = append(remote[r.Node], r.Conn)
	}
	for node, ids := range remote {
		msg := mustJSON(control{Op: "close", Conns: ids, Code: code, Reason: string(reason)})
		if err := n.bus.PublishControl(node, msg); err != nil {
			n.log.Warn("control message failed", "to", node, "err", err)
		}
	}
}

// onControl is the bus handler of this node's control subject.
func (n *Node) onControl(data []byte) {
	var m control
	if err := json.Unmarshal(data, &m); err != nil || m.Op != "close" {
		n.log.Warn("bad control message dropped", "err", err)
		return
	}
	for _, id := range m.Conns {
		if c := n.hub.get(id); c != nil {
			c.closeWith(m.Code, problem.Code(m.Reason), true)
		}
	}
}

// dropConn is a connection's last step: it leaves the hub, gives back its
// bus interest and leaves the store (its session enters the grace).
func (n *Node) dropConn(c *conn, welcomed bool) {
	n.metrics.disconnects.Inc()
	if !welcomed {
		return
	}
	if lg := c.login(); lg != "" {
		n.logins.tracker.Remove(lg, c)
	}
	if c.watchOnly {
		n.dropWatcher(c)
		return
	}
	n.hub.remove(c)
	if n.hub.userConnCount(c.tenant, c.user) == 0 {
		n.manual.forget(c.tenant, c.user)
	}
	n.unwatchUser(c)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	now := time.Now()
	c.mu.Lock()
	unsure := c.unsure
	c.mu.Unlock()
	if unsure {
		// A re-assert's Connect of it failed and may still run in Redis:
		// take that back too (see assertConn).
		n.pending.addAt(c.info().Ref(), now.Add(opTimeout))
	}
	ch, err := n.store.Disconnect(ctx, c.info().Ref(), now)
	if err != nil {
		// The connection key stays until the store answers again: the
		// heartbeat loop retries (nothing is silently lost).
		n.log.Warn("disconnect not recorded; will retry", "conn", c.id, "err", err)
		n.pending.add(c.info().Ref())
		return
	}
	n.publish(ch)
}

// watchUser takes the bus interest of a user connection: the tenant's call
// events (its call frames) and the user's own presence, so this node learns
// a manual status set anywhere (another node, the HTTP API) and can
// re-assert it after the store lost its state. On error nothing is held.
func (n *Node) watchUser(c *conn) error {
	if err := n.bus.WatchCalls(c.tenant); err != nil {
		return err
	}
	if err := n.hub.watchSelf(c); err != nil {
		n.bus.UnwatchCalls(c.tenant)
		return err
	}
	c.watching = true
	return nil
}

// unwatchUser gives back what watchUser took, once, and only if it took
// it: an unwatch of interest never held would drop another connection's.
func (n *Node) unwatchUser(c *conn) {
	if !c.watching {
		return
	}
	c.watching = false
	n.hub.unwatchSelf(c)
	n.bus.UnwatchCalls(c.tenant)
}

// undoConnect takes back a Connect that failed but may have been applied
// (Redis ran the script, the reply was lost or came after the deadline),
// so a refused hello never leaves its connection in the store. It runs at
// once with its own deadline; if that fails, the heartbeat loop retries it
// (pending drops) until the store takes it. Either way it runs once more
// from the first heartbeat at least opTimeout later, for a Connect that
// Redis executed only after the first undo (sent before our deadline,
// queued behind a slow script): Disconnect is idempotent. Should the undo
// never get through while the node lives, the record goes with the node:
// the reaper removes every connection of a dead node, and a node restarted
// with the same id removes its earlier run's.
func (n *Node) undoConnect(ref presence.ConnRef) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	now := time.Now()
	if ch, err := n.store.Disconnect(ctx, ref, now); err != nil {
		n.log.Warn("undo of a failed connect not recorded; will retry", "conn", ref.Conn, "err", err)
		n.pending.add(ref)
	} else {
		n.publish(ch)
	}
	n.pending.addAt(ref, now.Add(opTimeout))
}

// sessionsEnded tells telephony about ended bridge sessions (their devices
// turn unknown) and publishes what that changed.
func (n *Node) sessionsEnded(ctx context.Context, ended []presence.Ended, now time.Time) {
	for _, e := range ended {
		if !e.Bridge || n.ipt == nil {
			continue
		}
		res, err := n.ipt.SessionEnded(ctx, e.Tenant, e.Session, now)
		if err != nil {
			n.log.Warn("telephony: bridge session end failed", "session", e.Session, "err", err)
			continue
		}
		n.publishIPT(e.Tenant, res)
	}
}

// manualStatuses remembers the manual status of users with connections on
// this node, from every change the node publishes or hears, so it can
// re-assert them when the store lost them: the node was declared dead (a
// pause, a stalled link) and its connections reaped, or Redis restarted
// empty. The clients of those connections never went offline, so their
// users keep their manual status (contract §3.1: it lasts until the user
// goes offline).
//
// What the store says after such a loss must not overwrite it: the
// reaper's offline, or the presence of the connections re-asserted without
// a manual status (by this node or another). So an offline heard while the
// node holds connections of the user (callers check) marks the status lost
// instead of clearing it, and so does a re-assert (restoring); while lost,
// presences without a manual status are taken for consequences of the loss
// and ignored. A manual status heard (the user chose one, or the restore got
// through) ends it. A user who clears their status ("online") on another
// session while this node has it lost keeps that choice: the restore is
// refused by the store (presence.ErrStatusChosen: the user chose a status
// above the version this node learnt its status from) and forgotten.
type manualStatuses struct {
	mu sync.Mutex
	m  map[userKey]manualStatus
	// restoring: users whose status a re-assert must still set again; the
	// heartbeat loop retries until the store took it (restoreManual).
	restoring map[userKey]struct{}
}

type manualStatus struct {
	status  wire.Status // "" when the user has no manual status
	note    string
	version int64 // of the PRESENCE it was learnt from
	lost    bool  // the store lost it (see manualStatuses)
}

// observe records p's manual status (or that there is none) unless a
// later version was already seen: changes come from this node's own
// publishes, from NATS and from store reads, in no set order. Callers
// observe only users with connections on this node.
func (s *manualStatuses) observe(p wire.Presence) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := userKey{p.Tenant, p.User}
	cur, ok := s.m[k]
	if ok && p.Version <= cur.version {
		return
	}
	switch {
	case p.Status == wire.Offline:
		// The user has an open connection here, so this is the store
		// losing it (or a logout about to close it): keep the status.
		if ok {
			cur.lost = true
			s.m[k] = cur
		}
		return
	case !p.Manual && ok && cur.lost:
		return
	}
	if s.m == nil {
		s.m = map[userKey]manualStatus{}
	}
	m := manualStatus{version: p.Version}
	if p.Manual {
		m.status, m.note = presence.WithCustom(p.Status, p.Custom), p.Note
	}
	s.m[k] = m
	delete(s.restoring, k)
}

func (s *manualStatuses) forget(tenant, user string) {
	s.mu.Lock()
	delete(s.m, userKey{tenant, user})
	delete(s.restoring, userKey{tenant, user})
	s.mu.Unlock()
}

// restoreAll marks every known manual status lost and to be restored (a
// re-assert begins: the store lost this node's connections).
func (s *manualStatuses) restoreAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, m := range s.m {
		if m.status == "" {
			continue
		}
		m.lost = true
		s.m[k] = m
		if s.restoring == nil {
			s.restoring = map[userKey]struct{}{}
		}
		s.restoring[k] = struct{}{}
	}
}

// restored ends the restore of k's status: the store took it (the change,
// when there was one, is observed as well).
func (s *manualStatuses) restored(k userKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.restoring, k)
	if m, ok := s.m[k]; ok {
		m.lost = false
		s.m[k] = m
	}
}

// toRestore returns the statuses a re-assert must still set.
func (s *manualStatuses) toRestore() map[userKey]manualStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[userKey]manualStatus, len(s.restoring))
	for k := range s.restoring {
		out[k] = s.m[k]
	}
	return out
}

func (s *manualStatuses) snapshot() map[userKey]manualStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[userKey]manualStatus, len(s.m))
	for k, v := range s.m {
		out[k] = v
	}
	return out
}
