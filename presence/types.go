package presence

import (
	"strings"
	"time"

	"github.com/pgw/pgw/wire"
)

// A custom status of a tenant (contract §9) travels inside a manual
// Status as "base|name": the stores keep it as one value, and Aggregate
// splits it into PRESENCE status (the base, which clients that know only
// the built-in statuses show) and custom (the name). Names follow the id
// rule, so they never contain '|'.

// WithCustom is the manual Status of custom status name over base ("" name:
// base alone).
func WithCustom(base wire.Status, name string) wire.Status {
	if name == "" {
		return base
	}
	return base + "|" + wire.Status(name)
}

// SplitCustom returns a manual Status's base and custom name ("" when none).
func SplitCustom(s wire.Status) (base wire.Status, custom string) {
	b, c, _ := strings.Cut(string(s), "|")
	return wire.Status(b), c
}

// NextVersion is the version rule shared by every store: strictly above the
// previous version and never below the wall clock in microseconds, so versions
// keep increasing even when the store lost its state (Redis restarted empty, a
// node restarted) as long as one user changes less than once per microsecond.
func NextVersion(prev int64, now time.Time) int64 {
	v := prev + 1
	if floor := now.UnixMicro(); floor > v {
		v = floor
	}
	return v
}

// ConnInfo describes one open connection (one WebSocket) to the store.
type ConnInfo struct {
	Tenant  string
	User    string
	Session string
	Conn    string // connection id, unique across nodes
	Node    string // node id holding the connection
	Device  string // desktop|web|mobile|bridge
	Window  string // main|child
	// Bridge marks a connection of an IP-phone bridge (role bridge): it is
	// tracked like any connection but never makes its user present (§4).
	Bridge bool
}

// ConnRef names a connection the store knows.
type ConnRef struct {
	Tenant, User, Session, Conn, Node string
}

// Ref returns the reference of c.
func (c ConnInfo) Ref() ConnRef {
	return ConnRef{Tenant: c.Tenant, User: c.User, Session: c.Session, Conn: c.Conn, Node: c.Node}
}

// Change is the outcome of a transition: the user's presence afterwards and
// whether the PRESENCE object changed (only then is it published).
type Change struct {
	Presence wire.Presence
	Changed  bool
}

// Ended is a session the store ended (grace ran out, node died, logout).
type Ended struct {
	Tenant, User, Session string
	Bridge                bool
	Change                Change
}
