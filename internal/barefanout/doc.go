// Command barefanout is the floor pgw's fan-out is measured against (make
// bench, the fanout-*-bare runs): a server that speaks just enough of the
// protocol for the load-test harness's fanout scenario and does only the
// input and output a fan-out cannot skip — per status change one frame
// read, one Redis write, one NATS publish and one reply at the user's node,
// and at each node one NATS message and one frame write per watcher — with
// none of pgw's rules (no sessions, grace, versions kept per user, rate
// limits, anti-entropy, manual-status memory, per-user bus interest).
//
// It is written the plain way: a reader goroutine per connection, a
// frame encoded once per node (websocket.PreparedMessage) and written to
// each watcher from the NATS handler. Its CPU per delivery in the same run
// as pgw's shows how much of pgw's is the work of the input and output
// itself on that machine. Not a product: no origin check, no limits, every
// node gets every change (one wildcard subscription).
package main
