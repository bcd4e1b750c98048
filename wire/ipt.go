package wire

// Events of ipt.event (§3.1); the same words are the event of a call frame.
const (
	EventRegistered   = "registered"
	EventUnregistered = "unregistered"
	EventRinging      = "ringing"
	EventAnswered     = "answered"
	EventHeld         = "held"
	EventResumed      = "resumed"
	EventEnded        = "ended"
)

// Device states a bridge reports in ipt.sync (§3.1).
const (
	SyncRegistered   = "registered"
	SyncUnregistered = "unregistered"
)

// Call directions.
const (
	Inbound  = "inbound"
	Outbound = "outbound"
)

// SyncCall is a call as a bridge reports it in ipt.sync.
type SyncCall struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	Direction string `json:"direction,omitempty"`
	Peer      string `json:"peer,omitempty"`
	Since     string `json:"since,omitempty"`
}

// Device is one device of an ipt.sync: the full truth about one extension.
type Device struct {
	Ext   string    `json:"ext"`
	User  string    `json:"user"`
	State string    `json:"state"`
	Call  *SyncCall `json:"call,omitempty"`
}

// SyncBody is ipt.sync without type and id (and the body of POST
// /v1/ipt/sync): the full truth of every device behind one bridge.
type SyncBody struct {
	Bridge  string   `json:"bridge"`
	Devices []Device `json:"devices"`
}

// SyncFrame is the ipt.sync frame.
type SyncFrame struct {
	Type string `json:"type"`
	ID   int64  `json:"id,omitempty"`
	SyncBody
}

// EventBody is one ipt.event without type and id (and an element of POST
// /v1/ipt/events).
type EventBody struct {
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

// EventFrame is the ipt.event frame.
type EventFrame struct {
	Type string `json:"type"`
	ID   int64  `json:"id,omitempty"`
	EventBody
}
