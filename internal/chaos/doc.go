// Package chaos is pgw's model-based fault checker (Jepsen's idea, for
// presence) and its soak mode.
//
// One run starts three real gateway processes (cmd/gateway built once), a
// private Redis (or a Redis Cluster), an embedded NATS server, and a
// toxiproxy proxy between each node and Redis and between each node and
// NATS. Seeded workers drive real WebSocket clients (windows opening,
// closing, reconnecting within and after the grace, logout, manual status
// over WebSocket and HTTP, idle, subscribe, a PBX bridge's ipt.sync and
// ipt.event) while a fault schedule from the same seed adds latency,
// timeouts, resets and one-way stalls on the proxies, kills a node with
// SIGKILL and restarts it, restarts Redis empty or NATS, and stops a node
// with SIGSTOP for longer than PGW_NODE_TTL.
//
// A model keeps what must be true (open connections, live sessions, each
// user's status and phone). After each round the faults are healed and the
// checker polls, with a deadline, until every invariant holds: each
// subscriber's last frame per user equals the model and GET on every node,
// versions never go back within a connection, the :conn: keys are exactly
// the open connections, no call is stuck ringing, and every closed client
// connection was closed with a code of the close-code table. On a failure
// it prints the seed, the last operations and the diff.
//
// The seed fixes the schedule of operations and faults; thread timing still
// varies between runs, so a replay re-runs the same schedule rather than the
// same interleaving. docs/chaos.md says how to run and replay it.
package chaos
