package gateway

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/wire"
)

// metrics are the node's Prometheus metrics, on a registry of its own (no
// global state; several nodes may run in one test process). Labels never
// carry user, tenant or session ids.
type metrics struct {
	reg           *prometheus.Registry
	connections   prometheus.Gauge
	connects      prometheus.Counter
	disconnects   prometheus.Counter
	serverCloses  *prometheus.CounterVec
	framesIn      *prometheus.CounterVec
	framesOut     prometheus.Counter
	errors        *prometheus.CounterVec
	authFailures  *prometheus.CounterVec
	published     prometheus.Counter
	delivered     prometheus.Counter
	slowConsumers prometheus.Counter
	resyncs       prometheus.Counter
	reasserts     prometheus.Counter
	httpRequests  *prometheus.CounterVec
	loginChecks   prometheus.Counter
}

func newMetrics(n *Node) *metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &metrics{reg: reg}
	m.connections = prometheus.NewGauge(prometheus.GaugeOpts{Name: "pgw_connections", Help: "Open WebSocket connections that were welcomed."})
	m.connects = prometheus.NewCounter(prometheus.CounterOpts{Name: "pgw_connects_total", Help: "WebSocket upgrades accepted."})
	m.disconnects = prometheus.NewCounter(prometheus.CounterOpts{Name: "pgw_disconnects_total", Help: "WebSocket connections ended, for any reason."})
	m.serverCloses = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pgw_server_closes_total", Help: "Connections the server chose to close, by close code."}, []string{"code"})
	m.framesIn = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pgw_frames_in_total", Help: "Client frames received, by type."}, []string{"type"})
	m.framesOut = prometheus.NewCounter(prometheus.CounterOpts{Name: "pgw_frames_out_total", Help: "Frames written to clients."})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pgw_frame_errors_total", Help: "Error replies to frames, by problem code."}, []string{"code"})
	m.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pgw_auth_failures_total", Help: "Refused tokens and login sessions, by problem code."}, []string{"code"})
	m.published = prometheus.NewCounter(prometheus.CounterOpts{Name: "pgw_presence_published_total", Help: "Presence changes this node published on NATS."})
	m.delivered = prometheus.NewCounter(prometheus.CounterOpts{Name: "pgw_presence_delivered_total", Help: "Presence frames queued to local connections."})
	m.slowConsumers = prometheus.NewCounter(prometheus.CounterOpts{Name: "pgw_slow_consumers_total", Help: "Connections closed 1008 because their outbound queue overflowed."})
	m.resyncs = prometheus.NewCounter(prometheus.CounterOpts{Name: "pgw_resyncs_total", Help: "Resyncs of watched users after a NATS reconnect."})
	m.reasserts = prometheus.NewCounter(prometheus.CounterOpts{Name: "pgw_reasserts_total", Help: "Re-assertions of this node's connections in the store."})
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pgw_http_requests_total", Help: "HTTP API requests, by route and status."}, []string{"route", "status"})
	m.loginChecks = prometheus.NewCounter(prometheus.CounterOpts{Name: "pgw_login_checks_total", Help: "Login sessions read by the revocation check (one HMGET each)."})
	for _, c := range []prometheus.Collector{m.connections, m.connects, m.disconnects, m.serverCloses, m.framesIn,
		m.framesOut, m.errors, m.authFailures, m.published, m.delivered, m.slowConsumers, m.resyncs, m.reasserts, m.httpRequests, m.loginChecks} {
		f(c)
	}
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pgw_connections_live", Help: "Open connections, counted at scrape time."},
		func() float64 { return float64(n.hub.count()) }))
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pgw_login_sessions", Help: "Distinct login sessions (§2.1) used by this node's connections."},
		func() float64 {
			if n.logins.tracker == nil {
				return 0
			}
			return float64(n.logins.tracker.Sessions())
		}))
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f(collectors.NewGoCollector())
	return m
}

// frameLabel bounds the type label to the contract's types.
func frameLabel(t string, p *problem.Problem) string {
	if p != nil {
		return "invalid"
	}
	switch t {
	case wire.TypeHello, wire.TypeStatus, wire.TypeIdle, wire.TypeSubscribe, wire.TypeUnsubscribe, wire.TypeLogout, wire.TypeRefresh, wire.TypeIPTSync, wire.TypeIPTEvent:
		return t
	}
	return "unknown"
}

func closeLabel(code int) string { return strconv.Itoa(code) }
