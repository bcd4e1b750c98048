// Package ipt owns the telephony state model: the devices (extensions) that
// IP-phone bridges report with ipt.sync and ipt.event, their state and
// current call, which bridge and user each extension belongs to, the bridge
// sequence numbers, and bridge liveness (WebSocket session or HTTP TTL).
//
// It turns every bridge message into a Result: the PRESENCE changes made by
// writing the phone overlay through presence.Store.SetPhone, and the `call`
// frames (wire.CallFrame) to deliver. It must not touch a user's status, sessions or
// connections (only the phone overlay), and it knows nothing of WebSockets,
// HTTP or NATS: the gateway decodes the frames and publishes the Result.
// The AMI bridge (ipt/ami, ipt/bridge) is a client of the contract, not of
// this package.
//
// State lives in a StateStore: NewMemoryState (in-process) or NewRedisState
// (shared by all nodes); both pass the same suite. docs/telephony.md
// describes the model.
package ipt
