// Package gateway is a pgw node: the WebSocket endpoint (/v1/ws) and its
// frame protocol, the connection lifecycle (hello, rate limits, bounded
// outbound queues, pings, token expiry, drain), the HTTP API, health and
// metrics, and the configuration.
//
// It applies no presence rule itself: every transition goes through the
// presence.Store (package presence), telephony through package ipt, and
// fan-out through package bus. Errors become client-visible problems in one
// place (classify.go, with the table of package problem).
//
// The hub (hub.go) is the node's registry of connections and the one owner
// of its bus interest in presence: it counts each user's local holders
// (watching connections, subscribes in flight, the user's own connections)
// and fans out under 64 shard locks keyed by user, so deliveries to
// different users run in parallel and one user's versions stay in order.
package gateway
