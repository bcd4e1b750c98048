package loadtest

import (
	"sort"
	"time"
)

// Phase marks when a run entered a phase (the coordinator's clock).
type Phase struct {
	Name string    `json:"name"`
	At   time.Time `json:"at"`
}

// Check is one verdict of a run: a correctness check or a speed target.
type Check struct {
	Name   string `json:"name"`
	Target string `json:"target"` // what was required, in words
	Actual string `json:"actual"`
	// Status is pass, miss, or n/a (the run was not sized or set up for it).
	Status string `json:"status"`
	// Margin says by how much it passed or missed ("+12%", "-3 ms").
	Margin string `json:"margin,omitempty"`
	// Goal marks a speed target rather than a correctness check.
	Goal bool `json:"goal,omitempty"`
}

// Check statuses.
const (
	Pass = "pass"
	Miss = "miss"
	NA   = "n/a"
)

// Result is a run's outcome: what the workers measured, merged, plus the
// coordinator's server samples and verdicts.
type Result struct {
	Config   Config           `json:"config"`
	Start    time.Time        `json:"start"`
	End      time.Time        `json:"end"`
	Phases   []Phase          `json:"phases,omitempty"`
	Counters map[string]int64 `json:"counters"`
	Maxima   map[string]int64 `json:"maxima"`
	Errors   map[string]int64 `json:"errors"`
	Latency  map[string]*Hist `json:"latency"`
	Seconds  []Second         `json:"seconds"`
	Nodes    []NodeSeries     `json:"nodes,omitempty"`
	Server   ServerSummary    `json:"server"`
	Checks   []Check          `json:"checks"`
	Notes    []string         `json:"notes,omitempty"`
}

// ErrorTotal sums the errors of every kind.
func (r *Result) ErrorTotal() int64 {
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// Lat returns the histogram name, or an empty one.
func (r *Result) Lat(name string) *Hist {
	if h := r.Latency[name]; h != nil {
		return h
	}
	return NewHist(3)
}

// PhaseAt returns when phase name began (zero if it never did).
func (r *Result) PhaseAt(name string) time.Time {
	for _, p := range r.Phases {
		if p.Name == name {
			return p.At
		}
	}
	return time.Time{}
}

// Passed reports whether no check missed.
func (r *Result) Passed() bool {
	for _, c := range r.Checks {
		if c.Status == Miss {
			return false
		}
	}
	return true
}

// Merge adds worker result o into r: counters and errors add up, maxima
// take the largest, histograms merge exactly (HdrHistogram), seconds add up
// by time (so Open is the sum of every worker's open connections).
func (r *Result) Merge(o Result) {
	if r.Counters == nil {
		r.Counters, r.Maxima, r.Errors, r.Latency = map[string]int64{}, map[string]int64{}, map[string]int64{}, map[string]*Hist{}
	}
	for k, v := range o.Counters {
		r.Counters[k] += v
	}
	for k, v := range o.Maxima {
		if k == MPeakOpen {
			continue // recomputed from the merged seconds
		}
		if v > r.Maxima[k] {
			r.Maxima[k] = v
		}
	}
	for k, v := range o.Errors {
		r.Errors[k] += v
	}
	for k, h := range o.Latency {
		if r.Latency[k] == nil {
			r.Latency[k] = NewHist(3)
		}
		r.Latency[k].Merge(h)
	}
	byT := map[int]int{}
	for i, s := range r.Seconds {
		byT[s.T] = i
	}
	for _, s := range o.Seconds {
		i, ok := byT[s.T]
		if !ok {
			c := s
			c.Lat = nil
			if s.Lat != nil {
				c.Lat = NewHist(2)
				c.Lat.Merge(s.Lat)
			}
			r.Seconds = append(r.Seconds, c)
			byT[s.T] = len(r.Seconds) - 1
			continue
		}
		d := &r.Seconds[i]
		d.Connects += s.Connects
		d.Sent += s.Sent
		d.Delivered += s.Delivered
		d.Errors += s.Errors
		d.Open += s.Open
		if s.Lat != nil {
			if d.Lat == nil {
				d.Lat = NewHist(2)
			}
			d.Lat.Merge(s.Lat)
		}
	}
	sort.Slice(r.Seconds, func(i, j int) bool { return r.Seconds[i].T < r.Seconds[j].T })
	var peak int64
	for _, s := range r.Seconds {
		peak = max(peak, s.Open)
	}
	r.Maxima[MPeakOpen] = max(peak, o.Maxima[MPeakOpen], r.Maxima[MPeakOpen])
	for _, n := range o.Notes {
		if len(r.Notes) < 100 {
			r.Notes = append(r.Notes, n)
		}
	}
}
