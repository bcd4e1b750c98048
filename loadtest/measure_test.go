package loadtest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestHistQuantilesAndJSONRoundTrip(t *testing.T) {
	h := NewHist(3)
	for i := 1; i <= 1000; i++ { // 1 ms … 1000 ms, uniform
		h.Record(time.Duration(i) * time.Millisecond)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{{50, 500 * time.Millisecond}, {90, 900 * time.Millisecond}, {99, 990 * time.Millisecond}, {100, 1000 * time.Millisecond}}
	for _, tt := range tests {
		got := h.Quantile(tt.q)
		if diff := got - tt.want; diff < -tt.want/500 || diff > tt.want/500 { // 3 significant digits
			t.Errorf("p%v = %v, want %v ±0.2%%", tt.q, got, tt.want)
		}
	}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var back Hist
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Count() != 1000 || back.Quantile(99) != h.Quantile(99) || back.Max() != h.Max() {
		t.Fatalf("round trip changed the histogram: count %d p99 %v max %v", back.Count(), back.Quantile(99), back.Max())
	}
	if !strings.Contains(string(b), `"p99_ms"`) {
		t.Fatalf("JSON lacks the summary: %s", b)
	}
}

func TestHistClampsOutliers(t *testing.T) {
	h := NewHist(2)
	h.Record(-time.Second) // clock skew between intended and received time
	h.Record(time.Hour)    // beyond the range: still counted
	if h.Count() != 2 {
		t.Fatalf("count %d, want 2", h.Count())
	}
	if h.Max() < 9*time.Minute {
		t.Fatalf("max %v, want the clamp near 10 min", h.Max())
	}
}

// TestMergeEqualsOneRecorder checks that merging two workers' results gives
// the same percentiles and sums as one recorder that saw everything.
func TestMergeEqualsOneRecorder(t *testing.T) {
	t0 := time.Now()
	all := NewRecorder(t0, LDelivery)
	parts := []*Recorder{NewRecorder(t0, LDelivery), NewRecorder(t0, LDelivery)}
	for i := 0; i < 2000; i++ {
		d := time.Duration(i*i%977+1) * 100 * time.Microsecond
		all.Latency(LDelivery, d)
		all.Add(CDelivered, 1)
		parts[i%2].Latency(LDelivery, d)
		parts[i%2].Add(CDelivered, 1)
	}
	parts[0].Error("close 1008 slow_consumer")
	parts[1].Error("close 1008 slow_consumer")
	parts[1].Max(MAllBackMicros, 7)
	parts[0].Max(MAllBackMicros, 3)
	var merged Result
	for _, p := range parts {
		// Through JSON, as results travel from worker processes.
		b, err := json.Marshal(p.Result())
		if err != nil {
			t.Fatal(err)
		}
		var r Result
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		merged.Merge(r)
	}
	want := all.Result()
	if merged.Counters[CDelivered] != 2000 {
		t.Errorf("delivered %d, want 2000", merged.Counters[CDelivered])
	}
	for _, q := range []float64{50, 90, 99, 99.9} {
		if g, w := merged.Lat(LDelivery).Quantile(q), want.Lat(LDelivery).Quantile(q); g != w {
			t.Errorf("p%v merged %v, single %v", q, g, w)
		}
	}
	if merged.Errors["close 1008 slow_consumer"] != 2 {
		t.Errorf("errors %v, want 2 slow_consumer", merged.Errors)
	}
	if merged.Maxima[MAllBackMicros] != 7 {
		t.Errorf("maxima take the largest: got %d", merged.Maxima[MAllBackMicros])
	}
	var perSecond int64
	for _, s := range merged.Seconds {
		perSecond += s.Lat.Count()
	}
	if perSecond != 2000 {
		t.Errorf("per-second histograms hold %d values, want 2000", perSecond)
	}
}

func TestMergeSecondsAddOpenConnections(t *testing.T) {
	var r Result
	r.Merge(Result{Seconds: []Second{{T: 0, Open: 10}, {T: 1, Open: 20}}})
	r.Merge(Result{Seconds: []Second{{T: 1, Open: 5}, {T: 2, Open: 7}}})
	want := map[int]int64{0: 10, 1: 25, 2: 7}
	if len(r.Seconds) != 3 {
		t.Fatalf("seconds %+v", r.Seconds)
	}
	for _, s := range r.Seconds {
		if s.Open != want[s.T] {
			t.Errorf("second %d open %d, want %d", s.T, s.Open, want[s.T])
		}
	}
	if r.Maxima[MPeakOpen] != 25 {
		t.Errorf("peak %d, want 25", r.Maxima[MPeakOpen])
	}
}

// TestPaceOpenLoop checks the schedule keeps its intended times and rate
// even when the consumer stalls (no coordinated omission).
func TestPaceOpenLoop(t *testing.T) {
	start := time.Now()
	var dues []time.Time
	stalled := false
	pace(context.Background(), start, 1000, 200, time.Time{}, func(i int, due time.Time) {
		dues = append(dues, due)
		if i == 10 && !stalled {
			stalled = true
			time.Sleep(50 * time.Millisecond) // the stall under test, not synchronisation
		}
	})
	if len(dues) != 200 {
		t.Fatalf("%d ticks, want 200", len(dues))
	}
	for i, d := range dues {
		if want := start.Add(time.Duration(i) * time.Millisecond); !d.Equal(want) {
			t.Fatalf("tick %d intended at %v, want %v", i, d.Sub(start), want.Sub(start))
		}
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("200 ticks at 1000/s took %v", el)
	}
}

func TestPaceStopsAtEndAndContext(t *testing.T) {
	start := time.Now()
	n := 0
	pace(context.Background(), start, 100, -1, start.Add(100*time.Millisecond), func(int, time.Time) { n++ })
	if n != 10 {
		t.Fatalf("%d ticks in 100 ms at 100/s, want 10", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n = 0
	pace(ctx, time.Now().Add(time.Hour), 1, -1, time.Time{}, func(int, time.Time) { n++ })
	if n != 0 {
		t.Fatalf("cancelled pace emitted %d", n)
	}
}

func TestFanoutNoteCarriesIntendedTime(t *testing.T) {
	due := time.Unix(1767225600, 123456789)
	note := fanoutNote(due, 42)
	if len(note) > 140 {
		t.Fatalf("note %q longer than the 140 allowed", note)
	}
	got, ok := parseFanoutNote(note)
	if !ok || !got.Equal(due) {
		t.Fatalf("parse %q = %v %v, want %v", note, got, ok, due)
	}
	for _, bad := range []string{"", "hello", "lt x 1", "lt"} {
		if _, ok := parseFanoutNote(bad); ok {
			t.Errorf("note %q parsed as tagged", bad)
		}
	}
}

func TestSubscriptionsGiveEveryUserSubsWatchers(t *testing.T) {
	const users, subs = 50, 7
	watchers := make([]int, users)
	for i := 0; i < users; i++ {
		seen := map[int]bool{}
		for _, u := range subscriptions(i, users, subs) {
			if u == i || seen[u] {
				t.Fatalf("user %d watches %d twice or itself", i, u)
			}
			seen[u] = true
			watchers[u]++
		}
	}
	for u, n := range watchers {
		if n != subs {
			t.Fatalf("user %d has %d watchers, want %d (expected deliveries rely on it)", u, n, subs)
		}
	}
}

func TestShareCoversEveryUserOnce(t *testing.T) {
	for _, tc := range []struct{ users, procs int }{{10, 3}, {100000, 6}, {7, 7}, {1, 1}} {
		next := 0
		for w := 0; w < tc.procs; w++ {
			lo, hi := Share(tc.users, w, tc.procs)
			if lo != next || hi < lo {
				t.Fatalf("%+v worker %d: [%d,%d) after %d", tc, w, lo, hi, next)
			}
			next = hi
		}
		if next != tc.users {
			t.Fatalf("%+v: covered %d", tc, next)
		}
	}
}

func TestChildWindowsDeterministicAndBounded(t *testing.T) {
	c := DefaultConfig()
	c.Windows = 3
	total, hist := 0, map[int]int{}
	for i := 0; i < 1000; i++ {
		n := c.ChildWindows(i)
		if n < 0 || n > 3 || n != c.ChildWindows(i) {
			t.Fatalf("user %d: %d child windows", i, n)
		}
		hist[n]++
		total += 1 + n
	}
	c.Users = 1000
	if got := c.TotalConnections(); got != total {
		t.Fatalf("TotalConnections %d, want %d", got, total)
	}
	if len(hist) != 4 {
		t.Fatalf("child window counts not spread over 0..3: %v", hist)
	}
}
