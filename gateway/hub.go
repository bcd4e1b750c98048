package gateway

import (
	"encoding/json"
	"sync"

	"github.com/pgw/pgw/presence"
)

type userKey struct{ tenant, user string }

// hub is the node's registry of local connections and of which local
// connections watch which users. Presence fan-out happens under watchMu so a
// subscribe reply (which sets a connection's starting version) and the
// pushes after it are queued in version order.
type hub struct {
	mu    sync.RWMutex
	conns map[string]*conn
	// A user's connections are few (≤ MaxConnsPerUser): a slice costs a
	// fraction of a map on every idle connection.
	byUser map[userKey][]*conn
	// watchers counts each user's watch-only connections (not in byUser).
	watchers map[userKey]int

	watchMu sync.Mutex
	watch   map[userKey]map[*conn]struct{}
	tenants map[string]map[*conn]struct{}
	// last is the newest presence this node has seen per watched user; a
	// message at or below its version is dropped, so no connection is ever
	// pushed a version it has passed, and a subscribe reply never carries an
	// older state than one the node already fanned out.
	last map[userKey]cached
}

// cached is a user's newest PRESENCE JSON seen by this node.
type cached struct {
	version int64
	data    json.RawMessage
}

func newHub() *hub {
	return &hub{
		conns:    map[string]*conn{},
		byUser:   map[userKey][]*conn{},
		watchers: map[userKey]int{},
		watch:    map[userKey]map[*conn]struct{}{},
		tenants:  map[string]map[*conn]struct{}{},
		last:     map[userKey]cached{},
	}
}

func addTo[K comparable](m map[K]map[*conn]struct{}, k K, c *conn) {
	set := m[k]
	if set == nil {
		set = map[*conn]struct{}{}
		m[k] = set
	}
	set[c] = struct{}{}
}

func removeFrom[K comparable](m map[K]map[*conn]struct{}, k K, c *conn) {
	if set := m[k]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(m, k)
		}
	}
}

func appendTo[K comparable](m map[K][]*conn, k K, c *conn) { m[k] = append(m[k], c) }

func dropFrom[K comparable](m map[K][]*conn, k K, c *conn) {
	list := m[k]
	for i, x := range list {
		if x == c {
			list[i] = list[len(list)-1]
			list[len(list)-1] = nil
			list = list[:len(list)-1]
			break
		}
	}
	if len(list) == 0 {
		delete(m, k)
	} else {
		m[k] = list
	}
}

// add registers a welcomed connection.
func (h *hub) add(c *conn) {
	h.mu.Lock()
	h.conns[c.id] = c
	appendTo(h.byUser, userKey{c.tenant, c.user}, c)
	h.mu.Unlock()
}

// remove unregisters a connection and returns the users and tenant watch it
// held, for the caller to release their bus interest.
func (h *hub) remove(c *conn) (users []string, tenant bool) {
	h.mu.Lock()
	delete(h.conns, c.id)
	if k := (userKey{c.tenant, c.user}); !c.watchOnly {
		dropFrom(h.byUser, k, c)
	} else if h.watchers[k]--; h.watchers[k] <= 0 {
		delete(h.watchers, k)
	}
	h.mu.Unlock()

	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	c.mu.Lock()
	users = c.subs.list
	tenant = c.tenantSub
	c.subs, c.tenantSub = userSet{}, false
	c.mu.Unlock()
	for _, u := range users {
		h.unwatchLocked(c, u)
	}
	if tenant {
		removeFrom(h.tenants, c.tenant, c)
		h.forgetTenantLocked(c.tenant)
	}
	return users, tenant
}

func (h *hub) get(id string) *conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.conns[id]
}

func (h *hub) count() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.conns)
}

// all returns a snapshot of the local connections.
func (h *hub) all() []*conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]*conn, 0, len(h.conns))
	for _, c := range h.conns {
		out = append(out, c)
	}
	return out
}

// ofUser returns the local connections of a user.
func (h *hub) ofUser(tenant, user string) []*conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return append([]*conn(nil), h.byUser[userKey{tenant, user}]...)
}

// userConnCount counts a user's local connections.
func (h *hub) userConnCount(tenant, user string) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.byUser[userKey{tenant, user}])
}

// subscribe makes c watch the users of userSnap (one by one) and, when
// tenant is set, the whole tenant (tenantSnap is its list). It merges the
// snapshots with what the node saw since and queues the reply built from the
// merged list — all under watchMu, so every later push for these users has
// a higher version than the reply. It returns the users c did not watch
// before (the caller took bus interest in every user beforehand and releases
// the others).
func (h *hub) subscribe(c *conn, userSnap, tenantSnap []presence.Presence, tenant bool, reply func([]json.RawMessage) []byte) (newUsers map[string]bool) {
	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	newUsers = map[string]bool{}
	merged := make([]json.RawMessage, 0, len(userSnap)+len(tenantSnap))
	listed := make(map[string]bool, len(userSnap))
	c.mu.Lock()
	for _, p := range userSnap {
		k := userKey{p.Tenant, p.User}
		data := h.newestLocked(k, p)
		if !listed[p.User] {
			listed[p.User] = true
			merged = append(merged, data)
		}
		if c.subs.add(p.User) {
			newUsers[p.User] = true
			addTo(h.watch, k, c)
		}
	}
	c.subs.compact()
	if tenant && !c.tenantSub {
		c.tenantSub = true
		addTo(h.tenants, c.tenant, c)
	}
	for _, p := range tenantSnap {
		data := h.newestLocked(userKey{p.Tenant, p.User}, p)
		if !listed[p.User] {
			listed[p.User] = true
			merged = append(merged, data)
		}
	}
	c.mu.Unlock()
	c.send(reply(merged))
	return newUsers
}

// newestLocked returns the newer of p and what the node has cached for k,
// caching p when it is newer.
func (h *hub) newestLocked(k userKey, p presence.Presence) json.RawMessage {
	if c, ok := h.last[k]; ok && c.version >= p.Version {
		return c.data
	}
	data := mustJSON(p)
	h.last[k] = cached{version: p.Version, data: data}
	return data
}

// unsubscribe stops c watching users (and the tenant); it returns the users
// it really watched, whose bus interest the caller releases.
func (h *hub) unsubscribe(c *conn, users []string, tenant bool) (released []string, tenantReleased bool) {
	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	c.mu.Lock()
	for _, u := range users {
		if c.subs.remove(u) {
			released = append(released, u)
		}
	}
	if tenant && c.tenantSub {
		c.tenantSub = false
		tenantReleased = true
	}
	c.mu.Unlock()
	for _, u := range released {
		h.unwatchLocked(c, u)
	}
	if tenantReleased {
		removeFrom(h.tenants, c.tenant, c)
		h.forgetTenantLocked(c.tenant)
	}
	return released, tenantReleased
}

func (h *hub) unwatchLocked(c *conn, user string) {
	k := userKey{c.tenant, user}
	removeFrom(h.watch, k, c)
	if h.watch[k] == nil && h.tenants[c.tenant] == nil {
		delete(h.last, k)
	}
}

// forgetTenantLocked drops remembered versions of a tenant nobody watches
// as a whole any more (users still watched one by one keep theirs).
func (h *hub) forgetTenantLocked(tenant string) {
	if h.tenants[tenant] != nil {
		return
	}
	for k := range h.last {
		if k.tenant == tenant && h.watch[k] == nil {
			delete(h.last, k)
		}
	}
}

// deliver pushes a presence message to the local watchers of its user,
// unless this node already passed that version. It reports how many
// connections it was queued for.
func (h *hub) deliver(tenant, user string, version int64, data []byte) int {
	k := userKey{tenant, user}
	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	users, all := h.watch[k], h.tenants[tenant]
	if users == nil && all == nil {
		return 0
	}
	if c, ok := h.last[k]; ok && version <= c.version {
		return 0
	}
	h.last[k] = cached{version: version, data: data}
	n := 0
	for c := range all {
		c.send(data)
		n++
	}
	for c := range users {
		if _, dup := all[c]; dup {
			continue
		}
		c.send(data)
		n++
	}
	return n
}

// shownPresent reports whether the newest presence this node fanned out for
// a user is not offline, with its version.
func (h *hub) shownPresent(tenant, user string) (int64, bool) {
	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	c, ok := h.last[userKey{tenant, user}]
	if !ok || c.version == 0 {
		return 0, false
	}
	var p struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(c.data, &p)
	return c.version, p.Status != "offline"
}

// watched returns what this node's connections watch, for a resync.
func (h *hub) watched() (users map[string][]string, tenants []string) {
	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	users = map[string][]string{}
	for k := range h.watch {
		users[k.tenant] = append(users[k.tenant], k.user)
	}
	for t := range h.tenants {
		tenants = append(tenants, t)
		// Users of a watched tenant seen before may have gone offline
		// meanwhile (ListTenant does not return them): re-read them too.
		for k := range h.last {
			if k.tenant == t && h.watch[k] == nil {
				users[t] = append(users[t], k.user)
			}
		}
	}
	return users, tenants
}
