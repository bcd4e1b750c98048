// Package presence owns the presence model and its rules: connections, sessions
// (main and child windows of one app are one session), the grace period, manual
// status, idle aggregation, the phone overlay, and per-user versions.
//
// It defines the Store interface and its two implementations: Memory (in-process,
// the embedded default) and Redis (production, shared by all nodes). Both must
// pass the same contract suite (storetest). The package knows nothing about
// WebSockets, HTTP or NATS: callers publish the Changes it returns.
//
// The shapes it returns (the PRESENCE object, statuses, the phone overlay and
// its CALL) are the contract's, so they live in package wire; this package
// keeps the rules that produce them and what only the stores need (ConnInfo,
// Change, versions, how a custom status is kept inside a manual one).
package presence
