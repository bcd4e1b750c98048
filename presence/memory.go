package presence

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/pgw/pgw/wire"
)

// Memory is the in-process Store of the embedded default (no PGW_REDIS_URL).
// It holds everything under one mutex: a single node needs nothing faster, and
// the rules stay easy to read. It is the reference the Redis store is tested
// against (storetest).
type Memory struct {
	opt Options

	mu       sync.Mutex
	users    map[userKey]*memUser
	sessions map[sessionKey]string           // tenant's session id -> its user
	nodes    map[string]time.Time            // node -> last heartbeat
	reaped   map[string]bool                 // nodes declared dead
	byNode   map[string]map[string]*ConnInfo // node -> conn id -> conn (the memUser's)
	// loggedOut: connections of logged-out sessions (tenant, user and
	// conn id) -> until when a Connect of them is refused (ErrLoggedOut).
	loggedOut map[ConnRef]time.Time
}

type userKey struct{ tenant, user string }

// sessionKey names a session: its id is scoped by its tenant.
type sessionKey struct{ tenant, session string }

type memUser struct {
	st UserState
	// conns: a user's few connections (at most MaxConnsFor), looked up by
	// id with a scan; byNode shares each *ConnInfo (a 120-byte ConnInfo as
	// a map value, twice, was most of an idle connection's memory, and a
	// map for two connections is ~200 bytes).
	conns   []*ConnInfo
	last    wire.Presence
	version int64
	// chosen is the version at which the user last chose a status
	// (SetStatus; RestoreStatus yields to a later one); 0 once the user has
	// nothing left, as the Redis store's hash is deleted then.
	chosen int64
	// forgetAt is set while the user has nothing left but the version of
	// its offline change, kept until then (Options.VersionTTL, §3.2).
	forgetAt time.Time
}

// NewMemory returns an empty in-process store. A zero Options.VersionTTL
// takes the default of DefaultOptions.
func NewMemory(opt Options) *Memory {
	if opt.VersionTTL <= 0 {
		opt.VersionTTL = DefaultOptions().VersionTTL
	}
	return &Memory{
		opt:       opt,
		users:     map[userKey]*memUser{},
		sessions:  map[sessionKey]string{},
		nodes:     map[string]time.Time{},
		reaped:    map[string]bool{},
		byNode:    map[string]map[string]*ConnInfo{},
		loggedOut: map[ConnRef]time.Time{},
	}
}

var _ Store = (*Memory)(nil)

func (m *Memory) user(t, u string) *memUser {
	k := userKey{t, u}
	mu := m.users[k]
	if mu == nil {
		mu = &memUser{st: UserState{Sessions: map[string]*SessionState{}}}
		mu.last = wire.OfflinePresence(t, u)
		m.users[k] = mu
	}
	return mu
}

// commit recomputes the presence of u after a transition and bumps its
// version when the PRESENCE object changed. A user with nothing left keeps
// only its offline presence, with its version, until VersionTTL has passed
// (ExpireDue forgets it then); one never published is forgotten at once.
func (m *Memory) commit(t, u string, mu *memUser, now time.Time) Change {
	if live := Aggregate(t, u, &mu.st); live.Sessions == 0 && mu.st.Manual != "" {
		// A manual status lasts only while the user is present.
		mu.st.Manual, mu.st.Note = "", ""
	}
	p := Aggregate(t, u, &mu.st)
	ch := Change{Presence: mu.last}
	if !p.SameState(mu.last) {
		mu.version = NextVersion(mu.version, now)
		p.Version, p.Since = mu.version, wire.FormatSince(now)
		mu.last = p
		ch = Change{Presence: p, Changed: true}
	}
	mu.forgetAt = time.Time{}
	if len(mu.conns) == 0 && len(mu.st.Sessions) == 0 && mu.st.Phone == nil {
		mu.chosen = 0
		if mu.version == 0 {
			delete(m.users, userKey{t, u})
		} else {
			// After the TTL, NextVersion's clock floor keeps versions
			// increasing when the user comes back.
			mu.forgetAt = now.Add(m.opt.VersionTTL)
		}
	}
	return ch
}

func (m *Memory) Connect(_ context.Context, c ConnInfo, now time.Time) (Change, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if until, ok := m.loggedOut[ConnRef{Tenant: c.Tenant, User: c.User, Conn: c.Conn}]; ok && now.Before(until) {
		return Change{}, fmt.Errorf("connection %q: %w", c.Conn, ErrLoggedOut)
	}
	if owner, ok := m.sessions[sessionKey{c.Tenant, c.Session}]; ok && owner != c.User {
		return Change{}, fmt.Errorf("session %q: %w", c.Session, ErrSessionConflict)
	}
	mu := m.user(c.Tenant, c.User)
	i := mu.connIndex(c.Conn)
	if i < 0 && len(mu.conns) >= m.opt.MaxConnsFor(c.Tenant) {
		return Change{}, fmt.Errorf("user %q holds %d connections: %w", c.User, len(mu.conns), ErrTooManyConnections)
	}
	ci := &c
	if i >= 0 {
		mu.conns[i] = ci
	} else {
		mu.conns = append(mu.conns, ci)
	}
	if m.byNode[c.Node] == nil {
		m.byNode[c.Node] = map[string]*ConnInfo{}
	}
	m.byNode[c.Node][c.Conn] = ci
	m.sessions[sessionKey{c.Tenant, c.Session}] = c.User
	s := mu.st.Sessions[c.Session]
	if s == nil {
		s = &SessionState{Device: c.Device, Bridge: c.Bridge}
		mu.st.Sessions[c.Session] = s
	}
	s.Conns = m.countConns(mu, c.Session)
	s.GraceUntil = time.Time{}
	return m.commit(c.Tenant, c.User, mu, now), nil
}

// connIndex is the index of connection id in mu.conns, -1 if absent.
func (mu *memUser) connIndex(id string) int {
	return slices.IndexFunc(mu.conns, func(c *ConnInfo) bool { return c.Conn == id })
}

// removeConn removes connection id and reports whether it was there.
func (mu *memUser) removeConn(id string) bool {
	i := mu.connIndex(id)
	if i < 0 {
		return false
	}
	mu.conns = slices.Delete(mu.conns, i, i+1)
	if len(mu.conns) == 0 {
		mu.conns = nil
	}
	return true
}

func (m *Memory) countConns(mu *memUser, session string) int {
	n := 0
	for _, c := range mu.conns {
		if c.Session == session {
			n++
		}
	}
	return n
}

func (m *Memory) Disconnect(_ context.Context, c ConnRef, now time.Time) (Change, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.disconnect(c, now, m.opt.GraceFor(c.Tenant)), nil
}

// disconnect removes one connection; a session left without connections
// enters a grace of the given length (0 ends it at once).
func (m *Memory) disconnect(c ConnRef, now time.Time, grace time.Duration) Change {
	mu := m.users[userKey{c.Tenant, c.User}]
	if mu == nil {
		return Change{Presence: wire.OfflinePresence(c.Tenant, c.User)}
	}
	if !mu.removeConn(c.Conn) {
		return Change{Presence: mu.last}
	}
	if byNode := m.byNode[c.Node]; byNode != nil {
		delete(byNode, c.Conn)
		if len(byNode) == 0 {
			delete(m.byNode, c.Node)
		}
	}
	if s := mu.st.Sessions[c.Session]; s != nil {
		s.Conns = m.countConns(mu, c.Session)
		if s.Conns == 0 {
			if grace <= 0 {
				m.endSession(c.Tenant, mu, c.Session)
			} else {
				s.GraceUntil = now.Add(grace)
			}
		}
	}
	return m.commit(c.Tenant, c.User, mu, now)
}

func (m *Memory) endSession(tenant string, mu *memUser, session string) {
	delete(mu.st.Sessions, session)
	delete(m.sessions, sessionKey{tenant, session})
}

func (m *Memory) SetStatus(_ context.Context, t, u string, s wire.Status, note string, now time.Time) (Change, error) {
	return m.setStatus(t, u, s, note, -1, now)
}

func (m *Memory) RestoreStatus(_ context.Context, t, u string, s wire.Status, note string, since int64, now time.Time) (Change, error) {
	return m.setStatus(t, u, s, note, since, now)
}

// setStatus is SetStatus (since < 0: the user's choice, remembered) and
// RestoreStatus (yields to a choice above since).
func (m *Memory) setStatus(t, u string, s wire.Status, note string, since int64, now time.Time) (Change, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mu := m.users[userKey{t, u}]
	if mu == nil || Aggregate(t, u, &mu.st).Sessions == 0 {
		return Change{}, fmt.Errorf("user %q: %w", u, ErrOffline)
	}
	if since >= 0 && mu.chosen > since {
		return Change{}, fmt.Errorf("user %q chose a status at version %d: %w", u, mu.chosen, ErrStatusChosen)
	}
	if s == wire.Online {
		mu.st.Manual, mu.st.Note = "", ""
	} else {
		mu.st.Manual, mu.st.Note = s, note
	}
	ch := m.commit(t, u, mu, now)
	if since < 0 {
		mu.chosen = mu.version
	}
	return ch, nil
}

func (m *Memory) SetIdle(_ context.Context, t, u, session string, idle bool, now time.Time) (Change, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mu := m.users[userKey{t, u}]
	if mu == nil || mu.st.Sessions[session] == nil {
		return Change{}, fmt.Errorf("session %q: %w", session, ErrUnknownSession)
	}
	mu.st.Sessions[session].Idle = idle
	return m.commit(t, u, mu, now), nil
}

func (m *Memory) Logout(_ context.Context, t, u, session string, now time.Time) (Change, []ConnRef, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mu := m.users[userKey{t, u}]
	if mu == nil || mu.st.Sessions[session] == nil {
		return Change{}, nil, fmt.Errorf("session %q: %w", session, ErrUnknownSession)
	}
	var refs []ConnRef
	for _, c := range mu.conns {
		if c.Session == session {
			refs = append(refs, c.Ref())
		}
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Conn < refs[j].Conn })
	for _, r := range refs {
		mu.removeConn(r.Conn)
		if byNode := m.byNode[r.Node]; byNode != nil {
			delete(byNode, r.Conn)
		}
		m.loggedOut[ConnRef{Tenant: r.Tenant, User: r.User, Conn: r.Conn}] = now.Add(LoggedOutTTL)
	}
	m.endSession(t, mu, session)
	return m.commit(t, u, mu, now), refs, nil
}

func (m *Memory) SessionOwner(_ context.Context, tenant, session string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.sessions[sessionKey{tenant, session}]
	if !ok {
		return "", fmt.Errorf("session %q: %w", session, ErrUnknownSession)
	}
	return u, nil
}

func (m *Memory) SetPhone(_ context.Context, t, u string, p *wire.Phone, now time.Time) (Change, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mu := m.user(t, u)
	if p != nil {
		cp := *p
		if p.Call != nil {
			call := *p.Call
			cp.Call = &call
		}
		p = &cp
	}
	mu.st.Phone = p
	return m.commit(t, u, mu, now), nil
}

func (m *Memory) Get(_ context.Context, t, u string) (wire.Presence, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.get(t, u), nil
}

func (m *Memory) get(t, u string) wire.Presence {
	if mu := m.users[userKey{t, u}]; mu != nil {
		return mu.last
	}
	return wire.OfflinePresence(t, u)
}

func (m *Memory) GetMany(_ context.Context, t string, users []string) ([]wire.Presence, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]wire.Presence, len(users))
	for i, u := range users {
		out[i] = m.get(t, u)
	}
	return out, nil
}

func (m *Memory) ListTenant(_ context.Context, t string) ([]wire.Presence, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []wire.Presence{}
	for k, mu := range m.users {
		if k.tenant == t && mu.last.Status != wire.Offline {
			out = append(out, mu.last)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].User < out[j].User })
	return out, nil
}

func (m *Memory) ExpireDue(_ context.Context, now time.Time) ([]Ended, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Ended
	for r, until := range m.loggedOut {
		if !now.Before(until) {
			delete(m.loggedOut, r)
		}
	}
	for k, mu := range m.users {
		if !mu.forgetAt.IsZero() && !now.Before(mu.forgetAt) {
			delete(m.users, k)
			continue
		}
		var due []string
		for id, s := range mu.st.Sessions {
			if s.Conns == 0 && !s.GraceUntil.IsZero() && !now.Before(s.GraceUntil) {
				due = append(due, id)
			}
		}
		sort.Strings(due)
		for _, id := range due {
			bridge := mu.st.Sessions[id].Bridge
			m.endSession(k.tenant, mu, id)
			out = append(out, Ended{Tenant: k.tenant, User: k.user, Session: id, Bridge: bridge,
				Change: m.commit(k.tenant, k.user, mu, now)})
		}
	}
	return out, nil
}

func (m *Memory) Heartbeat(_ context.Context, node string, now time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	alive := !m.reaped[node]
	delete(m.reaped, node)
	m.nodes[node] = now
	return alive, nil
}

func (m *Memory) ReapDeadNodes(_ context.Context, now time.Time) ([]Ended, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Ended
	for node, beat := range m.nodes {
		if now.Sub(beat) < m.opt.NodeTTL {
			continue
		}
		delete(m.nodes, node)
		m.reaped[node] = true
		out = append(out, m.removeNode(node, now)...)
	}
	return out, nil
}

func (m *Memory) RemoveNode(_ context.Context, node string, now time.Time) ([]Ended, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.nodes, node)
	return m.removeNode(node, now), nil
}

// removeNode drops every connection of node; sessions left without a
// connection end at once (their node is gone, so no window can be closing).
func (m *Memory) removeNode(node string, now time.Time) []Ended {
	conns := m.byNode[node]
	ids := make([]string, 0, len(conns))
	for id := range conns {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []Ended
	for _, id := range ids {
		c := conns[id]
		mu := m.users[userKey{c.Tenant, c.User}]
		var bridge bool
		if mu != nil && mu.st.Sessions[c.Session] != nil {
			bridge = mu.st.Sessions[c.Session].Bridge
		}
		ch := m.disconnect(c.Ref(), now, 0)
		if mu != nil && mu.st.Sessions[c.Session] == nil {
			out = append(out, Ended{Tenant: c.Tenant, User: c.User, Session: c.Session, Bridge: bridge, Change: ch})
		}
	}
	delete(m.byNode, node)
	return out
}

func (m *Memory) Ping(context.Context) error { return nil }
func (m *Memory) Close() error               { return nil }
