// Package loadtest is the gateway's load-test harness: it opens many real
// WebSocket connections to one or more gateway nodes, drives its scenarios
// (hold, fanout, churn, storm, ipt), measures what the clients see
// (connect, delivery and telephony latency in HdrHistograms, throughput per
// second, errors by close and problem code), scrapes what the servers report
// (/metrics), and checks the end state for correctness (no `:conn:` key left
// in Redis, every user's presence right).
//
// A run is one coordinator and one or more workers. With Config.Procs > 1 the
// coordinator re-executes its own binary as workers (`loadtest worker`), each
// holding its share of the users and its own source addresses, and merges
// their results; barriers keep the phases of all workers in step.
//
// It owns only the client side: it never imports the gateway, never writes to
// Redis except to delete keys under the run's own prefix when asked, and sends
// traffic only to the targets it is given.
package loadtest
