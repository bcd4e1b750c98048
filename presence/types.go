package presence

import (
	"strings"
	"time"
)

// Status is a user's aggregated status.
type Status string

// The statuses of the contract (§3.2). Offline is computed, never set.
const (
	Online  Status = "online"
	Away    Status = "away"
	Busy    Status = "busy"
	DND     Status = "dnd"
	Offline Status = "offline"
)

// ManualStatuses are the values a user may set with the status frame.
var ManualStatuses = []Status{Online, Away, Busy, DND}

// ValidManual reports whether s may be set by a user (online clears).
func ValidManual(s Status) bool {
	switch s {
	case Online, Away, Busy, DND:
		return true
	}
	return false
}

// A custom status of a tenant (contract §9) travels inside a manual
// Status as "base|name": the stores keep it as one value, and Aggregate
// splits it into PRESENCE status (the base, which clients that know only
// the built-in statuses show) and custom (the name). Names follow the id
// rule, so they never contain '|'.

// WithCustom is the manual Status of custom status name over base ("" name:
// base alone).
func WithCustom(base Status, name string) Status {
	if name == "" {
		return base
	}
	return base + "|" + Status(name)
}

// Split returns a manual Status's base and custom name ("" when none).
func (s Status) Split() (base Status, custom string) {
	b, c, _ := strings.Cut(string(s), "|")
	return Status(b), c
}

// MaxNoteLen is the longest note, in characters, a status may carry.
const MaxNoteLen = 140

// Device kinds a hello may declare.
const (
	DeviceDesktop = "desktop"
	DeviceWeb     = "web"
	DeviceMobile  = "mobile"
	DeviceBridge  = "bridge"
)

// ValidDevice reports whether d is a device kind of the contract.
func ValidDevice(d string) bool {
	switch d {
	case DeviceDesktop, DeviceWeb, DeviceMobile, DeviceBridge:
		return true
	}
	return false
}

// Phone states (§3.2).
const (
	PhoneUnknown      = "unknown"
	PhoneUnregistered = "unregistered"
	PhoneIdle         = "idle"
	PhoneRinging      = "ringing"
	PhoneInCall       = "in_call"
	PhoneHeld         = "held"
)

// Call is the CALL object of the contract.
type Call struct {
	ID        string `json:"id"`
	State     string `json:"state"` // ringing|in_call|held|ended
	Direction string `json:"direction,omitempty"`
	Peer      string `json:"peer,omitempty"`
	Since     string `json:"since,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// Phone is the telephony overlay of a user's presence.
type Phone struct {
	State string `json:"state"`
	Ext   string `json:"ext"`
	Call  *Call  `json:"call,omitempty"`
}

// Equal reports whether two overlays are the same (nil-safe).
func (p *Phone) Equal(q *Phone) bool {
	if p == nil || q == nil {
		return p == q
	}
	if p.State != q.State || p.Ext != q.Ext {
		return false
	}
	if p.Call == nil || q.Call == nil {
		return p.Call == q.Call
	}
	return *p.Call == *q.Call
}

// Presence is the PRESENCE object: the same JSON in presence frames, HTTP
// responses and NATS messages.
type Presence struct {
	Type     string   `json:"type"`
	Tenant   string   `json:"tenant"`
	User     string   `json:"user"`
	Status   Status   `json:"status"`
	Custom   string   `json:"custom,omitempty"` // a custom status of the tenant (§9); Status is its base
	Note     string   `json:"note,omitempty"`
	Manual   bool     `json:"manual"`
	Sessions int      `json:"sessions"`
	Devices  []string `json:"devices"`
	Phone    *Phone   `json:"phone,omitempty"`
	Version  int64    `json:"version"`
	Since    string   `json:"since,omitempty"`
}

// SameState reports whether p and q describe the same state, ignoring Version
// and Since: a push is only made when this is false (§3.2).
func (p Presence) SameState(q Presence) bool {
	if p.Tenant != q.Tenant || p.User != q.User || p.Status != q.Status || p.Custom != q.Custom ||
		p.Note != q.Note || p.Manual != q.Manual || p.Sessions != q.Sessions ||
		len(p.Devices) != len(q.Devices) || !p.Phone.Equal(q.Phone) {
		return false
	}
	for i := range p.Devices {
		if p.Devices[i] != q.Devices[i] {
			return false
		}
	}
	return true
}

// OfflinePresence is the presence of a user nobody has seen (version 0).
func OfflinePresence(tenant, user string) Presence {
	return Presence{Type: "presence", Tenant: tenant, User: user, Status: Offline, Devices: []string{}}
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

// FormatSince renders a change time as the contract's RFC 3339 UTC string.
func FormatSince(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

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
	Presence Presence
	Changed  bool
}

// Ended is a session the store ended (grace ran out, node died, logout).
type Ended struct {
	Tenant, User, Session string
	Bridge                bool
	Change                Change
}
