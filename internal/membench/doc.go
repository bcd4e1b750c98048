// Package membench measures the memory one idle WebSocket connection costs a
// gateway node: it opens N real connections (pgw: authenticated, in a
// session, subscribed to users; bare: a plain gorilla echo), lets the
// server's runtime settle and reads the server's /metrics and
// /proc/<pid>/status before and after.
//
// It owns the measurement only: it starts servers as separate processes (or,
// in its profiling test, one in-process gateway.Node with clients in a
// subprocess) and must not change the gateway, nor touch the machine's own
// Redis or NATS (a Redis run uses a private redis-server on a free port).
package membench
