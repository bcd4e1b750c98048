package presence

import (
	"context"
	"errors"
	"time"

	"github.com/pgw/pgw/wire"
)

// Errors a Store returns. Callers classify them with errors.Is; stores wrap
// them with %w to add detail.
var (
	// ErrSessionConflict: the session id is bound to another user or tenant.
	ErrSessionConflict = errors.New("session belongs to another user")
	// ErrTooManyConnections: the user already holds Options.MaxConnsPerUser connections.
	ErrTooManyConnections = errors.New("too many connections for this user")
	// ErrUnknownSession: no live session has that id.
	ErrUnknownSession = errors.New("unknown session")
	// ErrOffline: a manual status was set for a user with no live session; a
	// manual status lasts only while the user is present (§3.1).
	ErrOffline = errors.New("user is offline")
	// ErrLoggedOut: Connect of a connection whose session was logged out
	// (Logout returned it) within LoggedOutTTL. Nothing is stored: the
	// connection must close, never come back. A node that missed the
	// logout's close message (NATS down, the node paused) learns it here,
	// when it re-asserts its connections.
	ErrLoggedOut = errors.New("connection's session was logged out")
	// ErrStatusChosen: RestoreStatus found a status the user chose after
	// the one to restore; nothing changed (the user's choice stands).
	ErrStatusChosen = errors.New("user chose a status since")
	// ErrUnavailable: the backing service (Redis) does not answer; the caller
	// may retry and must re-assert its connections once it is back.
	ErrUnavailable = errors.New("presence store unavailable")
)

// LoggedOutTTL is how long a store remembers the connections of a
// logged-out session (ErrLoggedOut): longer than any node can be away
// (paused, cut off from NATS) and still come back with them open.
const LoggedOutTTL = 24 * time.Hour

// Options are the rules' parameters, shared by every store.
type Options struct {
	// Grace is how long a session stays live after its last connection closed
	// (contract §4, PGW_GRACE). Default 5s.
	Grace time.Duration
	// NodeTTL is how long a node may miss its heartbeat before it is dead and
	// its connections are reaped (PGW_NODE_TTL). Default 8s.
	NodeTTL time.Duration
	// MaxConnsPerUser caps the open connections of one user over all nodes.
	// Default 32.
	MaxConnsPerUser int
	// Prefix starts every key (PGW_PREFIX). Default "pgw".
	Prefix string
	// VersionTTL is how long a user who went offline keeps the version of
	// that offline change (contract §3.2, PGW_VERSION_TTL): Get, GetMany and
	// the stores' replies answer offline with it, so a client that held the
	// user online at a lower version takes the offline. After it the user is
	// forgotten (offline, version 0). Default 168h.
	VersionTTL time.Duration
	// PerTenant, when set, gives a tenant's own grace and connection cap
	// (its policy, contract §9); a zero result keeps Grace or
	// MaxConnsPerUser. It is asked at each Connect and Disconnect, so a
	// policy change applies to the next ones.
	PerTenant func(tenant string) (grace time.Duration, maxConns int)
}

// GraceFor is the grace of a session of tenant.
func (o Options) GraceFor(tenant string) time.Duration {
	if o.PerTenant != nil {
		if g, _ := o.PerTenant(tenant); g > 0 {
			return g
		}
	}
	return o.Grace
}

// MaxConnsFor is the connection cap of a user of tenant.
func (o Options) MaxConnsFor(tenant string) int {
	if o.PerTenant != nil {
		if _, m := o.PerTenant(tenant); m > 0 {
			return m
		}
	}
	return o.MaxConnsPerUser
}

// DefaultOptions returns the contract's defaults.
func DefaultOptions() Options {
	return Options{Grace: 5 * time.Second, NodeTTL: 8 * time.Second, MaxConnsPerUser: 32, Prefix: "pgw",
		VersionTTL: 168 * time.Hour}
}

// Store keeps presence state and applies the rules atomically per user. Every
// method is safe for concurrent use and idempotent where retried with the same
// arguments (a second Disconnect of one connection changes nothing).
type Store interface {
	// Connect registers an open connection and binds its session to the user.
	// Fails with ErrSessionConflict, ErrTooManyConnections or ErrLoggedOut
	// (nothing stored).
	Connect(ctx context.Context, c ConnInfo, now time.Time) (Change, error)
	// Disconnect removes a connection. When it was its session's last, the
	// session stays live for Options.Grace (ExpireDue ends it).
	Disconnect(ctx context.Context, c ConnRef, now time.Time) (Change, error)
	// SetStatus sets the user's manual status and note; Online clears it.
	// ErrOffline when the user has no live session.
	SetStatus(ctx context.Context, tenant, user string, s wire.Status, note string, now time.Time) (Change, error)
	// RestoreStatus sets a manual status again that the store lost (a node
	// re-asserting its connections' users after it was reaped or Redis
	// restarted empty): as SetStatus, unless the user chose a status with
	// SetStatus at a version above since (the version the status to
	// restore was learnt from); then ErrStatusChosen and nothing changes,
	// so a restore never undoes what the user chose meanwhile, "online"
	// included. ErrOffline as SetStatus.
	RestoreStatus(ctx context.Context, tenant, user string, s wire.Status, note string, since int64, now time.Time) (Change, error)
	// SetIdle sets one session's idle flag.
	SetIdle(ctx context.Context, tenant, user, session string, idle bool, now time.Time) (Change, error)
	// Logout ends a session at once, with no grace, and returns the
	// connections it still had so the caller can close them on their nodes;
	// a later Connect of any of them fails with ErrLoggedOut.
	// ErrUnknownSession when the user has no such session.
	Logout(ctx context.Context, tenant, user, session string, now time.Time) (Change, []ConnRef, error)
	// SessionOwner returns the user a live session of the tenant belongs
	// to. Session ids are scoped by tenant: the same id in two tenants is
	// two sessions, and one tenant never learns of another's.
	SessionOwner(ctx context.Context, tenant, session string) (user string, err error)
	// SetPhone replaces the user's telephony overlay (nil removes it).
	SetPhone(ctx context.Context, tenant, user string, p *wire.Phone, now time.Time) (Change, error)
	// Get returns a user's presence: offline with the version it was
	// published with for Options.VersionTTL after the user went offline;
	// OfflinePresence (version 0) when never seen or forgotten since.
	Get(ctx context.Context, tenant, user string) (wire.Presence, error)
	// GetMany returns the presence of each user, in order.
	GetMany(ctx context.Context, tenant string, users []string) ([]wire.Presence, error)
	// ListTenant returns every user of the tenant who is not offline.
	ListTenant(ctx context.Context, tenant string) ([]wire.Presence, error)
	// ExpireDue ends the sessions whose grace ran out by now (and lets a
	// store forget offline users whose VersionTTL ran out).
	ExpireDue(ctx context.Context, now time.Time) ([]Ended, error)
	// Heartbeat records that node is alive (TTL Options.NodeTTL). It reports
	// false when the node had already been declared dead and reaped: the node
	// must then re-assert its live connections with Connect.
	Heartbeat(ctx context.Context, node string, now time.Time) (alive bool, err error)
	// ReapDeadNodes removes the connections of nodes whose heartbeat lapsed;
	// sessions left without a connection end at once (no grace). It returns
	// the ended sessions with the resulting changes.
	ReapDeadNodes(ctx context.Context, now time.Time) ([]Ended, error)
	// RemoveNode removes every connection of node at once (clean shutdown, or
	// a node restarting with the same id cleaning up its earlier run), with
	// the same outcome as ReapDeadNodes.
	RemoveNode(ctx context.Context, node string, now time.Time) ([]Ended, error)
	// Ping reports whether the backing service answers (readiness).
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}
