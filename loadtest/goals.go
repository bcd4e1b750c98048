package loadtest

import (
	"fmt"
	"math"
	"time"
)

// The speed targets a run is judged against (docs/benchmarks.md lists them
// beside the measured numbers).
const (
	GoalIdlePerNode     = 19000    // idle connections one node holds
	GoalIdleCluster     = 100000   // idle connections across 6 nodes
	GoalRSSPerConnMax   = 8 * 1024 // bytes of server RSS per connection (must)
	GoalRSSPerConnGoal  = 6 * 1024 // (goal)
	GoalConnectRate     = 5000     // authenticated connects/s to one node (must)
	GoalConnectRateGoal = 10000    // (goal)
	GoalFanoutRate      = 20000    // deliveries/s across 3 nodes
	GoalFanoutP99       = 20 * time.Millisecond
	// Fan-out latency and cost on 3 nodes (issue 13), judged at the
	// offered rate the run was sized for.
	GoalFanoutLowRate    = 10000 // deliveries/s ...
	GoalFanoutLowP99     = 2 * time.Millisecond
	GoalFanoutHighRate   = 50000 // ... and at 50 000/s:
	GoalFanoutHighP99    = 10 * time.Millisecond
	GoalFanoutHighCPU    = 0.5 // of one core, summed over the gateway nodes
	GoalStormConns       = 50000
	GoalStormBack        = 15 * time.Second
	goalClusterNodes     = 6
	goalFanoutNodes      = 3
	goalIdlePerNodeSlack = 0.99 // a node "holds 19 000" when it peaked at ≥ 99% of the offered share
)

// atLeast judges actual ≥ target; margin is the relative difference.
func atLeast(name, target string, want, actual float64, unit string) Check {
	c := Check{Name: name, Target: target, Actual: fmt.Sprintf("%.0f%s", actual, unit), Status: Pass, Goal: true}
	if actual < want {
		c.Status = Miss
	}
	c.Margin = fmt.Sprintf("%+.0f%%", (actual/want-1)*100)
	return c
}

// atMost judges actual ≤ target.
func atMost(name, target string, limit, actual float64, format string) Check {
	c := Check{Name: name, Target: target, Actual: fmt.Sprintf(format, actual), Status: Pass, Goal: true}
	if actual > limit {
		c.Status = Miss
	}
	c.Margin = fmt.Sprintf("%+.0f%%", (actual/limit-1)*100)
	return c
}

// notSized marks a goal the run was too small (or not set up) to judge.
func notSized(c Check, why string) Check {
	c.Status, c.Margin = NA, why
	return c
}

// zero judges a count that must be 0.
func zero(name string, n int64, what string) Check {
	c := Check{Name: name, Target: "0", Actual: fmt.Sprintf("%d %s", n, what), Status: Pass}
	if n != 0 {
		c.Status = Miss
	}
	return c
}

// Evaluate judges a merged result: correctness checks every scenario has,
// then the speed targets that fit the scenario. A target the run was not
// sized for is n/a, with the run's own number shown.
func Evaluate(r *Result) []Check {
	cfg := r.Config
	var out []Check
	out = append(out, zero("errors", r.ErrorTotal(), "errors"))
	out = append(out, zero("failed connects", r.Counters[CConnectFailed], "failed"))
	if ok, bad := r.Counters[CPresenceOK], r.Counters[CPresenceWrong]; ok+bad > 0 {
		c := zero("presence correct while connected", bad, fmt.Sprintf("wrong of %d checked", ok+bad))
		out = append(out, c)
	}
	nodes := float64(len(cfg.Targets))
	switch cfg.Scenario {
	case ScenarioHold:
		perNode := float64(r.Maxima[MPeakOpen]) / nodes
		for _, n := range r.Server.Nodes {
			perNode = max(perNode, n.PeakConns)
		}
		c := atLeast("idle connections per node", "≥ 19 000 per node, 0 errors", GoalIdlePerNode, perNode, "")
		if float64(r.Counters[CWanted])/nodes < GoalIdlePerNode*goalIdlePerNodeSlack {
			c = notSized(c, fmt.Sprintf("run offered %.0f per node", float64(r.Counters[CWanted])/nodes))
		}
		out = append(out, c)
		c = atLeast("idle connections across 6 nodes", "≥ 100 000 on 6 nodes, 0 errors", GoalIdleCluster, float64(r.Maxima[MPeakOpen]), "")
		if nodes < goalClusterNodes || r.Counters[CWanted] < GoalIdleCluster {
			c = notSized(c, fmt.Sprintf("run: %d connections on %d nodes", r.Counters[CWanted], len(cfg.Targets)))
		}
		out = append(out, c)
		c = rssCheck(r, perNode)
		out = append(out, c)
		ramp := time.Duration(r.Maxima[MRampMicros]) * time.Microsecond
		rate := 0.0
		if ramp > 0 {
			rate = float64(r.Counters[CConnects]) / ramp.Seconds()
		}
		c = atLeast("authenticated connects/s to one node", "≥ 5 000/s (goal 10 000/s), Redis store", GoalConnectRate, rate, "/s")
		switch {
		case nodes != 1:
			c = notSized(c, "run used several nodes")
		case cfg.ConnectRate < GoalConnectRate:
			c = notSized(c, fmt.Sprintf("run offered %.0f/s", cfg.ConnectRate))
		case rate >= GoalConnectRateGoal:
			c.Margin += " (meets the 10 000/s goal)"
		}
		out = append(out, c)
	case ScenarioFanout:
		lost := r.Counters[CExpected] - r.Counters[CDelivered]
		what := fmt.Sprintf("lost of %d expected", r.Counters[CExpected])
		if n := r.Counters[CRefused]; n > 0 {
			what += fmt.Sprintf(" (%d changes refused by the gateway: errors, not expected)", n)
		}
		out = append(out, zero("lost deliveries", max(lost, 0), what))
		out = append(out, zero("duplicate or out-of-order deliveries", r.Counters[CDuplicate], "seen"))
		p99 := r.Lat(LDelivery).Quantile(99)
		out = append(out, atMost("fan-out delivery p99", "≤ 20 ms", float64(GoalFanoutP99.Microseconds())/1000, float64(p99.Microseconds())/1000, "%.2f ms"))
		drive := cfg.Duration.Seconds() // the driven phase; deliveries of its last moments land in the drain
		rate := 0.0
		if drive > 0 {
			rate = float64(r.Counters[CDelivered]) / drive
		}
		c := atLeast("fan-out deliveries/s", "≥ 20 000/s on 3 nodes, p99 ≤ 20 ms, 0 lost", GoalFanoutRate, rate, "/s")
		if offered := cfg.Rate * float64(cfg.Subs); offered < GoalFanoutRate*0.99 || nodes < goalFanoutNodes {
			c = notSized(c, fmt.Sprintf("run offered %.0f/s on %d nodes", offered, len(cfg.Targets)))
		}
		out = append(out, c)
		out = append(out, fanoutLatencyChecks(r, p99)...)
	case ScenarioStorm:
		back := time.Duration(r.Maxima[MAllBackMicros]) * time.Microsecond
		c := atMost("storm: all connections back", "≤ 15 s", GoalStormBack.Seconds(), back.Seconds(), "%.2f s")
		if r.Counters[CBack] < r.Counters[CWanted] {
			c.Status, c.Actual = Miss, fmt.Sprintf("%d of %d back", r.Counters[CBack], r.Counters[CWanted])
		}
		out = append(out, c)
		g := c
		g.Name, g.Target = "storm of 50 000 connections", "50 000 back within 15 s, no stale keys"
		if r.Counters[CWanted] < GoalStormConns {
			g = notSized(g, fmt.Sprintf("run dropped %d connections", r.Counters[CWanted]))
		}
		out = append(out, g)
	case ScenarioChurn:
		out = append(out, zero("flaps (offline while a session was live)", r.Counters[CFlaps], "flaps"))
	case ScenarioIPT:
		lost := r.Counters[CCallsExpected] - r.Counters[CCalls]
		out = append(out, zero("lost call frames", max(lost, 0), fmt.Sprintf("lost of %d events", r.Counters[CCallsExpected])))
		lostP := r.Counters[CCallsExpected] - r.Counters[CPhones]
		out = append(out, zero("lost phone presence updates", max(lostP, 0), fmt.Sprintf("lost of %d events", r.Counters[CCallsExpected])))
	}
	return out
}

// rssCheck judges server RSS per connection. Near the target's scale (10 000
// connections per node or more) it is the RSS growth over the connections;
// below it the node's fixed overhead would dominate that average, so the
// marginal cost (the slope of RSS over connections during the ramp) is judged.
func rssCheck(r *Result, perNode float64) Check {
	const target = "≤ 8 KiB (goal 6 KiB)"
	s := r.Server
	v, how := s.BytesPerConn, "RSS growth ÷ connections"
	if perNode < 10000 && s.MarginalPerConn >= 0 {
		v, how = s.MarginalPerConn, fmt.Sprintf("marginal (RSS slope while ramping; the average at %.0f/node is %.0f B)", perNode, s.BytesPerConn)
	}
	c := atMost("server RSS per connection", target, GoalRSSPerConnMax, v, "%.0f B "+how)
	switch {
	case v < 0:
		c = notSized(c, "nodes export no process_resident_memory_bytes/pgw_connections")
	case v <= GoalRSSPerConnGoal:
		c.Margin += " (meets the 6 KiB goal)"
	}
	return c
}

// fanoutLatencyChecks judges issue 13's fan-out targets on 3 nodes: p99 ≤
// 2 ms at 10 000 deliveries/s; p99 ≤ 10 ms and the gateways' CPU (summed
// over the nodes) ≤ 50% of one core at 50 000/s. A run offering another rate judges the tier at or below it
// and shows the others n/a.
func fanoutLatencyChecks(r *Result, p99 time.Duration) []Check {
	offered := r.Config.Rate * float64(r.Config.Subs)
	nodes := len(r.Config.Targets)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	low := atMost("fan-out p99 at 10 000 deliveries/s on 3 nodes", "≤ 2 ms", ms(GoalFanoutLowP99), ms(p99), "%.2f ms")
	high := atMost("fan-out p99 at 50 000 deliveries/s on 3 nodes", "≤ 10 ms", ms(GoalFanoutHighP99), ms(p99), "%.2f ms")
	cpu := Check{Name: "fan-out gateway CPU at 50 000 deliveries/s", Target: "≤ 50% of one core, summed over the nodes", Status: NA, Goal: true}
	// The nodes' CPU over the driven phase and its drain (the late
	// deliveries) divided by the driven phase alone: never less than the
	// true share, so a pass is not an artefact of an idle drain.
	if drive := r.Config.Duration.Seconds(); r.Server.CPUSeconds >= 0 && drive > 0 {
		cpu = atMost(cpu.Name, cpu.Target, GoalFanoutHighCPU*100, r.Server.CPUSeconds/drive*100, "%.0f%% of a core")
	} else {
		cpu.Actual, cpu.Margin = "n/a", "nodes export no process_cpu_seconds_total"
	}
	sized := func(c Check, rate float64, hi float64) Check {
		switch {
		case nodes != goalFanoutNodes:
			return notSized(c, fmt.Sprintf("run used %d nodes", nodes))
		case offered < rate*0.99 || offered >= hi*0.99:
			return notSized(c, fmt.Sprintf("run offered %.0f/s", offered))
		}
		return c
	}
	return []Check{
		sized(low, GoalFanoutLowRate, GoalFanoutHighRate),
		sized(high, GoalFanoutHighRate, math.Inf(1)),
		sized(cpu, GoalFanoutHighRate, math.Inf(1)),
	}
}
