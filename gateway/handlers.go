package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/pgw/pgw/gateway/auth"
	"github.com/pgw/pgw/gateway/login"
	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/tenant"
	"github.com/pgw/pgw/wire"
)

// opTimeout bounds the store and bus work of one frame.
const opTimeout = 5 * time.Second

// handle processes one text frame; false means the connection is closing.
func (c *conn) handle(data []byte) bool {
	n := c.n
	f, p := decodeFrame(data)
	welcomed := c.welcomedNow()
	if welcomed && !c.bucket.allow(monoNow()) {
		return c.drop(f, "on this connection", 1)
	}
	n.metrics.framesIn.WithLabelValues(frameLabel(f.Type, p)).Inc()
	if !welcomed {
		if p == nil && f.Type != wire.TypeHello {
			p = problem.New(problem.ProtocolViolation, "the first frame must be hello, got %q", problem.Excerpt(f.Type, 40))
		}
		if p != nil {
			c.reply(f.ID, p)
			code, reason := closeCodeOf(p)
			c.closeWith(code, reason, false)
			return false
		}
		return c.hello(f)
	}
	if p != nil {
		if p.Code == problem.InvalidArgument {
			// One entry per bad field: add what the frame's own checks
			// find in the members that did decode. Nothing is applied.
			c.reply(f.ID, mergeFields(p, checkFrame(f, n.cfg.MaxBatch, n.policy(c.tenant))))
			return true
		}
		c.reply(f.ID, p)
		return true
	}
	if writesStore(f.Type) {
		if wait, ok := n.allowWrite(c.tenant, c.user, time.Now()); !ok {
			return c.drop(f, "for user "+c.user+" over its connections on this node", wait)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var res reply
	var err error
	switch f.Type {
	case wire.TypeHello:
		err = problem.Field("type", "hello was already accepted on this connection")
	case wire.TypeStatus:
		res, err = c.status(ctx, f)
	case wire.TypeIdle:
		res, err = c.idle(ctx, f)
	case wire.TypeSubscribe:
		// subscribe queues its own reply, ordered with the pushes.
		if err = c.subscribe(ctx, f); err == nil {
			return true
		}
	case wire.TypeUnsubscribe:
		err = c.unsubscribe(f)
	case wire.TypeLogout:
		return c.logout(ctx, f)
	case wire.TypeRefresh:
		res, err = c.refresh(f)
		if errors.Is(err, errRoleLost) {
			c.reply(f.ID, err)
			c.closeWith(problem.CloseForbidden, problem.Forbidden, true)
			return false
		}
	case wire.TypeIPTSync, wire.TypeIPTEvent:
		res, err = c.ipt(ctx, f)
	default:
		err = problem.New(problem.UnknownType, "type %q is not a frame type of this protocol", problem.Excerpt(f.Type, 40))
	}
	if err != nil {
		c.reply(f.ID, err)
		return true
	}
	if f.ID != nil {
		c.send(okWith(f.ID, res))
	}
	return true
}

// checkFrame runs the field checks of a frame type without applying it,
// so a frame with members of the wrong type still gets one problem entry
// per bad field.
func checkFrame(f *frame, maxBatch int, pol *tenant.Policy) error {
	switch f.Type {
	case wire.TypeStatus:
		_, _, err := checkStatus(f.Status, f.Note, pol)
		return err
	case wire.TypeIdle:
		if f.Idle == nil {
			return problem.Field("idle", "is required: true or false")
		}
	case wire.TypeSubscribe, wire.TypeUnsubscribe:
		if p := checkUsers(f.Users, maxBatch); p != nil {
			return p
		}
	}
	return nil
}

// drop answers a frame refused by a rate limit (§6): the frame is not
// applied and gets one reply, 429 with its id when it had one, unless the
// connection has now flooded for PGW_RATE_SUSTAIN: then it is closed 4429
// (false). scope says whose budget ran out.
func (c *conn) drop(f *frame, scope string, retryAfter int) bool {
	cfg := c.n.cfg
	if c.flood == nil {
		c.flood = &flood{}
	}
	if c.flood.dropped(time.Now(), cfg.RateSustain) {
		c.closeWith(problem.CloseTooMany, problem.RateLimited, true)
		return false
	}
	p := problem.New(problem.RateLimited, "more than %g frames/s (burst %d) %s; the frame was dropped, not applied", c.bucket.rate, c.bucket.burst, scope)
	p.RetryAfter = max(1, retryAfter)
	c.reply(f.ID, p)
	return true
}

// reply answers a frame with an error (with its id when it had one). A
// frame without id that fails gets the same error frame without id.
func (c *conn) reply(id json.RawMessage, err error) {
	p := problemOf(err)
	if p.Code == problem.Internal {
		c.n.log.Error("frame failed", "conn", c.id, "session", c.session, "err", err)
	}
	c.n.metrics.errors.WithLabelValues(string(p.Code)).Inc()
	c.send(mustJSON(errorFrame{Type: wire.TypeError, ID: id, Error: p}))
}

// okWith encodes, once, the ok frame answering id: {"type":"ok","id":…}
// with the fields of res (nil: none).
func okWith(id json.RawMessage, res reply) []byte {
	if res == nil {
		res = &okHeader{}
	}
	h := res.header()
	h.Type, h.ID = wire.TypeOK, id
	return mustJSON(res)
}

// hello authenticates the connection and registers it (§3.1).
func (c *conn) hello(f *frame) bool {
	n := c.n
	refuse := func(err error) bool {
		p := problemOf(err)
		c.reply(f.ID, p)
		code, reason := closeCodeOf(p)
		c.closeWith(code, reason, false)
		return false
	}
	var claims auth.Claims
	if c.pre != nil && c.pre.claims != nil {
		claims = *c.pre.claims
	}
	var lg login.Login // set when a login session (§2.1) authenticates
	switch {
	case f.Token != "":
		cl, err := n.auth.Verify(f.Token)
		if err != nil {
			n.metrics.authFailures.WithLabelValues(string(codeOf(err))).Inc()
			return refuse(err)
		}
		claims = cl
	case claims.Subject == "": // no token on the upgrade either
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		l, ok, err := c.helloLogin(ctx, f)
		cancel()
		switch {
		case err != nil:
			return refuse(err)
		case ok:
			lg, claims = l, l.Claims
		default:
			return refuse(problem.New(problem.TokenMissing, "no token: send Authorization: Bearer <jwt> on the upgrade or token in hello"))
		}
	}
	if err := n.admitTenant(claims.Tenant); err != nil {
		return refuse(err)
	}
	if pre := c.pre; pre != nil && pre.originPresent && !n.tenantOrigins(claims.Tenant).Allows(pre.origin) {
		return refuse(problem.New(problem.Forbidden, "Origin: %s is not in the origins of tenant %q", quote(pre.origin), claims.Tenant))
	}
	c.pre = nil
	bridge := claims.HasRole(auth.RoleBridge)
	window := f.Window
	if window == "" {
		window = "main"
	}
	device := f.Device
	if device == "" && bridge {
		device = wire.DeviceBridge
	}
	var errs []problem.FieldError
	if window != "main" && window != "child" {
		errs = append(errs, problem.FieldError{Field: "window", Reason: "must be main or child, got " + quote(window)})
	}
	switch {
	case device == "":
		errs = append(errs, problem.FieldError{Field: "device", Reason: "is required: one of desktop, web, mobile, bridge"})
	case !wire.ValidDevice(device):
		errs = append(errs, problem.FieldError{Field: "device", Reason: "must be one of desktop, web, mobile, bridge, got " + quote(device)})
	}
	if f.Session != "" && !wire.ValidID(f.Session) {
		errs = append(errs, problem.FieldError{Field: "session", Reason: "must match " + wire.IDPattern})
	}
	if len(f.Client) > 128 {
		errs = append(errs, problem.FieldError{Field: "client", Reason: "must be at most 128 characters (name/version)"})
	}
	if len(errs) > 0 {
		return refuse(problem.Fields(errs...))
	}
	if device == wire.DeviceBridge && !bridge {
		return refuse(problem.New(problem.Forbidden, "device bridge needs a token with role bridge"))
	}
	session := f.Session
	switch {
	case claims.Session != "" && session == "":
		session = claims.Session
	case claims.Session != "" && session != claims.Session:
		return refuse(problem.New(problem.Forbidden, "session %q: the token is bound to another session (sid)", session))
	case session == "":
		session = newConnID()
	}
	// A login connection expires by the app's clock, checked by the
	// tracker: the sweep's token expiry does not apply (c.login says so).
	if lg.ID != "" || bridge {
		c.ext = &connExt{login: lg.ID}
	}
	if f.Watch {
		ok := c.helloWatch(f, claims, session, refuse)
		if ok && c.login() != "" {
			n.logins.tracker.Add(lg, c)
		}
		return ok
	}
	c.tenant, c.user, c.session = claims.Tenant, claims.Subject, session
	c.bridge = bridge
	c.admin = claims.HasRole(auth.RoleAdmin)
	c.device, c.window = nameIndex(connDevices[:], device), nameIndex(connWindows[:], window)
	info := c.info()

	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	// Bus interest before the store: a hello that cannot have it is refused
	// (4500, the client retries) before anything was stored, rather than
	// welcomed without call events or manual statuses to re-assert.
	if !bridge {
		if err := n.watchUser(c); err != nil {
			p := problem.Wrap(err, problem.Unavailable, "NATS did not take this connection's subscriptions; retry shortly")
			p.RetryAfter = 1
			return refuse(p)
		}
	}
	ch, err := n.store.Connect(ctx, info, time.Now())
	if err != nil {
		n.unwatchUser(c)
		if !errors.Is(err, presence.ErrSessionConflict) && !errors.Is(err, presence.ErrTooManyConnections) {
			// The store may have applied the Connect before it failed
			// (a timeout after the script ran): take it back.
			n.undoConnect(info.Ref())
		}
		return refuse(err)
	}
	c.setLimits()
	c.mu.Lock()
	c.setClaimsLocked(claims)
	c.welcomed = true
	c.mu.Unlock()
	n.hub.add(c)
	n.manual.observe(ch.Presence)
	if c.login() != "" {
		n.logins.tracker.Add(lg, c)
	}
	if n.admitTenant(c.tenant) != nil {
		// Disabled while this hello ran: closeTenant may have missed it.
		c.closeWith(problem.CloseForbidden, problem.TenantDisabled, true)
	}
	n.publish(ch)
	c.seen()
	c.send(mustJSON(welcomeFrame{Type: wire.TypeWelcome, ID: f.ID, Conn: c.id, Session: session, User: c.user,
		Tenant: c.tenant, Node: n.cfg.NodeID, Heartbeat: n.cfg.Heartbeat.Milliseconds(),
		Expires: unixOrZero(claims.Expires), Presence: ch.Presence, Statuses: n.customStatuses(c.tenant)}))
	n.log.Debug("welcome", "conn", c.id, "session", session, "tenant", c.tenant, "device", device, "window", window)
	return true
}

func quote(s string) string { return "\"" + problem.Excerpt(s, 40) + "\"" }

// userOnly refuses presence frames from bridge connections (§3.1 "who").
func (c *conn) userOnly(frameType string) error {
	if c.bridge {
		return problem.New(problem.Forbidden, "%s is not for bridge connections (role bridge carries telephony only)", frameType)
	}
	return nil
}

func (c *conn) status(ctx context.Context, f *frame) (reply, error) {
	if err := c.userOnly(wire.TypeStatus); err != nil {
		return nil, err
	}
	if err := c.present(wire.TypeStatus); err != nil {
		return nil, err
	}
	st, note, err := checkStatus(f.Status, f.Note, c.n.policy(c.tenant))
	if err != nil {
		return nil, err
	}
	ch, err := c.n.setStatus(ctx, c.tenant, c.user, st, note)
	if err != nil {
		return nil, err
	}
	return &statusOK{Presence: ch.Presence}, nil
}

// checkStatus validates the status and note fields (frame and HTTP): one
// of the built-in manual statuses, or a custom status of the tenant's
// policy (§9), given as its manual Status (presence.WithCustom).
func checkStatus(status, note *string, pol *tenant.Policy) (wire.Status, string, error) {
	var errs []problem.FieldError
	var st wire.Status
	choices := "online, away, busy, dnd"
	if pol != nil {
		for _, cs := range pol.Statuses {
			choices += ", " + cs.Name
		}
	}
	switch {
	case status == nil:
		errs = append(errs, problem.FieldError{Field: "status", Reason: "is required: one of " + choices})
	case wire.ValidManual(wire.Status(*status)):
		st = wire.Status(*status)
	default:
		cs, ok := pol.FindStatus(*status)
		if !ok {
			errs = append(errs, problem.FieldError{Field: "status", Reason: "must be one of " + choices + ", got " + quote(*status)})
			break
		}
		st = presence.WithCustom(wire.Status(cs.Base), cs.Name)
	}
	n := ""
	if note != nil {
		n = *note
		if k := utf8.RuneCountInString(n); k > wire.MaxNoteLen {
			errs = append(errs, problem.FieldError{Field: "note", Reason: "must be at most 140 characters, got " + strconv.Itoa(k)})
		}
	}
	if len(errs) > 0 {
		return "", "", problem.Fields(errs...)
	}
	return st, n, nil
}

func (c *conn) idle(ctx context.Context, f *frame) (reply, error) {
	if err := c.userOnly(wire.TypeIdle); err != nil {
		return nil, err
	}
	if err := c.present(wire.TypeIdle); err != nil {
		return nil, err
	}
	if f.Idle == nil {
		return nil, problem.Field("idle", "is required: true or false")
	}
	ch, err := c.n.store.SetIdle(ctx, c.tenant, c.user, c.session, *f.Idle, time.Now())
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.idleFlag = *f.Idle
	c.mu.Unlock()
	c.n.publish(ch)
	return nil, nil
}

func (c *conn) subscribe(ctx context.Context, f *frame) error {
	n := c.n
	if err := c.userOnly(wire.TypeSubscribe); err != nil {
		return err
	}
	tenant := f.Tenant != nil && *f.Tenant
	if len(f.Users) == 0 && !tenant {
		return problem.Field("users", "is required (a list of user ids) unless tenant is true")
	}
	if p := checkUsers(f.Users, n.cfg.MaxBatch); p != nil {
		return p
	}
	users := dedupe(f.Users)
	c.mu.Lock()
	have := c.subs.len()
	adding := 0
	for _, u := range users {
		if !c.subs.has(u) {
			adding++
		}
	}
	c.mu.Unlock()
	if have+adding > int(c.maxSubs) {
		return problem.New(problem.TooManySubscriptions, "users: this connection would watch %d users, more than the limit of %d", have+adding, c.maxSubs)
	}
	// The hub takes the bus interest, then calls read, then queues the reply
	// in order with the pushes.
	read := func() (userSnap, tenantSnap []wire.Presence, err error) {
		if err := n.bus.Flush(ctx); err != nil {
			n.log.Warn("nats flush before snapshot failed; a resync follows the reconnect", "err", err)
		}
		if len(users) > 0 {
			userSnap, err = n.store.GetMany(ctx, c.tenant, users)
		}
		if err == nil && tenant {
			tenantSnap, err = n.store.ListTenant(ctx, c.tenant)
		}
		return userSnap, tenantSnap, err
	}
	return n.hub.subscribe(c, users, tenant, read, func(list []json.RawMessage) []byte {
		return mustJSON(presenceListFrame{Type: wire.TypeOK, ID: f.ID, Presence: list})
	})
}

func (c *conn) unsubscribe(f *frame) error {
	if err := c.userOnly(wire.TypeUnsubscribe); err != nil {
		return err
	}
	tenant := f.Tenant != nil && *f.Tenant
	if len(f.Users) == 0 && !tenant {
		return problem.Field("users", "is required (a list of user ids) unless tenant is true")
	}
	if p := checkUsers(f.Users, c.n.cfg.MaxBatch); p != nil {
		return p
	}
	c.n.hub.unsubscribe(c, f.Users, tenant)
	return nil
}

func (c *conn) logout(ctx context.Context, f *frame) bool {
	if err := c.userOnly(wire.TypeLogout); err != nil {
		c.reply(f.ID, err)
		return true
	}
	if err := c.present(wire.TypeLogout); err != nil {
		c.reply(f.ID, err)
		return true
	}
	// One reply: ok once the session ended (before the bye), or the error.
	ok := func() {
		if f.ID != nil {
			c.send(okWith(f.ID, nil))
		}
	}
	if err := c.n.logoutSession(ctx, c.tenant, c.user, c.session, ok); err != nil {
		c.reply(f.ID, err)
		return true
	}
	return false
}

// errRoleLost marks a refresh whose token lacks the connection's role.
var errRoleLost = errors.New("refresh token lacks the connection's role")

func (c *conn) refresh(f *frame) (reply, error) {
	if c.login() != "" {
		return nil, problem.Field("token", "this connection is authenticated by a login session, not a token: there is nothing to refresh")
	}
	if f.Token == "" {
		return nil, problem.Field("token", "is required")
	}
	cl, err := c.n.auth.Verify(f.Token)
	if err != nil {
		return nil, err
	}
	if cl.Subject != c.user || cl.Tenant != c.tenant {
		return nil, problem.New(problem.Forbidden, "token: refresh needs a token for the same sub and tenant")
	}
	if cl.Session != "" && cl.Session != c.session {
		return nil, problem.New(problem.Forbidden, "token: its sid binds it to another session")
	}
	if cl.HasRole(auth.RoleBridge) != c.bridge {
		// The connection works as a bridge or as a person, chosen at
		// hello by the token's roles; a token that would choose the other
		// no longer allows what this connection does.
		return nil, problem.Wrap(errRoleLost, problem.Forbidden, "token: it does not carry the role this connection works as (bridge: %v); the connection is closed", c.bridge)
	}
	// Everything else of the new token applies at once, a downgrade
	// included: roles (admin), the bridges claim, the expiry.
	c.mu.Lock()
	c.admin = cl.HasRole(auth.RoleAdmin)
	c.setClaimsLocked(cl)
	c.expiringSent = false
	c.mu.Unlock()
	return &refreshOK{Expires: cl.Expires.Unix()}, nil
}

// setClaimsLocked keeps what the connection needs of its token's claims
// (c.mu held or not yet shared): the expiry the sweep enforces (none for a
// login: its tracker's), and a bridge's claims for its ipt frames.
func (c *conn) setClaimsLocked(cl auth.Claims) {
	c.expires = 0
	if c.login() == "" && !cl.Expires.IsZero() {
		c.expires = cl.Expires.Unix()
	}
	if c.bridge {
		c.ext.claims = cl
	}
}

func dedupe(users []string) []string {
	seen := make(map[string]bool, len(users))
	out := users[:0:0]
	for _, u := range users {
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}
