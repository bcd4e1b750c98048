package chaos

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgw/pgw/loadtest"
)

// SoakOptions shapes a soak: Conns connections held open over three nodes
// for Duration while Churn of them per second are closed and replaced.
type SoakOptions struct {
	Seed     uint64
	Duration time.Duration
	Conns    int
	Users    int
	Churn    float64       // connections replaced per second
	Every    time.Duration // sampling period
	Out      string        // directory for soak.csv, soak.svg, soak.txt
	Log      func(format string, args ...any)
}

// Sample is one row of the soak's figures, summed over the nodes.
type Sample struct {
	At         time.Duration
	Open       int   // client connections open
	Opened     int64 // connections opened so far
	Errors     int64 // dials or hellos that failed
	RSS        int64 // bytes, all gateway processes
	Goroutines int64
	FDs        int64
	RedisMem   int64 // used_memory
}

// Soak runs the soak and returns its samples; the caller judges them with
// Unbounded.
func Soak(t testing.TB, e *Env, opt SoakOptions) []Sample {
	tokens := make([]string, opt.Users)
	for i := range tokens {
		tok, err := loadtest.Token(Secret, "soak", fmt.Sprintf("u%d", i), nil, "", 6*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		tokens[i] = tok
	}
	slots := make([]*Conn, opt.Conns)
	slotMu := make([]sync.Mutex, opt.Conns) // one churner at a time per slot
	var (
		mu      sync.Mutex
		opened  atomic.Int64
		errs    atomic.Int64
		open    atomic.Int64
		devices = []string{"desktop", "web", "mobile"}
	)
	// fill (re)opens slot i: user i%Users, session s<i> (so a replacement
	// often continues the session within the grace), a random node, and a
	// subscription to three users.
	fill := func(i int, r *rand.Rand) {
		u := i % opt.Users
		n := e.Nodes[r.IntN(len(e.Nodes))]
		c, err := Dial(n, fmt.Sprintf("s%d", i), tokens[u], fmt.Sprintf("u%d", u), fmt.Sprintf("s%d", i), "main", devices[i%3])
		if err != nil {
			errs.Add(1)
			return
		}
		opened.Add(1)
		open.Add(1)
		subs := []string{fmt.Sprintf("u%d", r.IntN(opt.Users)), fmt.Sprintf("u%d", r.IntN(opt.Users)), fmt.Sprintf("u%d", r.IntN(opt.Users))}
		if _, err := c.Request(map[string]any{"type": "subscribe", "users": subs}); err != nil {
			errs.Add(1)
		}
		mu.Lock()
		slots[i] = c
		mu.Unlock()
	}
	drop := func(i int) {
		mu.Lock()
		c := slots[i]
		slots[i] = nil
		mu.Unlock()
		if c != nil {
			c.Close()
			open.Add(-1)
		}
	}
	defer func() {
		var wg sync.WaitGroup
		for i := range slots {
			wg.Go(func() { drop(i) })
		}
		wg.Wait()
	}()

	start := time.Now()
	// Ramp: 16 openers.
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for w := range 16 {
		r := rand.New(rand.NewPCG(opt.Seed, uint64(w)))
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= opt.Conns {
					return
				}
				fill(i, r)
			}
		})
	}
	wg.Wait()
	opt.Log("soak: %d connections open after %v (%d failed)", open.Load(), time.Since(start).Round(time.Second), errs.Load())

	var samples []Sample
	sample := func() {
		s := Sample{At: time.Since(start), Open: int(open.Load()), Opened: opened.Load(), Errors: errs.Load()}
		for _, n := range e.Nodes {
			pid := n.Pid()
			s.RSS += procRSS(pid)
			s.FDs += procFDs(pid)
			s.Goroutines += int64(metricValue(n, "go_goroutines"))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.RedisMem, _ = e.RedisUsedMemory(ctx)
		cancel()
		samples = append(samples, s)
		opt.Log("soak: %v open=%d opened=%d errors=%d rss=%dMiB goroutines=%d fds=%d redis=%dKiB",
			s.At.Round(time.Second), s.Open, s.Opened, s.Errors, s.RSS>>20, s.Goroutines, s.FDs, s.RedisMem>>10)
	}
	sample()

	// Churn: replace a random slot every 1/Churn seconds, with a few
	// manual status and idle changes between, until the end.
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(opt.Duration))
	defer cancel()
	churners := 8
	for w := range churners {
		r := rand.New(rand.NewPCG(opt.Seed, uint64(100+w)))
		period := time.Duration(float64(time.Second) * float64(churners) / opt.Churn)
		wg.Go(func() {
			tick := time.NewTicker(period)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				i := r.IntN(opt.Conns)
				slotMu[i].Lock()
				switch r.IntN(10) {
				case 0:
					mu.Lock()
					c := slots[i]
					mu.Unlock()
					if c != nil {
						st := []string{"online", "away", "busy", "dnd"}[r.IntN(4)]
						_, _ = c.Request(map[string]any{"type": "status", "status": st})
					}
				case 1:
					mu.Lock()
					c := slots[i]
					mu.Unlock()
					if c != nil {
						_, _ = c.Request(map[string]any{"type": "idle", "idle": r.IntN(2) == 0})
					}
				default:
					drop(i)
					fill(i, r)
				}
				slotMu[i].Unlock()
			}
		})
	}
	tick := time.NewTicker(opt.Every)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			sample()
		}
	}
	wg.Wait()
	sample()
	return samples
}

// procRSS is VmRSS of pid in bytes (0 when unknown).
func procRSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// procFDs counts the open descriptors of pid.
func procFDs(pid int) int64 {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0
	}
	return int64(len(ents))
}

// metricValue reads one unlabelled gauge from the node's /metrics.
func metricValue(n *Node, name string) float64 {
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get(n.Base() + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// Unbounded judges a soak's samples: after the warm-up (the first quarter),
// each figure's peak over the last half may exceed its peak over the first
// half by at most 25% plus a small floor (allocator and GC noise). A figure
// that keeps rising fails; one that rises and levels off does not. It
// returns one line per figure that grew.
func Unbounded(samples []Sample) []string {
	if len(samples) < 8 {
		return []string{fmt.Sprintf("only %d samples: too short to judge growth", len(samples))}
	}
	steady := samples[len(samples)/4:]
	half := len(steady) / 2
	type fig struct {
		name  string
		get   func(Sample) int64
		floor int64
	}
	figs := []fig{
		{"gateway RSS (bytes)", func(s Sample) int64 { return s.RSS }, 48 << 20},
		{"goroutines", func(s Sample) int64 { return s.Goroutines }, 300},
		{"open fds", func(s Sample) int64 { return s.FDs }, 150},
		{"Redis used_memory (bytes)", func(s Sample) int64 { return s.RedisMem }, 8 << 20},
	}
	var bad []string
	for _, f := range figs {
		var first, last int64
		for i, s := range steady {
			v := f.get(s)
			if i < half {
				first = max(first, v)
			} else {
				last = max(last, v)
			}
		}
		if limit := first + first/4 + f.floor; last > limit {
			bad = append(bad, fmt.Sprintf("%s grew without bound: peak %d in the first half of the steady state, %d in the second (limit %d)", f.name, first, last, limit))
		}
	}
	return bad
}

// WriteSoak writes soak.csv, soak.svg and soak.txt (a text chart) to dir.
func WriteSoak(dir string, samples []Sample, header string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var csv strings.Builder
	csv.WriteString("seconds,open,opened,errors,rss_bytes,goroutines,fds,redis_used_memory\n")
	for _, s := range samples {
		fmt.Fprintf(&csv, "%d,%d,%d,%d,%d,%d,%d,%d\n", int(s.At.Seconds()), s.Open, s.Opened, s.Errors, s.RSS, s.Goroutines, s.FDs, s.RedisMem)
	}
	if err := os.WriteFile(filepath.Join(dir, "soak.csv"), []byte(csv.String()), 0o644); err != nil {
		return err
	}
	series := []struct {
		name string
		unit string
		div  float64
		get  func(Sample) int64
	}{
		{"gateway RSS, 3 nodes", "MiB", 1 << 20, func(s Sample) int64 { return s.RSS }},
		{"goroutines, 3 nodes", "", 1, func(s Sample) int64 { return s.Goroutines }},
		{"open fds, 3 nodes", "", 1, func(s Sample) int64 { return s.FDs }},
		{"Redis used_memory", "MiB", 1 << 20, func(s Sample) int64 { return s.RedisMem }},
		{"client connections open", "", 1, func(s Sample) int64 { return int64(s.Open) }},
	}
	var svg, txt strings.Builder
	const w, h, pad = 600, 110, 40
	fmt.Fprintf(&svg, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", w+2*pad, len(series)*(h+pad)+pad)
	fmt.Fprintf(&svg, `<text x="%d" y="16">%s</text>`+"\n", pad, header)
	txt.WriteString(header + "\n")
	end := samples[len(samples)-1].At.Seconds()
	for k, se := range series {
		top := pad + k*(h+pad)
		var hi float64
		for _, s := range samples {
			hi = max(hi, float64(se.get(s))/se.div)
		}
		if hi == 0 {
			hi = 1
		}
		fmt.Fprintf(&svg, `<text x="%d" y="%d">%s (max %.0f %s)</text>`+"\n", pad, top+12, se.name, hi, se.unit)
		fmt.Fprintf(&svg, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#ccc"/>`+"\n", pad, top+18, w, h-18)
		var pts strings.Builder
		for _, s := range samples {
			x := float64(pad) + float64(w)*s.At.Seconds()/max(end, 1)
			y := float64(top+h) - float64(h-20)*(float64(se.get(s))/se.div)/hi
			fmt.Fprintf(&pts, "%.1f,%.1f ", x, y)
		}
		fmt.Fprintf(&svg, `<polyline fill="none" stroke="#2a6" stroke-width="1.5" points="%s"/>`+"\n", strings.TrimSpace(pts.String()))
		// Text chart: one bar per tenth of the run.
		fmt.Fprintf(&txt, "\n%s (%s; max %.1f)\n", se.name, se.unit, hi)
		for i := 0; i < 10; i++ {
			s := samples[min(len(samples)-1, i*len(samples)/10)]
			v := float64(se.get(s)) / se.div
			fmt.Fprintf(&txt, "%6.0fs %-40s %.1f\n", s.At.Seconds(), strings.Repeat("#", int(40*v/hi)), v)
		}
	}
	svg.WriteString("</svg>\n")
	if err := os.WriteFile(filepath.Join(dir, "soak.svg"), []byte(svg.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "soak.txt"), []byte(txt.String()), 0o644)
}
