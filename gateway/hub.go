package gateway

import (
	"encoding/json"
	"hash/maphash"
	"sync"

	"github.com/pgw/pgw/wire"
)

type userKey struct{ tenant, user string }

// hubShards spreads the watch state over this many locks (centrifuge's hub
// does the same): fan-out to users of different shards runs in parallel,
// while every message of one user goes through one shard's lock, which keeps
// that user's versions in order.
const hubShards = 64

// interest is the bus side of the hub: the node's NATS interest in users'
// presence. Watch and Unwatch are idempotent; the hub alone calls them, for
// a user's first holder and after its last.
type interest interface {
	Watch(tenant, user string) error
	Unwatch(tenant, user string)
	WatchTenant(tenant string) error
	UnwatchTenant(tenant string)
}

// hub is the node's registry of local connections, of which of them watch
// which users, and the owner of the node's bus interest in presence: a user
// is watched on the bus while it has a holder here (a connection watching
// it, a subscribe in flight, or a connection of the user itself, which
// learns its own manual status that way).
type hub struct {
	// bus is set once, before the node admits a connection.
	bus interest

	mu    sync.RWMutex
	conns map[string]*conn
	// A user's connections are few (≤ MaxConnsPerUser): a slice costs a
	// fraction of a map on every idle connection.
	byUser map[userKey][]*conn
	// watchers counts each user's watch-only connections (not in byUser).
	watchers map[userKey]int

	seed   maphash.Seed
	shards [hubShards]hubShard
	// tenants are the whole-tenant watches (subscribe {tenant:true}). It is
	// written only with every shard locked and read with any one locked.
	tenants map[string]*tenantWatch
}

// hubShard holds the watch state of the users that hash to it.
type hubShard struct {
	mu    sync.Mutex
	watch map[userKey]*watchEntry // the connections watching each user
	// pending counts subscribes that took interest in a user and have not
	// queued their reply yet; self counts the user's own connections.
	pending map[userKey]int
	self    map[userKey]int
	// last is the newest presence this node has seen per watched user; a
	// message at or below its version is dropped, so no connection is ever
	// pushed a version it has passed, and a subscribe reply never carries an
	// older state than one the node already fanned out.
	last map[userKey]cached
}

// tenantWatch is a tenant watched as a whole: its connections and the
// tenant subscribes in flight.
type tenantWatch struct {
	conns   map[*conn]struct{}
	pending int
}

// cached is a user's newest PRESENCE JSON seen by this node, with its
// status beside it: known when the node built the JSON itself (a subscribe
// snapshot), "" when it came from the bus as bytes until shownPresent needs
// it (decoded then once, not on every delivery).
type cached struct {
	version int64
	data    json.RawMessage
	status  wire.Status
}

func newHub() *hub {
	h := &hub{
		conns:    map[string]*conn{},
		byUser:   map[userKey][]*conn{},
		watchers: map[userKey]int{},
		seed:     maphash.MakeSeed(),
		tenants:  map[string]*tenantWatch{},
	}
	for i := range h.shards {
		s := &h.shards[i]
		s.watch = map[userKey]*watchEntry{}
		s.pending = map[userKey]int{}
		s.self = map[userKey]int{}
		s.last = map[userKey]cached{}
	}
	return h
}

func (h *hub) shardIndex(k userKey) int {
	var m maphash.Hash
	m.SetSeed(h.seed)
	m.WriteString(k.tenant)
	m.WriteByte(0)
	m.WriteString(k.user)
	return int(m.Sum64() % hubShards)
}

func (h *hub) shard(k userKey) *hubShard { return &h.shards[h.shardIndex(k)] }

// lockShards locks the shards of users of tenant (every shard when all is
// set), in index order so two callers never wait on each other; it returns
// the unlock.
func (h *hub) lockShards(tenant string, users []string, all bool) func() {
	var want [hubShards]bool
	for _, u := range users {
		want[h.shardIndex(userKey{tenant, u})] = true
	}
	for i := range h.shards {
		if all || want[i] {
			h.shards[i].mu.Lock()
		}
	}
	return func() {
		for i := range h.shards {
			if all || want[i] {
				h.shards[i].mu.Unlock()
			}
		}
	}
}

// holders counts what holds the bus interest in k.
func (s *hubShard) holders(k userKey) int { return s.watchers(k) + s.pending[k] + s.self[k] }

// watchEntry is a watched user of a shard: its key, whose user name the
// watchers' subscription lists share (userSet), and its watchers.
type watchEntry struct {
	key   userKey
	conns connSet
}

// watchers counts the connections watching k.
func (s *hubShard) watchers(k userKey) int {
	if e := s.watch[k]; e != nil {
		return e.conns.len()
	}
	return 0
}

// addWatcher makes c watch k (it did not) and returns k's entry.
func (s *hubShard) addWatcher(k userKey, c *conn) *watchEntry {
	e := s.watch[k]
	if e == nil {
		e = &watchEntry{key: k}
		s.watch[k] = e
	}
	e.conns.add(c)
	return e
}

// removeWatcher stops c watching k.
func (s *hubShard) removeWatcher(k userKey, c *conn) {
	e := s.watch[k]
	if e == nil {
		return
	}
	e.conns.remove(c)
	if e.conns.len() == 0 {
		delete(s.watch, k)
	}
}

// watchedLocked reports whether the node keeps k's newest presence: a
// connection watches it or is about to (self-interest alone keeps nothing).
func (h *hub) watchedLocked(s *hubShard, k userKey) bool {
	return s.watchers(k) > 0 || s.pending[k] > 0 || h.tenants[k.tenant] != nil
}

// acquireLocked adds a holder of k with inc; the first takes bus interest.
// On error nothing changed.
func (h *hub) acquireLocked(s *hubShard, k userKey, inc func()) error {
	if s.holders(k) == 0 {
		if err := h.bus.Watch(k.tenant, k.user); err != nil {
			return err
		}
	}
	inc()
	return nil
}

// releasedLocked runs after a holder of k was removed: without holders the
// bus interest goes, and without watchers the cached presence.
func (h *hub) releasedLocked(s *hubShard, k userKey) {
	if s.holders(k) == 0 {
		h.bus.Unwatch(k.tenant, k.user)
	}
	if !h.watchedLocked(s, k) {
		delete(s.last, k)
	}
}

func decrement[K comparable](m map[K]int, k K) {
	if m[k] <= 1 {
		delete(m, k)
	} else {
		m[k]--
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

// watchSelf takes the bus interest a user connection has in its own user
// (it learns a manual status set anywhere, to re-assert it after the store
// lost its state). On error nothing is held.
func (h *hub) watchSelf(c *conn) error {
	k := userKey{c.tenant, c.user}
	s := h.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	return h.acquireLocked(s, k, func() { s.self[k]++ })
}

// unwatchSelf gives back what watchSelf took.
func (h *hub) unwatchSelf(c *conn) {
	k := userKey{c.tenant, c.user}
	s := h.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	decrement(s.self, k)
	h.releasedLocked(s, k)
}

// add registers a welcomed connection.
func (h *hub) add(c *conn) {
	h.mu.Lock()
	h.conns[c.id] = c
	appendTo(h.byUser, userKey{c.tenant, c.user}, c)
	h.mu.Unlock()
}

// remove unregisters a connection and ends every watch it held. Like
// subscribe and unsubscribe it runs on the connection's own goroutine, so
// its watch list does not change meanwhile.
func (h *hub) remove(c *conn) {
	h.mu.Lock()
	delete(h.conns, c.id)
	if k := (userKey{c.tenant, c.user}); !c.watchOnly {
		dropFrom(h.byUser, k, c)
	} else if h.watchers[k]--; h.watchers[k] <= 0 {
		delete(h.watchers, k)
	}
	h.mu.Unlock()

	c.mu.Lock()
	// A copy: unsubscribe removes from c.subs while it walks users (the
	// list itself would shift under it and every other watch would stay).
	users, tenant := c.subs.names(), c.tenantSub
	c.mu.Unlock()
	h.unsubscribe(c, users, tenant)
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

// ofTenant returns the local connections of one tenant.
func (h *hub) ofTenant(tenant string) []*conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []*conn
	for _, c := range h.conns {
		if c.tenant == tenant {
			out = append(out, c)
		}
	}
	return out
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

// snapshot is what a subscribe reads from the store once the bus interest
// is in place: the users' presence, in order, and the tenant's list.
type snapshot func() (users, tenant []wire.Presence, err error)

// subscribe makes c watch users (of its own tenant, deduplicated) and, when
// tenant is set, the whole tenant. It takes the bus interest first, so no
// change published after read is missed (a message that arrives meanwhile
// is kept as the user's newest); then it merges the snapshot with what the
// node saw since and queues the reply built from the merged list, with the
// users' shards locked, so every later push for these users has a higher
// version than the reply. On error c watches nothing new.
func (h *hub) subscribe(c *conn, users []string, tenant bool, read snapshot, reply func([]json.RawMessage) []byte) error {
	if err := h.reserve(c.tenant, users, tenant); err != nil {
		return err
	}
	userSnap, tenantSnap, err := read()
	if err != nil {
		h.unreserve(c.tenant, users, tenant)
		return err
	}
	unlock := h.lockShards(c.tenant, users, tenant)
	defer unlock()
	merged := make([]json.RawMessage, 0, len(userSnap)+len(tenantSnap))
	listed := make(map[string]bool, len(userSnap))
	list := func(p wire.Presence) {
		k := userKey{p.Tenant, p.User}
		data := h.newestLocked(h.shard(k), k, p, c)
		if !listed[p.User] {
			listed[p.User] = true
			merged = append(merged, data)
		}
	}
	for _, p := range userSnap {
		list(p)
	}
	c.mu.Lock()
	for _, u := range users {
		k := userKey{c.tenant, u}
		s := h.shard(k)
		if !c.subs.has(u) {
			c.subs.add(s.addWatcher(k, c))
		}
		decrement(s.pending, k)
		h.releasedLocked(s, k) // c watched u already: its pending hold goes
	}
	c.subs.compact()
	if tenant {
		tw := h.tenants[c.tenant]
		tw.pending--
		if !c.tenantSub {
			c.tenantSub = true
			tw.conns[c] = struct{}{}
		}
	}
	c.mu.Unlock()
	for _, p := range tenantSnap {
		list(p)
	}
	if tenant {
		// Users of the tenant whose change reached this node after the store
		// read (the snapshot does not list them) are cached and were pushed
		// to the tenant's watchers then, not to c; every later copy of that
		// change is dropped as shown. The reply is c's only chance to learn
		// them, and every user the node shows present is listed, as the
		// tenant's other watchers here see them.
		for i := range h.shards {
			s := &h.shards[i]
			for k, cc := range s.last {
				if k.tenant == c.tenant && !listed[k.user] && cc.version > 0 && h.statusLocked(s, k) != wire.Offline {
					listed[k.user] = true
					merged = append(merged, cc.data)
				}
			}
		}
	}
	c.send(reply(merged))
	return nil
}

// reserve takes a pending hold on each user (and the tenant): the bus
// interest is in place when it returns. On error nothing is held.
func (h *hub) reserve(tenant string, users []string, all bool) error {
	if all {
		unlock := h.lockShards(tenant, nil, true)
		tw := h.tenants[tenant]
		if tw == nil {
			if err := h.bus.WatchTenant(tenant); err != nil {
				unlock()
				return err
			}
			tw = &tenantWatch{conns: map[*conn]struct{}{}}
			h.tenants[tenant] = tw
		}
		tw.pending++
		unlock()
	}
	for i, u := range users {
		k := userKey{tenant, u}
		s := h.shard(k)
		s.mu.Lock()
		err := h.acquireLocked(s, k, func() { s.pending[k]++ })
		s.mu.Unlock()
		if err != nil {
			h.unreserve(tenant, users[:i], all)
			return err
		}
	}
	return nil
}

// unreserve gives back the holds of reserve.
func (h *hub) unreserve(tenant string, users []string, all bool) {
	for _, u := range users {
		k := userKey{tenant, u}
		s := h.shard(k)
		s.mu.Lock()
		decrement(s.pending, k)
		h.releasedLocked(s, k)
		s.mu.Unlock()
	}
	if all {
		unlock := h.lockShards(tenant, nil, true)
		h.tenants[tenant].pending--
		h.tenantReleasedLocked(tenant)
		unlock()
	}
}

// newestLocked returns what a subscribe reply of c lists for k: the newer
// of the node's cached presence and the snapshot's p. A snapshot newer than
// the cache advances it, and the connections that already watch k are
// pushed it now: the bus message of that same change is dropped as already
// shown when it arrives, so without this push they would keep the older
// state for good (and no re-read would mend it, for the same reason).
func (h *hub) newestLocked(s *hubShard, k userKey, p wire.Presence, c *conn) json.RawMessage {
	if cc, ok := s.last[k]; ok && cc.version >= p.Version {
		return cc.data
	}
	data := mustJSON(p)
	s.last[k] = cached{version: p.Version, data: data, status: p.Status}
	if p.Version > 0 {
		h.sendLocked(s, k, data, c)
	}
	return data
}

// unsubscribe stops c watching users (and the tenant); users it does not
// watch are skipped.
func (h *hub) unsubscribe(c *conn, users []string, tenant bool) {
	unlock := h.lockShards(c.tenant, users, tenant)
	defer unlock()
	c.mu.Lock()
	var released []string
	for _, u := range users {
		if c.subs.remove(u) {
			released = append(released, u)
		}
	}
	tenantReleased := tenant && c.tenantSub
	if tenantReleased {
		c.tenantSub = false
	}
	c.mu.Unlock()
	for _, u := range released {
		k := userKey{c.tenant, u}
		s := h.shard(k)
		s.removeWatcher(k, c)
		h.releasedLocked(s, k)
	}
	if tenantReleased {
		delete(h.tenants[c.tenant].conns, c)
		h.tenantReleasedLocked(c.tenant)
	}
}

// tenantReleasedLocked runs, with every shard locked, after a holder of a
// tenant watch went: without holders the tenant's bus interest goes, and the
// cached versions of its users nobody watches one by one.
func (h *hub) tenantReleasedLocked(tenant string) {
	tw := h.tenants[tenant]
	if len(tw.conns) > 0 || tw.pending > 0 {
		return
	}
	delete(h.tenants, tenant)
	h.bus.UnwatchTenant(tenant)
	for i := range h.shards {
		s := &h.shards[i]
		for k := range s.last {
			if k.tenant == tenant && !h.watchedLocked(s, k) {
				delete(s.last, k)
			}
		}
	}
}

// deliver pushes a presence message to the local watchers of its user,
// unless this node already passed that version. It reports how many
// connections it was queued for.
func (h *hub) deliver(tenant, user string, version int64, data []byte) int {
	k := userKey{tenant, user}
	s := h.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !h.watchedLocked(s, k) {
		return 0
	}
	if c, ok := s.last[k]; ok && version <= c.version {
		return 0
	}
	s.last[k] = cached{version: version, data: data}
	return h.sendLocked(s, k, data, nil)
}

// sendLocked pushes data to every connection watching k (the user, or its
// whole tenant) but except, once each; it returns how many. s is k's shard,
// locked, which also makes reading h.tenants safe.
func (h *hub) sendLocked(s *hubShard, k userKey, data []byte, except *conn) int {
	n := 0
	var all map[*conn]struct{}
	if tw := h.tenants[k.tenant]; tw != nil {
		all = tw.conns
	}
	for c := range all {
		if c != except {
			c.send(data)
			n++
		}
	}
	e := s.watch[k]
	if e == nil {
		return n
	}
	for c := range e.conns.all() {
		if _, dup := all[c]; dup || c == except {
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
	k := userKey{tenant, user}
	s := h.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.last[k]
	if !ok || c.version == 0 {
		return 0, false
	}
	return c.version, h.statusLocked(s, k) != wire.Offline
}

// statusLocked returns the status of k's cached presence (s, k's shard,
// locked; k cached), decoding it once when it came from the bus as bytes.
func (h *hub) statusLocked(s *hubShard, k userKey) wire.Status {
	c := s.last[k]
	if c.status == "" {
		var p struct {
			Status wire.Status `json:"status"`
		}
		_ = json.Unmarshal(c.data, &p)
		c.status = p.Status
		s.last[k] = c
	}
	return c.status
}

// watched returns what this node's connections watch, for a resync.
func (h *hub) watched() (users map[string][]string, tenants []string) {
	unlock := h.lockShards("", nil, true)
	defer unlock()
	users = map[string][]string{}
	for i := range h.shards {
		for k := range h.shards[i].watch {
			users[k.tenant] = append(users[k.tenant], k.user)
		}
	}
	for t, tw := range h.tenants {
		if len(tw.conns) == 0 {
			continue // only a subscribe in flight: it reads the store itself
		}
		tenants = append(tenants, t)
		// Users of a watched tenant seen before may have gone offline
		// meanwhile (ListTenant does not return them): re-read them too.
		for i := range h.shards {
			s := &h.shards[i]
			for k := range s.last {
				if _, watched := s.watch[k]; k.tenant == t && !watched {
					users[t] = append(users[t], k.user)
				}
			}
		}
	}
	return users, tenants
}
