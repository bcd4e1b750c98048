package loadtest

// NodeSummary is what one node's /metrics said about the run.
type NodeSummary struct {
	Target       string  `json:"target"`
	Scraped      bool    `json:"scraped"`
	BaseRSS      float64 `json:"base_rss"`       // bytes, first scrape (before connections)
	PeakConns    float64 `json:"peak_conns"`     // largest pgw_connections
	RSSAtPeak    float64 `json:"rss_at_peak"`    // bytes, in the scrape with the most connections
	BytesPerConn float64 `json:"bytes_per_conn"` // (RSSAtPeak-BaseRSS)/PeakConns; -1 when unknown
	// MarginalPerConn is the least-squares slope of RSS over connections
	// while they ramped up: the cost of one more connection without the
	// node's fixed overhead; -1 when there are too few samples.
	MarginalPerConn float64 `json:"marginal_per_conn"`
	CPUSeconds      float64 `json:"cpu_seconds"` // during the measured window; -1 when unknown
	PeakGoroutines  float64 `json:"peak_goroutines"`
}

// ServerSummary digests every node's samples.
type ServerSummary struct {
	Nodes []NodeSummary `json:"nodes"`
	// BytesPerConn is the total RSS growth over the total peak connections.
	BytesPerConn float64 `json:"bytes_per_conn"`
	// MarginalPerConn is the nodes' RSS slope per connection, weighted by
	// their peaks; -1 when unknown.
	MarginalPerConn float64 `json:"marginal_per_conn"`
	// CPUSeconds is all nodes' CPU during the measured window.
	CPUSeconds float64 `json:"cpu_seconds"`
	// CPUPer1kDeliveries is CPUSeconds per 1000 deliveries (fanout, ipt); -1
	// when there were none or CPU is not exported.
	CPUPer1kDeliveries float64 `json:"cpu_per_1k_deliveries"`
	// Counts are the growth of the nodes' counters over the run
	// (pgw_connects_total, pgw_disconnects_total, pgw_presence_delivered_total).
	Counts map[string]float64 `json:"counts,omitempty"`
	// Closes and FrameErrors are the server's closes and error replies by
	// code over the run (pgw_server_closes_total, pgw_frame_errors_total,
	// pgw_auth_failures_total).
	Closes      map[string]float64 `json:"closes,omitempty"`
	FrameErrors map[string]float64 `json:"frame_errors,omitempty"`
	// AtVerify is the growth of the same counters up to the verify barrier,
	// before the harness's own checker connections: it should equal the
	// clients' connects and presence frames exactly.
	AtVerify map[string]float64 `json:"at_verify,omitempty"`
	// PeakConns is the sum of the nodes' peak connections.
	PeakConns float64 `json:"peak_conns"`
}

// at returns the value of field in the last sample at or before t (the
// first sample when none is), or -1.
func at(s []NodeSample, t float64, field func(NodeSample) float64) float64 {
	v := -1.0
	for _, x := range s {
		if !x.Up || field(x) < 0 {
			continue
		}
		if x.T <= t {
			v = field(x)
			continue
		}
		if v < 0 {
			v = field(x)
		}
		break
	}
	return v
}

// Summarize computes the server-side numbers over the window [from, to]
// (seconds since the run's start) for CPU; memory uses the whole run.
func Summarize(nodes []NodeSeries, from, to float64, deliveries int64) ServerSummary {
	var out ServerSummary
	out.BytesPerConn, out.CPUPer1kDeliveries, out.MarginalPerConn = -1, -1, -1
	var growth, conns, cpu, slopeSum, slopeConns float64
	cpuKnown := false
	for _, n := range nodes {
		ns := NodeSummary{Target: n.Target, BytesPerConn: -1, CPUSeconds: -1, BaseRSS: -1, RSSAtPeak: -1, MarginalPerConn: rampSlope(n.Samples)}
		for _, s := range n.Samples {
			if !s.Up {
				continue
			}
			if !ns.Scraped {
				ns.Scraped, ns.BaseRSS = true, s.RSS
			}
			if s.Conns > ns.PeakConns {
				ns.PeakConns, ns.RSSAtPeak = s.Conns, s.RSS
			}
			ns.PeakGoroutines = max(ns.PeakGoroutines, s.Goroutines)
		}
		if ns.PeakConns > 0 && ns.BaseRSS >= 0 && ns.RSSAtPeak >= 0 {
			ns.BytesPerConn = (ns.RSSAtPeak - ns.BaseRSS) / ns.PeakConns
			growth += ns.RSSAtPeak - ns.BaseRSS
			conns += ns.PeakConns
		}
		if ns.MarginalPerConn >= 0 {
			slopeSum += ns.MarginalPerConn * ns.PeakConns
			slopeConns += ns.PeakConns
		}
		c0 := at(n.Samples, from, func(s NodeSample) float64 { return s.CPU })
		c1 := at(n.Samples, to, func(s NodeSample) float64 { return s.CPU })
		if c0 >= 0 && c1 >= 0 {
			ns.CPUSeconds = c1 - c0
			cpu += ns.CPUSeconds
			cpuKnown = true
		}
		out.PeakConns += ns.PeakConns
		if n.First != nil && n.Last != nil {
			out.Counts = addGrowth(out.Counts, n.First, n.Last, MetricConnects, MetricDisconnects, MetricDelivered)
			out.Closes = addLabelGrowth(out.Closes, n.First, n.Last, MetricCloses)
			out.FrameErrors = addLabelGrowth(out.FrameErrors, n.First, n.Last, MetricFrameErrors)
			out.FrameErrors = addLabelGrowth(out.FrameErrors, n.First, n.Last, MetricAuthErrors)
		}
		out.Nodes = append(out.Nodes, ns)
	}
	if conns > 0 {
		out.BytesPerConn = growth / conns
	}
	if slopeConns > 0 {
		out.MarginalPerConn = slopeSum / slopeConns
	}
	out.CPUSeconds = -1
	if cpuKnown {
		out.CPUSeconds = cpu
		if deliveries > 0 {
			out.CPUPer1kDeliveries = cpu / (float64(deliveries) / 1000)
		}
	}
	return out
}

// window returns the measured window of a run in seconds since its start:
// from the "drive" phase (or the start) to "drained" (or the end).
func window(r *Result) (from, to float64) {
	to = r.End.Sub(r.Start).Seconds()
	if t := r.PhaseAt(PhaseDrive); !t.IsZero() {
		from = t.Sub(r.Start).Seconds()
	}
	if t := r.PhaseAt(PhaseDrained); !t.IsZero() {
		to = t.Sub(r.Start).Seconds()
	}
	return from, to
}

// addGrowth adds last-first of each named metric that the node exports.
func addGrowth(into map[string]float64, first, last Metrics, names ...string) map[string]float64 {
	for _, name := range names {
		v1, ok := last.Sum(name)
		if !ok {
			continue
		}
		v0, _ := first.Sum(name)
		if into == nil {
			into = map[string]float64{}
		}
		into[name] += v1 - v0
	}
	return into
}

// addLabelGrowth adds last-first of a metric's series by their code label.
func addLabelGrowth(into map[string]float64, first, last Metrics, name string) map[string]float64 {
	f := first.ByLabel(name, "code")
	for code, v := range last.ByLabel(name, "code") {
		if d := v - f[code]; d != 0 {
			if into == nil {
				into = map[string]float64{}
			}
			into[code] += d
		}
	}
	return into
}

// rampSlope fits RSS = a + b·conns by least squares over the samples with
// connections up to the one with the most, and returns b (bytes per connection),
// or -1 with fewer than 3 usable samples or connections spread over < 100.
func rampSlope(samples []NodeSample) float64 {
	peak := -1
	for i, s := range samples {
		if s.Up && s.Conns > 0 && s.RSS >= 0 && (peak < 0 || s.Conns > samples[peak].Conns) {
			peak = i
		}
	}
	var n, sx, sy, sxx, sxy, lo, hi float64
	lo = -1
	// Samples with no connection are left out: the node's first connection
	// brings one-off costs (pools, buffers) that are not per connection.
	for _, s := range samples[:peak+1] {
		if !s.Up || s.Conns <= 0 || s.RSS < 0 {
			continue
		}
		n++
		sx, sy, sxx, sxy = sx+s.Conns, sy+s.RSS, sxx+s.Conns*s.Conns, sxy+s.Conns*s.RSS
		if lo < 0 || s.Conns < lo {
			lo = s.Conns
		}
		hi = max(hi, s.Conns)
	}
	den := n*sxx - sx*sx
	if n < 3 || hi-lo < 100 || den == 0 {
		return -1
	}
	return max(0, (n*sxy-sx*sy)/den)
}
