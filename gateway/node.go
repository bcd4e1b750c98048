package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/pgw/pgw/bus"
	"github.com/pgw/pgw/gateway/auth"
	"github.com/pgw/pgw/gateway/origin"
	"github.com/pgw/pgw/ipt"
	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/tenant"
	"github.com/pgw/pgw/wire"
)

// Node is one gateway process: it serves WebSockets and the HTTP API, keeps
// its connections in the presence store and fans presence out through NATS.
type Node struct {
	cfg   Config
	log   *slog.Logger
	store presence.Store
	// ownStore: the node opened the store (and closes it); a store of
	// Deps.Store belongs to the caller.
	ownStore bool
	ipt      *ipt.Service
	// iptRedis is the client the node opened for telephony state alone
	// (Deps.Store with PGW_REDIS_URL); nil otherwise. Closed at Shutdown.
	iptRedis redis.UniversalClient
	// tenantRedis is the client of the tenant policy store (nil without
	// PGW_REDIS_URL).
	tenantRedis redis.UniversalClient
	pending     pendingDrops
	manual      manualStatuses
	recent      recentPublishes      // republished after a NATS reconnect
	forgotten   map[userKey]struct{} // antiEntropy's loop only: users the store forgot last round
	// young is antiEntropy's loop's only: the stored version of each user
	// whose change a round left to its bus message as too young.
	young       map[userKey]int64
	unasserted  []*conn     // heartbeat loop only: re-asserts that failed, retried
	verifyConns atomic.Bool // NATS reconnected: the heartbeat loop re-asserts the connections
	// lastBeat is when a heartbeat last got through (the heartbeat loop's own).
	lastBeat time.Time
	// pingNext is the pinger's next turn (pingTurn's own).
	pingNext int
	bus      *bus.Bus
	auth     *auth.Verifier
	hub      *hub
	metrics  *metrics
	up       websocket.Upgrader
	// poll wakes idle connections' readers (nil: a reader goroutine per
	// connection); readers holds every admitted connection (reader.go).
	poll    *poller
	readers readers
	origins origin.Policy
	// redis is the client of the store the node opened (nil with the
	// in-process store or Deps.Store); login sessions share it when they
	// live in the same Redis.
	redis  redis.UniversalClient
	logins logins // login sessions of §2.1 (logins.go); zero when off
	// writes is the per-user budget of frames and requests that reach the
	// store, shared by all of a user's connections on this node (§6).
	writes *keyedLimiter
	// rereads are users whose bus version was refused as implausible.
	rereads rereads
	// Tenant policies (§9): the shared store and this node's cache.
	tenantStore tenant.Store
	policies    *tenant.Cache
	// secret is the random HS256 secret the node made because none was
	// configured (nil otherwise): DevToken signs with it.
	secret []byte

	draining atomic.Bool
	// adminAddr is the admin listener's bound address (AdminAddr).
	adminAddr atomic.Pointer[string]
	// admitMu orders admitting a connection (wg.Add) before Shutdown's
	// wg.Wait: once stopping is set no connection is admitted.
	admitMu  sync.Mutex
	stopping bool
	stop     chan struct{} // closed by Shutdown: background loops end
	stopOnce sync.Once
	wg       sync.WaitGroup // every goroutine the node starts
	loops    sync.WaitGroup // background loops only
}

// Deps lets tests and embedders supply ready parts; nil fields are built
// from Config.
type Deps struct {
	Store  presence.Store
	Logger *slog.Logger
}

// New builds a node from cfg: the store (in-process or Redis), the bus
// (embedded or external NATS) and the token verifier. Run or Handler serve it.
func New(ctx context.Context, cfg Config, deps Deps) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.NodeID == "" {
		cfg.NodeID = DefaultNodeID()
	}
	log := deps.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("node", cfg.NodeID)
	n := &Node{cfg: cfg, log: log, hub: newHub(), stop: make(chan struct{}), policies: tenant.NewCache()}
	n.metrics = newMetrics(n)
	origins, err := origin.NewPolicy(cfg.OwnOrigin(), cfg.AllowedOrigins)
	if err != nil {
		return nil, fmt.Errorf("PGW_ALLOWED_ORIGINS: %w", err)
	}
	n.origins = origins
	n.writes = newKeyedLimiter(cfg.RateLimit, cfg.RateBurst)
	n.up = websocket.Upgrader{
		// The smallest gorilla takes (a control frame's 125-byte payload
		// is read whole from it); sockReader hands it one frame at a time
		// and a message's payload is read past it.
		ReadBufferSize:  128,
		WriteBufferSize: 1024,
		// Buffers are taken for a write and given back: idle connections
		// hold none.
		WriteBufferPool:   &sync.Pool{},
		HandshakeTimeout:  10 * time.Second,
		CheckOrigin:       func(*http.Request) bool { return true }, // checked before Upgrade, with a problem body
		EnableCompression: false,
		// A request to /v1/ws that is no WebSocket handshake gets a
		// problem, like every other error.
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			p := problem.New(problem.BadRequest, "GET /v1/ws is a WebSocket upgrade: %v", reason)
			if status != http.StatusBadRequest {
				p.Status = status
			}
			n.writeProblem(w, r, p)
		},
	}

	secret := []byte(cfg.JWTSecret)
	if len(secret) == 0 && cfg.JWTKeys == "" {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
		n.secret = secret
	}
	v, err := auth.New(auth.Config{Secret: secret, KeysFile: cfg.JWTKeys, Algorithms: cfg.JWTAlgorithms,
		Audience: cfg.JWTAudience, Issuer: cfg.JWTIssuer, Leeway: cfg.JWTLeeway})
	if err != nil {
		return nil, err
	}
	n.auth = v

	opt := presence.DefaultOptions()
	opt.Grace, opt.NodeTTL, opt.MaxConnsPerUser, opt.Prefix = cfg.Grace, cfg.NodeTTL, cfg.MaxConnsPerUser, cfg.Prefix
	opt.VersionTTL = cfg.VersionTTL
	opt.PerTenant = n.perTenant
	n.store = deps.Store
	var iptState ipt.StateStore = ipt.NewMemoryState()
	switch {
	case n.store == nil:
		st, state, client, err := openStores(ctx, cfg, opt)
		if err != nil {
			return nil, err
		}
		n.store, iptState, n.ownStore, n.redis = st, state, true, client
	case cfg.RedisURL != "":
		// The caller brought the presence store, but telephony state must
		// still be the one all nodes share: in memory each node would hold
		// its own truth of every phone.
		client, err := presence.NewRedisClient(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("PGW_REDIS_URL: %w", err)
		}
		iptState, n.iptRedis = ipt.NewRedisState(client, cfg.Prefix), client
	}
	n.tenantStore = tenant.NewMemory()
	if cfg.RedisURL != "" {
		// Policies are few and rarely written: a client of their own keeps
		// them out of the presence store's pipelines.
		client, err := presence.NewRedisClient(cfg.RedisURL)
		if err != nil {
			n.closeOwned()
			return nil, fmt.Errorf("PGW_REDIS_URL: %w", err)
		}
		n.tenantRedis, n.tenantStore = client, tenant.NewRedis(client, cfg.Prefix)
	}
	n.ipt = ipt.NewService(iptState, n.store, ipt.Options{Grace: cfg.Grace, BridgeTTL: cfg.BridgeTTL})

	b, err := bus.Open(ctx, bus.Config{URL: cfg.NATSURL, Prefix: cfg.Prefix, Node: cfg.NodeID, Logger: log,
		User: cfg.NATSUser, Password: cfg.NATSPassword, NKeyFile: cfg.NATSNKey, CredsFile: cfg.NATSCreds,
		TLSCA: cfg.NATSTLSCA, TLSCert: cfg.NATSTLSCert, TLSKey: cfg.NATSTLSKey, Secret: []byte(cfg.busSecret())}, bus.Handlers{
		Presence: n.onPresence,
		Call:     n.onCall,
		Control:  n.onControl,
		Tenant:   n.onTenant,
		Resync:   n.reconnected,
	})
	if err != nil {
		n.closeOwned()
		return nil, fmt.Errorf("PGW_NATS_URL: %w", err)
	}
	n.bus = b
	n.hub.bus = b
	if err := n.openLogins(); err != nil {
		_ = n.bus.Close()
		n.closeOwned()
		return nil, err
	}

	// Policies are read before the node serves anything (readiness).
	if err := n.openTenants(ctx); err != nil {
		_ = b.Close()
		n.closeOwned()
		return nil, err
	}

	// A node restarted with the same id first removes what its earlier run
	// left (its connections are gone with the old process).
	if ended, err := n.store.RemoveNode(ctx, cfg.NodeID, time.Now()); err != nil {
		log.Warn("cleanup of an earlier run failed", "err", err)
	} else {
		n.publishEnded(ended)
	}
	if _, err := n.store.Heartbeat(ctx, cfg.NodeID, time.Now()); err != nil {
		log.Warn("first heartbeat failed", "err", err)
	}
	n.startLoops()
	return n, nil
}

// closeOwned closes what the node opened itself, never a caller's store.
func (n *Node) closeOwned() {
	if n.ownStore {
		_ = n.store.Close()
	}
	if n.iptRedis != nil {
		_ = n.iptRedis.Close()
	}
	if n.tenantRedis != nil {
		_ = n.tenantRedis.Close()
	}
}

// ID returns the node id.
func (n *Node) ID() string { return n.cfg.NodeID }

// Store returns the node's presence store.
func (n *Node) Store() presence.Store { return n.store }

// Bus returns the node's NATS bus.
func (n *Node) Bus() *bus.Bus { return n.bus }

// DevToken returns a ready token for user "dev" of tenant "dev" (roles user
// and admin) when the node made a random secret because none was
// configured, and "" otherwise.
func (n *Node) DevToken(ttl time.Duration) string {
	if n.secret == nil {
		return ""
	}
	tok, err := n.auth.Sign(auth.Claims{Subject: "dev", Tenant: "dev", Roles: []string{auth.RoleUser, auth.RoleAdmin},
		Expires: time.Now().Add(ttl)})
	if err != nil {
		return ""
	}
	return tok
}

// serveWS upgrades GET /v1/ws. Origin and the header token are checked
// before the upgrade so a refusal is an HTTP problem.
func (n *Node) serveWS(w http.ResponseWriter, r *http.Request) {
	claims, cookie, err := n.admitUpgrade(r)
	if err != nil {
		n.writeProblem(w, r, err)
		return
	}
	c := &conn{n: n, id: newConnID(), pre: &connUpgrade{claims: claims, cookie: cookie}}
	c.rd.c = c
	ws, err := n.up.Upgrade(hijacker{ResponseWriter: w, rd: &c.rd, raw: n.poll != nil}, r, nil)
	if err != nil {
		return // the upgrader answered the request
	}
	c.ws = ws
	if claims == nil {
		c.pre.origin, c.pre.originPresent = origin.Of(r.Header)
	}
	n.admitMu.Lock()
	if n.stopping {
		n.admitMu.Unlock()
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(problem.CloseGoingAway, string(problem.Shutdown)), time.Now().Add(time.Second))
		_ = ws.Close()
		return
	}
	n.wg.Add(1)
	n.admitMu.Unlock()
	n.metrics.connects.Inc()
	c.startReading()
}

// admitUpgrade makes the checks done before a WebSocket upgrade: the node
// is not draining, the browser Origin is allowed, a header token (if any)
// is valid, a login cookie without a token comes with an allowed Origin.
// It returns the header token's claims (nil without one), or the login
// cookie (nil without one; its session is read at hello, where a token
// still wins).
func (n *Node) admitUpgrade(r *http.Request) (*auth.Claims, *upgradeLogin, error) {
	if n.draining.Load() {
		return nil, nil, problem.New(problem.Unavailable, "node %s is draining: connect to another node", n.cfg.NodeID)
	}
	// Before the tenant is known, the origin must be in some list: the
	// node's or a tenant's (§9).
	if err := n.originsUnion().Check(r.Header, false); err != nil {
		return nil, nil, err
	}
	tok, present, err := auth.BearerToken(r)
	if err != nil {
		return nil, nil, err
	}
	if !present {
		// Without a token, the login cookie (§2.1), read at hello.
		cookie, err := n.upgradeCookie(r)
		return nil, cookie, err
	}
	cl, err := n.auth.Verify(tok)
	if err != nil {
		n.metrics.authFailures.WithLabelValues(string(codeOf(err))).Inc()
		return nil, nil, err
	}
	// With the token on the upgrade the tenant is known: it must not be
	// disabled, and its own origin list applies (a browser sending the
	// token in hello is checked there).
	if err := n.admitTenant(cl.Tenant); err != nil {
		return nil, nil, err
	}
	if err := n.tenantOrigins(cl.Tenant).Check(r.Header, false); err != nil {
		return nil, nil, err
	}
	return &cl, nil, nil
}

// probeWS answers POST /v1/ws with what a WebSocket upgrade from the same
// caller would get from admitUpgrade: 204 when it passes, else the same
// problem. A browser hides the status of a refused upgrade (the page sees
// only close 1006), so the board asks here why it could not connect; a POST
// is used because a browser sends a same-origin GET without its Origin.
func (n *Node) probeWS(w http.ResponseWriter, r *http.Request) {
	if _, _, err := n.admitUpgrade(r); err != nil {
		n.writeProblem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// newConnID returns a random 96-bit id, URL-safe, a valid id token.
func newConnID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// publish fans a change out through NATS when the PRESENCE changed.
func (n *Node) publish(ch presence.Change) {
	if !ch.Changed {
		return
	}
	p := ch.Presence
	if n.hub.userConnCount(p.Tenant, p.User) > 0 {
		n.manual.observe(p)
	}
	n.recent.note(userKey{p.Tenant, p.User}, time.Now())
	if err := n.bus.PublishPresence(p.Tenant, p.User, p.Version, mustJSON(p)); err != nil {
		n.log.Warn("publish presence failed", "tenant", p.Tenant, "user", p.User, "err", err)
		return
	}
	n.metrics.published.Inc()
}

func (n *Node) publishEnded(ended []presence.Ended) {
	for _, e := range ended {
		n.publish(e.Change)
	}
}

// onPresence is the bus handler of presence messages. For a user with
// connections here it also learns the manual status, wherever it was set,
// so this node can re-assert it after the store lost its state.
func (n *Node) onPresence(tenant, user string, version int64, data []byte) {
	if version > time.Now().Add(maxVersionLead).UnixMicro() {
		// Versions are at least the change's time in microseconds: one far
		// ahead of the clock would shadow every real change after it. The
		// store's state is taken instead (rereadLoop).
		n.log.Warn("presence version far ahead of the clock dropped; re-reading the store", "tenant", tenant, "user", user, "version", version)
		n.rereads.add(tenant, user)
		return
	}
	n.deliverPresence(tenant, user, version, data)
}

// deliverPresence fans a presence out to the local watchers.
func (n *Node) deliverPresence(tenant, user string, version int64, data []byte) {
	if k := n.hub.deliver(tenant, user, version, data); k > 0 {
		n.metrics.delivered.Add(float64(k))
	}
	if n.hub.userConnCount(tenant, user) > 0 {
		var p wire.Presence
		if err := wire.UnmarshalPresence(data, &p); err == nil && p.Tenant == tenant && p.User == user {
			n.manual.observe(p)
		}
	}
}

// onCall is the bus handler of call events: every local connection of the
// user gets the call frame.
func (n *Node) onCall(tenant, user string, data []byte) {
	for _, c := range n.hub.ofUser(tenant, user) {
		if !c.bridge {
			c.send(data)
		}
	}
}

// resync re-reads every watched user after NATS came back (messages may
// have been lost) and delivers what changed.
func (n *Node) resync() {
	n.resyncTenants()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n.republish(ctx)
	n.reread(ctx, nil)
	n.metrics.resyncs.Inc()
}

// antiEntropy is the periodic re-read (PGW_RESYNC_EVERY). A NATS reconnect
// resyncs, but some losses leave no trace the node can see: a publish that
// a stalled link swallowed before the client noticed, a store call that ran
// in Redis but whose reply was lost (the grace expiry or the reaper then
// publishes nothing, and nothing publishes that change later). Re-reading
// what the node's connections watch bounds how long any of them can leave
// a subscriber stale, whatever the cause; a re-read that finds nothing new
// delivers nothing (the hub drops versions it has shown).
//
// A user the store has forgotten while this node shows them present is
// published offline only when two rounds in a row find it so: right after
// Redis restarted empty the store knows nobody until the nodes holding
// connections re-assert them (within a heartbeat), and publishing offline
// in between would make present users flap.
//
// A stored change younger than a quarter of the period (its version is at
// least its time in microseconds) is left to its bus message, which may
// still be on its way: a busy bus runs behind the store (its messages
// queue for seconds at a saturated node), and delivering the store's
// newest state then would skip the versions still queued, where each
// subscriber must get every change (the contract: presence frames on every
// change, never coalesced). A change whose message is lost is delivered by
// the first round after that age: a lost message leaves a subscriber stale
// at most 1¼ periods. The age is read from the version, which the node that
// made the change stamped with its own clock; so that no clock (a node's
// clock ahead of this one's, versions that ran ahead of time) can keep a
// lost change from being delivered, a change found unshown and unchanged in
// two rounds in a row is delivered whatever its version says: stale at
// most 2 periods then.
func (n *Node) antiEntropy(ctx context.Context, now time.Time) {
	seen, wasYoung := n.forgotten, n.young
	n.forgotten, n.young = map[userKey]struct{}{}, map[userKey]int64{}
	settled := now.Add(-n.cfg.ResyncEvery / 4).UnixMicro()
	n.rereadThen(ctx, func(k userKey) bool {
		n.forgotten[k] = struct{}{}
		_, again := seen[k]
		return again
	}, func(k userKey, version int64) bool {
		if version <= settled || wasYoung[k] == version {
			return true
		}
		n.young[k] = version
		return false
	})
}

// reread reads every user this node's connections watch from the store and
// delivers what is newer than what the node has shown. A user the store no
// longer knows but the node shows present is published offline, above the
// version shown, when confirm (nil: always) agrees.
func (n *Node) reread(ctx context.Context, confirm func(userKey) bool) {
	n.rereadThen(ctx, confirm, nil)
}

// rereadThen is reread that delivers a stored presence (version > 0) only
// when due (nil: always) agrees with its version.
func (n *Node) rereadThen(ctx context.Context, confirm func(userKey) bool, due func(userKey, int64) bool) {
	users, tenants := n.hub.watched()
	deliver := func(ps []wire.Presence) {
		for _, p := range ps {
			if p.Version == 0 {
				// The store has no state for this user (never seen, or it
				// lost it): if this node still shows the user present,
				// publish offline with a version above the one shown, or
				// subscribers would stay stuck online.
				v, present := n.hub.shownPresent(p.Tenant, p.User)
				if present && (confirm == nil || confirm(userKey{p.Tenant, p.User})) {
					now := time.Now()
					p.Version, p.Since = presence.NextVersion(v, now), wire.FormatSince(now)
					n.publish(presence.Change{Presence: p, Changed: true})
				}
				continue
			}
			if due != nil && !due(userKey{p.Tenant, p.User}, p.Version) {
				continue
			}
			n.onPresence(p.Tenant, p.User, p.Version, mustJSON(p))
		}
	}
	for _, t := range tenants {
		ps, err := n.store.ListTenant(ctx, t)
		if err != nil {
			n.log.Warn("resync tenant failed", "tenant", t, "err", err)
			continue
		}
		deliver(ps)
	}
	for t, us := range users {
		for len(us) > 0 {
			batch := us[:min(len(us), 1000)]
			us = us[len(batch):]
			ps, err := n.store.GetMany(ctx, t, batch)
			if err != nil {
				n.log.Warn("resync users failed", "tenant", t, "err", err)
				break
			}
			deliver(ps)
		}
	}
}

// reassert registers every local connection again, with its session's idle
// flag and its user's manual status, after the node was declared dead or the
// store lost its state (Redis restarted empty), then re-reads what the
// node's connections watch.
func (n *Node) reassert(ctx context.Context) {
	now := time.Now()
	conns := n.hub.all()
	// Before the connects: their presence (no manual status) must not make
	// n.manual forget the very statuses to restore.
	n.manual.restoreAll()
	n.assertAll(ctx, conns, now)
	for _, c := range conns {
		c.mu.Lock()
		idle := c.idleFlag
		c.mu.Unlock()
		if idle {
			if ch, err := n.store.SetIdle(ctx, c.tenant, c.user, c.session, true, now); err == nil {
				n.publish(ch)
			}
		}
	}
	n.restoreManual(ctx, now)
	// The telephony truth of this node's bridges is gone with their reaped
	// sessions (or with Redis): only each bridge knows it again. Close their
	// connections so they reconnect and send ipt.sync (contract §3.1).
	for _, c := range conns {
		if c.bridge {
			n.log.Warn("bridge closed after re-assert so it resyncs", "conn", c.id, "user", c.user)
			c.closeWith(problem.CloseInternal, problem.Internal, true)
		}
	}
	n.metrics.reasserts.Inc()
	n.resync()
}

// assertAll registers every local connection again (assertConn); the
// heartbeat loop retries those that failed (retryAsserts).
func (n *Node) assertAll(ctx context.Context, conns []*conn, now time.Time) {
	n.unasserted = nil
	for _, c := range conns {
		if !c.watchOnly && !n.assertConn(ctx, c, now) {
			n.unasserted = append(n.unasserted, c)
		}
	}
}

// reconnected is the bus handler of a NATS reconnect: the node resyncs, and
// its next heartbeat registers its connections again (assertConn), so that
// a connection whose session was logged out while this node was cut off
// from NATS (the close message lost) is closed: the store refuses its
// Connect with ErrLoggedOut. Every other Connect changes nothing (or puts
// back what the store lost). One Connect per local connection per NATS
// reconnect, group-committed.
func (n *Node) reconnected() {
	n.verifyConns.Store(true)
	n.resync()
}

// assertConn registers one open connection again (reassert). A connection
// that closed meanwhile must not come back: its Disconnect may have reached
// the store before this Connect (the list was taken before it closed, a
// logout ran on it), and nothing would remove its key again; the user would
// stay online with no connection. So the Connect is taken back when the
// connection is found closing after it: closing is set before a
// connection's Disconnect is sent, so a connection still open here
// disconnects after this Connect was applied. A Connect refused with
// ErrLoggedOut closes the connection: its session was logged out while this
// node missed the close message. A Connect that failed may
// still be applied later (Redis ran it after our deadline), even after a
// retry succeeded: the connection is marked unsure for good, so its own
// Disconnect runs once more opTimeout later, and false tells the caller to
// try it again.
func (n *Node) assertConn(ctx context.Context, c *conn, now time.Time) bool {
	c.mu.Lock()
	closing := c.closing
	c.mu.Unlock()
	if closing {
		return true // its Disconnect is sent or on its way
	}
	ch, err := n.store.Connect(ctx, c.info(), now)
	if errors.Is(err, presence.ErrLoggedOut) {
		// Its session was logged out and this node missed the close
		// message (NATS down, the node paused); nothing was stored.
		n.log.Warn("connection of a logged-out session closed on re-assert", "conn", c.id, "session", c.session)
		c.closeWith(problem.CloseNormal, problem.LoggedOut, true)
		return true
	}
	c.mu.Lock()
	closing = c.closing
	c.unsure = c.unsure || err != nil // a later success does not stop a late run
	c.mu.Unlock()
	switch {
	case closing:
		n.undoConnect(c.info().Ref())
		return true
	case err != nil:
		n.log.Warn("re-assert connection failed; will retry", "conn", c.id, "err", err)
		return false
	}
	n.publish(ch)
	return true
}

// retryAsserts re-asserts again the connections whose re-assert failed
// (heartbeat loop), with their sessions' idle flags, until each got
// through or closed: a live connection without its key would leave its
// user offline.
func (n *Node) retryAsserts(ctx context.Context, now time.Time) {
	left := n.unasserted[:0]
	for _, c := range n.unasserted {
		if !n.assertConn(ctx, c, now) {
			left = append(left, c)
			continue
		}
		c.mu.Lock()
		idle, closing := c.idleFlag, c.closing
		c.mu.Unlock()
		if idle && !closing {
			if ch, err := n.store.SetIdle(ctx, c.tenant, c.user, c.session, true, now); err == nil {
				n.publish(ch)
			}
		}
	}
	clear(n.unasserted[len(left):])
	n.unasserted = left
}

// restoreManual sets again the manual statuses a re-assert restores (see
// manualStatuses); what fails stays to restore, and the heartbeat loop
// calls it again. A user whose connections here are gone is dropped by
// dropConn (manual.forget).
func (n *Node) restoreManual(ctx context.Context, now time.Time) {
	for k, m := range n.manual.toRestore() {
		if m.status == "" || n.hub.userConnCount(k.tenant, k.user) == 0 {
			n.manual.forget(k.tenant, k.user)
			continue
		}
		ch, err := n.store.RestoreStatus(ctx, k.tenant, k.user, m.status, m.note, m.version, now)
		if errors.Is(err, presence.ErrStatusChosen) {
			// The user chose a status (online included) on another
			// session after the one this node learnt: theirs stands.
			n.manual.forget(k.tenant, k.user)
			continue
		}
		if err != nil {
			// ErrOffline: the user's connections are not back yet.
			n.log.Warn("re-assert of a manual status failed; will retry", "tenant", k.tenant, "user", k.user, "err", err)
			continue
		}
		n.publish(ch)
		n.manual.restored(k)
	}
}

// Ready reports what keeps the node from serving well (nil when ready).
func (n *Node) Ready(ctx context.Context) error {
	if n.draining.Load() {
		return errors.New("node is draining")
	}
	if err := n.store.Ping(ctx); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	if !n.bus.Connected() {
		return errors.New("nats: not connected")
	}
	return nil
}

// listen is a helper for Run and tests: it binds Addr (Listen).
func (n *Node) listen() (net.Listener, error) {
	l, err := Listen(n.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("PGW_ADDR %s: %w", n.cfg.Addr, err)
	}
	return l, nil
}
