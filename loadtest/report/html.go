package report

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strings"

	"github.com/pgw/pgw/loadtest"
)

// Charts returns the report's charts as inline SVG: connections over time,
// throughput per second, latency percentiles per second, server memory and
// CPU per node.
func Charts(r *loadtest.Result) []string {
	var (
		t                          []float64
		open, connects, sent, dlv  []float64
		errs, p50, p99, pmax, tLat []float64
	)
	for _, s := range r.Seconds {
		x := float64(s.T)
		t = append(t, x)
		open = append(open, float64(s.Open))
		connects = append(connects, float64(s.Connects))
		sent = append(sent, float64(s.Sent))
		dlv = append(dlv, float64(s.Delivered))
		errs = append(errs, float64(s.Errors))
		if s.Lat.Count() > 0 {
			tLat = append(tLat, x)
			p50 = append(p50, float64(s.Lat.Quantile(50).Microseconds())/1000)
			p99 = append(p99, float64(s.Lat.Quantile(99).Microseconds())/1000)
			pmax = append(pmax, float64(s.Lat.Max().Microseconds())/1000)
		}
	}
	conns := []Series{{Name: "client open", X: t, Y: open}}
	var rss, cpu []Series
	for _, n := range r.Nodes {
		var xs, cs, ms, cx, cp []float64
		for i, s := range n.Samples {
			xs = append(xs, s.T)
			cs = append(cs, s.Conns)
			ms = append(ms, mib(s.RSS))
			if i > 0 {
				p := n.Samples[i-1]
				if s.CPU >= 0 && p.CPU >= 0 && s.T > p.T {
					cx = append(cx, s.T)
					cp = append(cp, (s.CPU-p.CPU)/(s.T-p.T)*100)
				}
			}
		}
		conns = append(conns, Series{Name: "node " + n.Target, X: xs, Y: cs})
		rss = append(rss, Series{Name: n.Target, X: xs, Y: ms})
		cpu = append(cpu, Series{Name: n.Target, X: cx, Y: cp})
	}
	span := r.End.Sub(r.Start).Seconds()
	primary := map[string]string{loadtest.ScenarioFanout: "delivery", loadtest.ScenarioStorm: "reconnect", loadtest.ScenarioIPT: "call"}[r.Config.Scenario]
	if primary == "" {
		primary = "connect"
	}
	return []string{
		LineChart("Connections over time", "seconds", "connections", span, conns),
		LineChart("Throughput per second", "seconds", "per second", span, []Series{
			{Name: "connects", X: t, Y: connects}, {Name: "sent", X: t, Y: sent},
			{Name: "delivered", X: t, Y: dlv}, {Name: "errors", X: t, Y: errs}}),
		LineChart("Latency ("+primary+") per second", "seconds", "ms", span, []Series{
			{Name: "p50", X: tLat, Y: p50}, {Name: "p99", X: tLat, Y: p99}, {Name: "max", X: tLat, Y: pmax}}),
		LineChart("Server RSS", "seconds", "MiB", span, rss),
		LineChart("Server CPU", "seconds", "% of one core", span, cpu),
	}
}

func mib(v float64) float64 {
	if v < 0 {
		return -1
	}
	return v / (1 << 20)
}

const css = `body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.pass{color:#176b1f;font-weight:bold}
.miss{color:#b00020;font-weight:bold}.na{color:#777}svg{display:block;margin:12px 0;border:1px solid #eee}
pre{background:#f7f7f7;padding:8px;overflow:auto}`

// WriteHTML writes one self-contained page: no script, no external file.
func WriteHTML(w io.Writer, r *loadtest.Result) error {
	var b strings.Builder
	esc := html.EscapeString
	fmt.Fprintf(&b, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s</title><style>%s</style></head><body>", esc(Title(r)), css)
	verdict := "pass"
	if strings.HasPrefix(Verdict(r), "FAIL") {
		verdict = "miss"
	}
	fmt.Fprintf(&b, "<h1>%s</h1><p>%s</p><p>Targets: %s</p><p>Verdict: <span class=\"%s\">%s</span></p>",
		esc(Title(r)), esc(Shape(r)), esc(strings.Join(r.Config.Targets, ", ")), verdict, Verdict(r))

	b.WriteString("<h2>Checks and targets</h2><table><tr><th>check</th><th>status</th><th>target</th><th>actual</th><th>margin</th></tr>")
	for _, c := range r.Checks {
		cls := map[string]string{loadtest.Pass: "pass", loadtest.Miss: "miss"}[c.Status]
		if cls == "" {
			cls = "na"
		}
		name := c.Name
		if c.Goal {
			name += " (issue target)"
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td class=\"%s\">%s</td><td>%s</td><td>%s</td><td>%s</td></tr>",
			esc(name), cls, esc(c.Status), esc(c.Target), esc(c.Actual), esc(c.Margin))
	}
	b.WriteString("</table>")

	b.WriteString("<h2>Latency</h2><table><tr><th>latency (ms)</th><th>count</th><th>mean</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>")
	for _, name := range latencyOrder {
		h := r.Latency[name]
		if h == nil {
			continue
		}
		s := h.Summary()
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>",
			esc(name), s.Count, ms(s.Mean), ms(s.P50), ms(s.P90), ms(s.P99), ms(s.P999), ms(s.Max))
	}
	b.WriteString("</table>")

	b.WriteString("<h2>Charts</h2>")
	for _, svg := range Charts(r) {
		b.WriteString(svg)
	}

	b.WriteString("<h2>Server</h2><table><tr><th>node</th><th>peak conns</th><th>base RSS</th><th>RSS at peak</th><th>RSS/conn</th><th>marginal</th><th>CPU s</th><th>goroutines</th></tr>")
	for _, n := range r.Server.Nodes {
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%.0f</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%.0f</td></tr>",
			esc(n.Target), n.PeakConns, fmtBytes(n.BaseRSS), fmtBytes(n.RSSAtPeak), fmtBytes(n.BytesPerConn), fmtBytes(n.MarginalPerConn),
			orNA(n.CPUSeconds, "%.2f"), n.PeakGoroutines)
	}
	fmt.Fprintf(&b, "</table><p>RSS per connection: %s (marginal, from the RSS slope while connections ramped up: %s). CPU in the measured window: %s s. CPU per 1k deliveries: %s ms.</p>",
		fmtBytes(r.Server.BytesPerConn), fmtBytes(r.Server.MarginalPerConn), orNA(r.Server.CPUSeconds, "%.2f"), orNA(r.Server.CPUPer1kDeliveries*1000, "%.1f"))

	b.WriteString("<h2>Counters and errors</h2><table><tr><th>counter</th><th>value</th></tr>")
	for _, k := range sortedKeys(r.Counters) {
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%d</td></tr>", esc(k), r.Counters[k])
	}
	for _, k := range sortedKeys(r.Errors) {
		fmt.Fprintf(&b, "<tr><td>error: %s</td><td>%d</td></tr>", esc(k), r.Errors[k])
	}
	for _, k := range sortedKeys(r.Server.Closes) {
		fmt.Fprintf(&b, "<tr><td>server close %s</td><td>%.0f</td></tr>", esc(k), r.Server.Closes[k])
	}
	for _, k := range sortedKeys(r.Server.FrameErrors) {
		fmt.Fprintf(&b, "<tr><td>server error reply %s</td><td>%.0f</td></tr>", esc(k), r.Server.FrameErrors[k])
	}
	b.WriteString("</table>")
	if len(r.Notes) > 0 {
		b.WriteString("<h2>Notes</h2><ul>")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "<li>%s</li>", esc(n))
		}
		b.WriteString("</ul>")
	}
	cfg, _ := json.MarshalIndent(r.Config, "", "  ")
	fmt.Fprintf(&b, "<h2>Configuration</h2><pre>%s</pre></body></html>\n", esc(string(cfg)))
	_, err := io.WriteString(w, b.String())
	return err
}
