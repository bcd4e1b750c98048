package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pgw/pgw/loadtest"
)

// WriteJSON writes the result as indented JSON (histograms included, in
// HdrHistogram's compressed encoding, so results can be merged later).
func WriteJSON(w io.Writer, r *loadtest.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// latencyOrder is the order latency rows are shown in.
var latencyOrder = []string{loadtest.LConnect, loadtest.LReconnect, loadtest.LDelivery, loadtest.LSendLag, loadtest.LCall, loadtest.LPhone}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Verdict is PASS when no check missed, FAIL when a correctness check
// missed, and CORRECT (with the count) when only speed targets missed.
func Verdict(r *loadtest.Result) string {
	var wrong, slow int
	for _, c := range r.Checks {
		switch {
		case c.Status != loadtest.Miss:
		case c.Goal:
			slow++
		default:
			wrong++
		}
	}
	switch {
	case wrong > 0:
		return fmt.Sprintf("FAIL (%d correctness checks missed)", wrong)
	case slow > 0:
		return fmt.Sprintf("CORRECT, %d targets missed", slow)
	}
	return "PASS"
}

// Title is the one-line description of a run.
func Title(r *loadtest.Result) string {
	name := r.Config.Scenario
	if r.Config.Label != "" && r.Config.Label != name {
		name = r.Config.Label + " (" + name + ")"
	}
	return fmt.Sprintf("pgw load test: %s, run %s, %s, %.1f s", name, r.Config.RunID,
		r.Start.UTC().Format("2006-01-02 15:04:05Z"), r.End.Sub(r.Start).Seconds())
}

// Shape describes the run's size in words.
func Shape(r *loadtest.Result) string {
	c := r.Config
	windows := fmt.Sprintf("up to %d child windows", c.Windows)
	if c.Scenario == loadtest.ScenarioFanout || c.Scenario == loadtest.ScenarioIPT {
		windows = "one connection each"
	}
	s := fmt.Sprintf("%d users, %s, %d node(s), %d worker process(es), connect rate %.0f/s",
		c.Users, windows, len(c.Targets), c.Procs, c.ConnectRate)
	switch c.Scenario {
	case loadtest.ScenarioHold:
		s += fmt.Sprintf(", hold %s", c.Hold)
	case loadtest.ScenarioFanout:
		s += fmt.Sprintf(", %d subscriptions each, %.0f status changes/s (%.0f deliveries/s offered) for %s", c.Subs, c.Rate, c.Rate*float64(c.Subs), c.Duration)
	case loadtest.ScenarioChurn:
		s += fmt.Sprintf(", %.0f actions/s for %s, %.0f%% logouts, grace %s", c.Rate, c.Duration, c.Logout*100, c.Grace)
	case loadtest.ScenarioStorm:
		s += fmt.Sprintf(", reconnect jitter %s", c.Jitter)
	case loadtest.ScenarioIPT:
		s += fmt.Sprintf(", %d bridges, %.0f events/s for %s", c.Bridges, c.Rate, c.Duration)
	}
	return s
}

func ms(v float64) string { return fmt.Sprintf("%.2f", v) }

// fmtBytes prints a byte count in KiB/MiB; negative means unknown.
func fmtBytes(v float64) string {
	switch {
	case v < 0:
		return "n/a"
	case v >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case v >= 1<<10:
		return fmt.Sprintf("%.2f KiB", v/(1<<10))
	}
	return fmt.Sprintf("%.0f B", v)
}

func orNA(v float64, format string) string {
	if v < 0 {
		return "n/a"
	}
	return fmt.Sprintf(format, v)
}

// WriteText writes the final table.
func WriteText(w io.Writer, r *loadtest.Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%s\ntargets: %s\n\n", Title(r), Shape(r), strings.Join(r.Config.Targets, ", "))

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "latency (ms)\tcount\tmean\tp50\tp90\tp99\tp99.9\tmax\t")
	for _, name := range latencyOrder {
		h := r.Latency[name]
		if h == nil {
			continue
		}
		s := h.Summary()
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, s.Count, ms(s.Mean), ms(s.P50), ms(s.P90), ms(s.P99), ms(s.P999), ms(s.Max))
	}
	tw.Flush()

	b.WriteString("\ncounters: ")
	var parts []string
	for _, k := range sortedKeys(r.Counters) {
		parts = append(parts, fmt.Sprintf("%s %d", k, r.Counters[k]))
	}
	b.WriteString(strings.Join(parts, ", "))
	if back := r.Maxima[loadtest.MAllBackMicros]; back > 0 {
		fmt.Fprintf(&b, "\nstorm: all back %.2f s after the drop", time.Duration(back*1000).Seconds())
	}
	if ramp := r.Maxima[loadtest.MRampMicros]; ramp > 0 {
		fmt.Fprintf(&b, "\nramp: %.2f s to the last welcome", time.Duration(ramp*1000).Seconds())
	}
	fmt.Fprintf(&b, "\npeak open connections (client): %d\n", r.Maxima[loadtest.MPeakOpen])
	b.WriteString("errors: ")
	if len(r.Errors) == 0 {
		b.WriteString("none")
	}
	parts = nil
	for _, k := range sortedKeys(r.Errors) {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, r.Errors[k]))
	}
	b.WriteString(strings.Join(parts, ", ") + "\n\n")

	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "node\tpeak conns\tbase RSS\tRSS at peak\tRSS/conn\tmarginal\tCPU s\tgoroutines\t")
	for _, n := range r.Server.Nodes {
		if !n.Scraped {
			fmt.Fprintf(tw, "%s\t(no /metrics)\t\t\t\t\t\t\t\n", n.Target)
			continue
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%.0f\t\n", n.Target, n.PeakConns, fmtBytes(n.BaseRSS), fmtBytes(n.RSSAtPeak),
			fmtBytes(n.BytesPerConn), fmtBytes(n.MarginalPerConn), orNA(n.CPUSeconds, "%.2f"), n.PeakGoroutines)
	}
	tw.Flush()
	fmt.Fprintf(&b, "server: %s RSS per connection (marginal %s); %s CPU s in the measured window; %s CPU ms per 1k deliveries\n",
		fmtBytes(r.Server.BytesPerConn), fmtBytes(r.Server.MarginalPerConn), orNA(r.Server.CPUSeconds, "%.2f"), orNA(r.Server.CPUPer1kDeliveries*1000, "%.1f"))
	writeMap(&b, "server counters", r.Server.Counts)
	writeMap(&b, "server closes by code", r.Server.Closes)
	writeMap(&b, "server error replies by code", r.Server.FrameErrors)

	b.WriteString("\nchecks:\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, c := range r.Checks {
		kind := ""
		if c.Goal {
			kind = "target"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", strings.ToUpper(c.Status), kind, c.Name, c.Target, c.Actual, c.Margin)
	}
	tw.Flush()
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	fmt.Fprintf(&b, "\nverdict: %s\n", Verdict(r))
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMap(b *strings.Builder, title string, m map[string]float64) {
	if len(m) == 0 {
		return
	}
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, m[k]))
	}
	fmt.Fprintf(b, "%s: %s\n", title, strings.Join(parts, ", "))
}
