// Package gateway is a pgw node: the WebSocket endpoint (/v1/ws) and its
// frame protocol, the connection lifecycle (hello, rate limits, bounded
// outbound queues, pings, token expiry, drain), the HTTP API, health and
// metrics, and the configuration.
//
// It applies no presence rule itself: every transition goes through the
// presence.Store (package presence), telephony through package ipt, and
// fan-out through package bus. Errors become client-visible problems in one
// place (classify.go, with the table of package problem).
package gateway
