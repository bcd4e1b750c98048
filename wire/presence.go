package wire

import "time"

// Status is a user's aggregated status, the status member of PRESENCE and of
// the status frame (§3.2).
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

// Phone states (§3.2): the state member of PRESENCE's phone. A CALL's state
// is ringing, in_call, held or CallEnded.
const (
	PhoneUnknown      = "unknown"
	PhoneUnregistered = "unregistered"
	PhoneIdle         = "idle"
	PhoneRinging      = "ringing"
	PhoneInCall       = "in_call"
	PhoneHeld         = "held"
)

// CallEnded is the state of a CALL that is over; its reason says why.
const CallEnded = "ended"

// Reasons an ended CALL carries.
const (
	ReasonHangup       = "hangup"       // the bridge sent ended
	ReasonResync       = "resync"       // an ipt.sync no longer lists the call
	ReasonUnregistered = "unregistered" // the device unregistered during the call
)

// Call is the CALL object: the call member of PRESENCE's phone and of the
// call frame.
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
	return Presence{Type: TypePresence, Tenant: tenant, User: user, Status: Offline, Devices: []string{}}
}

// CallFrame is the call frame sent to every connection of the user who owns
// Ext, and the JSON published on pgw.call.<tenant>.<user> (§3.2).
type CallFrame struct {
	Type   string `json:"type"`
	Tenant string `json:"tenant"`
	User   string `json:"user"`
	Ext    string `json:"ext"`
	Event  string `json:"event"`
	Call   Call   `json:"call"`
	At     string `json:"at"`
}

// FormatSince renders a time as the contract's RFC 3339 UTC string with
// milliseconds (since, at).
func FormatSince(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }
