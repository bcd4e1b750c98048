package membench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors of sampling.
var (
	// errMissingMetric: /metrics lacks a metric the measurement needs.
	errMissingMetric = errors.New("metric missing")
	// errNotSettled: the server's runtime did not run its GC cycles in time.
	errNotSettled = errors.New("runtime did not settle")
)

// Sample is the server's memory at one moment, in bytes.
type Sample struct {
	HeapInuse  float64 // go_memstats_heap_inuse_bytes
	StackInuse float64 // go_memstats_stack_inuse_bytes
	RSS        float64 // process_resident_memory_bytes
	VmRSS      float64 // /proc/<pid>/status VmRSS
	HeapIdle   float64 // go_memstats_heap_idle_bytes: spans with no objects
	Released   float64 // go_memstats_heap_released_bytes: idle spans given back to the OS
	NextGC     float64 // go_memstats_next_gc_bytes: the heap goal
	GCs        float64 // go_gc_duration_seconds_count
	Goroutines float64 // go_goroutines
}

// metricNames maps the exposition names to the Sample fields.
func (s *Sample) fields() map[string]*float64 {
	return map[string]*float64{
		"go_memstats_heap_inuse_bytes":    &s.HeapInuse,
		"go_memstats_stack_inuse_bytes":   &s.StackInuse,
		"process_resident_memory_bytes":   &s.RSS,
		"go_memstats_heap_idle_bytes":     &s.HeapIdle,
		"go_memstats_heap_released_bytes": &s.Released,
		"go_memstats_next_gc_bytes":       &s.NextGC,
		"go_gc_duration_seconds_count":    &s.GCs,
		"go_goroutines":                   &s.Goroutines,
	}
}

// parseMetrics reads the unlabelled samples a Sample needs from a
// Prometheus text exposition.
func parseMetrics(r io.Reader) (Sample, error) {
	var s Sample
	want := s.fields()
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		p, ok := want[name]
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return s, fmt.Errorf("metric %s: %w", name, err)
		}
		*p = v
		seen[name] = true
	}
	if err := sc.Err(); err != nil {
		return s, fmt.Errorf("read metrics: %w", err)
	}
	for name := range want {
		if !seen[name] {
			return s, fmt.Errorf("%w: %s", errMissingMetric, name)
		}
	}
	return s, nil
}

// vmRSS reads VmRSS of pid from /proc, in bytes.
func vmRSS(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("proc status: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest) // "12345 kB"
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("proc status: odd VmRSS %q", line)
			}
			kb, err := strconv.ParseFloat(f[0], 64)
			if err != nil {
				return 0, fmt.Errorf("proc status: %w", err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("%w: VmRSS", errMissingMetric)
}

// sampler reads one server's /metrics and /proc status.
type sampler struct {
	metricsURL string
	pid        int
	http       *http.Client
}

func (s *sampler) scrape(ctx context.Context) (Sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.metricsURL, nil)
	if err != nil {
		return Sample{}, err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return Sample{}, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Sample{}, fmt.Errorf("scrape: status %d", resp.StatusCode)
	}
	smp, err := parseMetrics(resp.Body)
	if err != nil {
		return smp, err
	}
	if smp.VmRSS, err = vmRSS(s.pid); err != nil {
		return smp, err
	}
	return smp, nil
}

// settle waits for the server's runtime to finish gcCycles GC cycles (an
// idle server allocates little, so it nudges the collector by scraping
// /metrics, whose garbage is all it adds), then takes a few samples and
// keeps the smallest heap and stack (the sample closest to the last GC) and
// the last RSS. It gives up at timeout.
func (s *sampler) settle(ctx context.Context, gcCycles int, timeout time.Duration) (Sample, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	first, err := s.scrape(ctx)
	if err != nil {
		return first, err
	}
	cur := first
	for cur.GCs < first.GCs+float64(gcCycles) {
		if ctx.Err() != nil {
			return cur, fmt.Errorf("%w: %v GC cycles of %d in %v", errNotSettled, cur.GCs-first.GCs, gcCycles, timeout)
		}
		if cur, err = s.scrape(ctx); err != nil {
			return cur, err
		}
	}
	best := cur
	for range 5 {
		select {
		case <-ctx.Done():
			return best, fmt.Errorf("%w: %v", errNotSettled, ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
		smp, err := s.scrape(ctx)
		if err != nil {
			return best, err
		}
		best.HeapInuse = min(best.HeapInuse, smp.HeapInuse)
		best.StackInuse = min(best.StackInuse, smp.StackInuse)
		best.RSS, best.VmRSS, best.Goroutines, best.GCs = smp.RSS, smp.VmRSS, smp.Goroutines, smp.GCs
		best.HeapIdle, best.Released, best.NextGC = smp.HeapIdle, smp.Released, smp.NextGC
	}
	return best, nil
}

// procCPU is the user + system CPU time process pid has used
// (/proc/<pid>/stat utime and stime, in USER_HZ ticks of 10 ms); 0 for pid
// 0 or when it cannot be read.
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: count from after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 { // state is f[0]; utime and stime are fields 14 and 15
		return 0
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(ut+st) * (time.Second / userHZ)
}

// userHZ is the unit of /proc/<pid>/stat times: USER_HZ, 100 on Linux
// whatever the kernel's own tick rate.
const userHZ = 100
