// Package testenv starts the real servers tests need, each private to the
// test and on a free port, and stops them when the test ends: redis-server
// processes (so a test may kill, restart or empty them) and embedded NATS
// servers. It also holds WaitFor, the one polling helper (no sleeps as
// synchronisation). It never touches the machine's own Redis or NATS.
package testenv
