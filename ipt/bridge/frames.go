package bridge

import (
	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/problem"
)

// The ipt.event names of the contract (§3.1).
const (
	EventRegistered   = "registered"
	EventUnregistered = "unregistered"
	EventRinging      = "ringing"
	EventAnswered     = "answered"
	EventHeld         = "held"
	EventResumed      = "resumed"
	EventEnded        = "ended"
)

// Device states of an ipt.sync device.
const (
	StateRegistered   = "registered"
	StateUnregistered = "unregistered"
)

// Call directions.
const (
	Inbound  = "inbound"
	Outbound = "outbound"
)

// Device is one entry of ipt.sync: the full truth about one extension.
type Device struct {
	Ext   string         `json:"ext"`
	User  string         `json:"user"`
	State string         `json:"state"`
	Call  *presence.Call `json:"call,omitempty"`
}

// SyncFrame is the ipt.sync frame.
type SyncFrame struct {
	Type    string   `json:"type"`
	ID      int64    `json:"id,omitempty"`
	Bridge  string   `json:"bridge"`
	Devices []Device `json:"devices"`
}

// EventFrame is the ipt.event frame.
type EventFrame struct {
	Type      string `json:"type"`
	ID        int64  `json:"id,omitempty"`
	Bridge    string `json:"bridge"`
	Seq       int64  `json:"seq"`
	Ext       string `json:"ext"`
	User      string `json:"user,omitempty"`
	Event     string `json:"event"`
	Call      string `json:"call,omitempty"`
	Direction string `json:"direction,omitempty"`
	Peer      string `json:"peer,omitempty"`
	At        string `json:"at,omitempty"`
}

// helloFrame is the first frame of every connection.
type helloFrame struct {
	Type    string `json:"type"`
	ID      int64  `json:"id"`
	Session string `json:"session"`
	Device  string `json:"device"`
	Client  string `json:"client"`
}

// refreshFrame replaces the connection's token before it expires.
type refreshFrame struct {
	Type  string `json:"type"`
	ID    int64  `json:"id"`
	Token string `json:"token"`
}

// inbound is the subset of every server frame the bridge reads.
type inbound struct {
	Type      string           `json:"type"`
	ID        any              `json:"id"`
	Reason    string           `json:"reason"`
	Expires   int64            `json:"expires"`
	Heartbeat int64            `json:"heartbeat"`
	Conn      string           `json:"conn"`
	Session   string           `json:"session"`
	Node      string           `json:"node"`
	Error     *problem.Problem `json:"error"`
}

// update is what a source hands the core: a snapshot or one event. The
// core adds bridge, seq and id.
type update struct {
	sync    bool
	devices []Device
	event   EventFrame
	// down: the source lost its PBX; nothing it holds is known to be true
	// until its next sync.
	down bool
}

// clientName is the hello's client field.
const clientName = "ipt-bridge/1"
