package membench

import (
	"fmt"
	"io"
	"time"
)

// KiB formats bytes in KiB with one decimal.
func KiB(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }

// MiB formats bytes in MiB with one decimal.
func MiB(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

// WriteTable writes the results as a Markdown table; the ratio column
// compares each server's RSS per connection with the bare server's, when
// it was measured.
func WriteTable(w io.Writer, rs []Result) {
	var bare float64
	for _, r := range rs {
		if r.Name == "bare gorilla echo" {
			bare = r.RSSPerConn()
		}
	}
	fmt.Fprintln(w, "| server | conns | heap+stacks / conn | RSS / conn | RSS / bare | RSS before → after | heap before → after | stacks before → after | goroutines after | open time |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		ratio := "—"
		if bare > 0 {
			ratio = fmt.Sprintf("%.2f", r.RSSPerConn()/bare)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s → %s | %s → %s | %s → %s | %.0f | %v |\n",
			r.Name, r.Conns, KiB(r.HeapStackPerConn()), KiB(r.RSSPerConn()), ratio,
			MiB(r.Before.VmRSS), MiB(r.After.VmRSS), MiB(r.Before.HeapInuse), MiB(r.After.HeapInuse),
			MiB(r.Before.StackInuse), MiB(r.After.StackInuse), r.After.Goroutines, r.Open.Round(1e6))
	}
	fmt.Fprintln(w)
	writeCPUTable(w, rs)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| server (with connections) | VmRSS | heap in use | stacks | idle heap kept (idle − released) | heap goal (next_gc) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, r := range rs {
		a := r.After
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.Name, MiB(a.VmRSS), MiB(a.HeapInuse), MiB(a.StackInuse),
			MiB(a.HeapIdle-a.Released), MiB(a.NextGC))
	}
}

// writeCPUTable is the connect cost: the server's CPU per connection opened
// (its own process, not the client's), against the bare server's in the
// same run, and the private redis-server's beside it.
func writeCPUTable(w io.Writer, rs []Result) {
	var bare time.Duration
	for _, r := range rs {
		if r.Name == "bare gorilla echo" {
			bare = r.CPUPerConn()
		}
	}
	fmt.Fprintln(w, "| server | conns | server CPU / connect | vs bare | redis-server CPU / connect | connects/s (client-bound) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, r := range rs {
		ratio, redis := "—", "—"
		if bare > 0 {
			ratio = fmt.Sprintf("%.2f×", float64(r.CPUPerConn())/float64(bare))
		}
		if r.RedisCPU > 0 {
			redis = ms(r.RedisCPUPerConn())
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %.0f |\n", r.Name, r.Conns, ms(r.CPUPerConn()), ratio, redis,
			float64(r.Conns)/max(r.Open.Seconds(), 1e-9))
	}
}

// ms formats a duration in milliseconds with three decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }
