package membench

import (
	"fmt"
	"io"
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
	fmt.Fprintln(w, "| server (with connections) | VmRSS | heap in use | stacks | idle heap kept (idle − released) | heap goal (next_gc) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, r := range rs {
		a := r.After
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.Name, MiB(a.VmRSS), MiB(a.HeapInuse), MiB(a.StackInuse),
			MiB(a.HeapIdle-a.Released), MiB(a.NextGC))
	}
}
