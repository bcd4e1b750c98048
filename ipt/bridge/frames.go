package bridge

import (
	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/wire"
)

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
	devices []wire.Device
	event   wire.EventFrame
	// down: the source lost its PBX; nothing it holds is known to be true
	// until its next sync.
	down bool
}

// clientName is the hello's client field.
const clientName = "ipt-bridge/1"
