// Package bus owns the NATS side of a node: the subjects, the node-level
// interest (one NATS subscription per watched user, or one per tenant once a
// tenant has many watched users on this node), publishing presence, call and
// control messages, and telling its owner to resync after a reconnect. It
// does not count local watchers of a user: the gateway's hub does, and calls
// Watch for the first and Unwatch after the last.
//
// It starts an embedded NATS server when no URL is configured, so fan-out
// always goes through NATS, even on one node. It does not know about
// WebSockets or the presence rules: it hands raw payloads to the handlers it
// was given and never decodes a PRESENCE beyond its version header.
package bus
