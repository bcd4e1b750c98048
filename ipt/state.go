package ipt

import (
	"context"
	"errors"
	"time"

	"github.com/pgw/pgw/wire"
)

// Errors of this package. Callers classify them with errors.Is.
var (
	// ErrUnavailable: the state store (Redis) does not answer; the bridge
	// should retry (the gateway answers 503 unavailable).
	ErrUnavailable = errors.New("telephony state unavailable")
)

// Device is the gateway's view of one extension.
type Device struct {
	Ext    string `json:"ext"`
	User   string `json:"user"`
	Bridge string `json:"bridge"`
	// State is one of the wire.Phone* states.
	State string `json:"state"`
	// Call is the device's current call (state ringing, in_call or held),
	// nil when it has none. It is kept while the device is unknown so that
	// the bridge's next ipt.sync can end it (reason resync) or continue it.
	Call *wire.Call `json:"call,omitempty"`
}

// BridgeRef names one bridge of one tenant.
type BridgeRef struct {
	Tenant, Bridge string
}

// StateStore keeps the devices, the ext → user index, the bridges' devices,
// sequence numbers and liveness. Every method is safe for concurrent use.
// The Service holds the rules; a store only keeps and indexes.
type StateStore interface {
	// Device returns the device of ext; ok is false when the tenant has none.
	Device(ctx context.Context, tenant, ext string) (d Device, ok bool, err error)
	// PutDevice stores d as the device of d.Ext. The ext index then names
	// d.User and d.Bridge lists d.Ext; a previous owner (user or bridge) no
	// longer does.
	PutDevice(ctx context.Context, tenant string, d Device) error
	// UserDevices returns the devices d.User == user, sorted by ext.
	UserDevices(ctx context.Context, tenant, user string) ([]Device, error)
	// BridgeExts returns the extensions the bridge holds, sorted.
	BridgeExts(ctx context.Context, tenant, bridge string) ([]string, error)

	// Restart starts a new sequence for the bridge (an ipt.sync): the next
	// accepted seq is any seq ≥ 1. It returns the new sequence's id, above
	// every id the store returned for the bridge before and at least now in
	// Unix microseconds (so ids keep rising after Redis restarted empty).
	Restart(ctx context.Context, tenant, bridge string, now time.Time) (sequence int64, err error)
	// Accept records seq as the bridge's last accepted seq when it is
	// greater than the last one, atomically; it reports whether it was.
	// sequence is the id Restart returned to the sync the event follows,
	// 0 when unknown (HTTP, or no sync on the event's connection): an event
	// of a sequence older than the bridge's current one is never accepted
	// (it was in flight on a connection the bridge has since replaced and
	// synced again), and one of a newer sequence (the store lost the
	// bridge's record) starts that sequence.
	Accept(ctx context.Context, tenant, bridge string, seq, sequence int64) (bool, error)

	// Bind records how the bridge is connected. A non-empty session binds it
	// to that WebSocket session (SessionEnded of it makes the devices
	// unknown) and drops it from the HTTP liveness index; an empty session
	// marks it HTTP-only, last seen at now, and drops any session binding.
	Bind(ctx context.Context, tenant, bridge, session string, now time.Time) error
	// TakeSession unbinds and returns the bridges still bound to session.
	// Two callers for one session get disjoint results.
	TakeSession(ctx context.Context, tenant, session string) ([]string, error)
	// DueHTTP returns the HTTP-only bridges last seen at or before cutoff.
	DueHTTP(ctx context.Context, cutoff time.Time) ([]BridgeRef, error)
	// ExpireHTTP removes the bridge from the HTTP liveness index if it was
	// still last seen at or before cutoff, atomically, and reports whether
	// it did: a bridge that posted meanwhile stays. Of two callers (two
	// nodes), at most one gets true.
	ExpireHTTP(ctx context.Context, ref BridgeRef, cutoff time.Time) (bool, error)
}
