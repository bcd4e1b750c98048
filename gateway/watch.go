package gateway

import (
	"context"

	"github.com/pgw/pgw/gateway/auth"
	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/wire"
)

// Watch-only connections (hello "watch": true, docs/protocol.md
// "Extensions"): a viewer such as the presence board subscribes like any
// user connection but carries no presence. It is never written to the
// store, so opening a board does not make its user online, and closing it
// does not start a grace; it gets no call frames and may not set a status,
// an idle flag or log a session out. Watch-only connections of one user are
// capped per node by PGW_MAX_CONNS_PER_USER (the store's cap counts only
// connections it holds).

// helloWatch welcomes a watch-only connection; hello has checked the token
// and the fields and chosen the session id.
func (c *conn) helloWatch(f *frame, claims auth.Claims, session string, refuse func(error) bool) bool {
	n := c.n
	if claims.HasRole(auth.RoleBridge) {
		return refuse(problem.New(problem.Forbidden, "watch: a bridge connection carries telephony and cannot be watch-only"))
	}
	c.tenant, c.user, c.session = claims.Tenant, claims.Subject, session
	c.admin = claims.HasRole(auth.RoleAdmin)
	c.watchOnly = true
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	own, err := n.store.GetMany(ctx, c.tenant, []string{c.user})
	if err != nil {
		return refuse(err)
	}
	if !n.hub.addWatcher(c, n.cfg.MaxConnsPerUser) {
		return refuse(problem.New(problem.TooManyConnections, "watch: user %s already has %d watch-only connections on this node (PGW_MAX_CONNS_PER_USER)", c.user, n.cfg.MaxConnsPerUser))
	}
	c.setLimits()
	if n.admitTenant(c.tenant) != nil {
		// Disabled while this hello ran: closeTenant may have missed it.
		c.closeWith(problem.CloseForbidden, problem.TenantDisabled, true)
	}
	c.mu.Lock()
	c.setClaimsLocked(claims)
	c.welcomed = true
	c.mu.Unlock()
	c.seen()
	var p wire.Presence
	if len(own) == 1 {
		p = own[0]
	}
	c.send(mustJSON(welcomeFrame{Type: wire.TypeWelcome, ID: f.ID, Conn: c.id, Session: session, User: c.user,
		Tenant: c.tenant, Node: n.cfg.NodeID, Heartbeat: n.cfg.Heartbeat.Milliseconds(),
		Expires: unixOrZero(claims.Expires), Presence: p, Watch: true, Statuses: n.customStatuses(c.tenant)}))
	n.log.Debug("welcome (watch only)", "conn", c.id, "tenant", c.tenant, "user", c.user)
	return true
}

// present refuses the frames that change a user's presence on a
// watch-only connection.
func (c *conn) present(frameType string) error {
	if c.watchOnly {
		return problem.New(problem.Forbidden, "%s: this connection is watch-only (hello watch: true) and carries no presence", frameType)
	}
	return nil
}

// dropWatcher is dropConn for a watch-only connection: it leaves the hub
// and gives back its subscriptions; the store never knew it.
func (n *Node) dropWatcher(c *conn) { n.hub.remove(c) }

// addWatcher registers a welcomed watch-only connection unless its user
// already has max of them on this node. Watchers are not in byUser: they
// are not the user's presence (no call frames, no manual-status memory).
func (h *hub) addWatcher(c *conn, max int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := userKey{c.tenant, c.user}
	if h.watchers[k] >= max {
		return false
	}
	h.watchers[k]++
	h.conns[c.id] = c
	return true
}
