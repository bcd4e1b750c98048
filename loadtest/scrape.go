package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server metric names the harness reads from each node's /metrics. Missing
// ones are tolerated: the report then says n/a.
const (
	MetricConnections = "pgw_connections"
	MetricRSS         = "process_resident_memory_bytes"
	MetricCPU         = "process_cpu_seconds_total"
	MetricGoroutines  = "go_goroutines"
	MetricConnects    = "pgw_connects_total"
	MetricDisconnects = "pgw_disconnects_total"
	MetricDelivered   = "pgw_presence_delivered_total"
	MetricCloses      = "pgw_server_closes_total" // label code
	MetricFrameErrors = "pgw_frame_errors_total"  // label code
	MetricAuthErrors  = "pgw_auth_failures_total" // label code
)

// Metrics is one scrape: every series ("name{labels}") and its value.
type Metrics map[string]float64

// Sum adds every series of the metric name (all label sets); ok is false
// when the metric is absent.
func (m Metrics) Sum(name string) (v float64, ok bool) {
	for k, x := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			v += x
			ok = true
		}
	}
	return v, ok
}

// ByLabel returns the metric's series keyed by the value of label.
func (m Metrics) ByLabel(name, label string) map[string]float64 {
	out := map[string]float64{}
	for k, x := range m {
		if !strings.HasPrefix(k, name+"{") {
			continue
		}
		for _, kv := range strings.Split(strings.TrimSuffix(k[len(name)+1:], "}"), ",") {
			key, val, found := strings.Cut(kv, "=")
			if found && strings.TrimSpace(key) == label {
				out[strings.Trim(val, `"`)] += x
			}
		}
	}
	return out
}

// ParseMetrics reads the Prometheus text exposition format: comments and
// blank lines skipped, "series value [timestamp]" kept.
func ParseMetrics(r io.Reader) (Metrics, error) {
	m := Metrics{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		// The series may hold spaces inside label values; the value follows
		// the closing brace, or the first space when there are no labels.
		cut := strings.LastIndexByte(line, '}')
		if cut < 0 {
			cut = strings.IndexByte(line, ' ') - 1
			if cut < 0 {
				continue
			}
		}
		series := line[:cut+1]
		fields := strings.Fields(line[cut+1:])
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		m[series] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return m, nil
}

// Scrape fetches target's /metrics.
func Scrape(ctx context.Context, hc *http.Client, target string) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(target, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", target, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: HTTP %d", target, resp.StatusCode)
	}
	return ParseMetrics(resp.Body)
}

// NodeSample is one scrape of one node; a metric the node does not export is -1.
type NodeSample struct {
	T          float64 `json:"t"` // seconds since the run's start
	Up         bool    `json:"up"`
	Conns      float64 `json:"conns"`
	RSS        float64 `json:"rss"`
	CPU        float64 `json:"cpu"`
	Goroutines float64 `json:"goroutines"`
}

// NodeSeries is every sample of one node, plus its first and last scrape.
type NodeSeries struct {
	Target  string       `json:"target"`
	Samples []NodeSample `json:"samples"`
	First   Metrics      `json:"-"`
	Last    Metrics      `json:"-"`
}

func sampleOf(m Metrics, t float64) NodeSample {
	get := func(name string) float64 {
		if v, ok := m.Sum(name); ok {
			return v
		}
		return -1
	}
	return NodeSample{T: t, Up: true, Conns: get(MetricConnections), RSS: get(MetricRSS), CPU: get(MetricCPU), Goroutines: get(MetricGoroutines)}
}

// sampler scrapes every node once a second until stopped.
type sampler struct {
	t0    time.Time
	hc    *http.Client
	mu    sync.Mutex
	nodes []NodeSeries
}

func newSampler(t0 time.Time, targets []string) *sampler {
	s := &sampler{t0: t0, hc: &http.Client{Timeout: 2 * time.Second}}
	for _, t := range targets {
		s.nodes = append(s.nodes, NodeSeries{Target: t})
	}
	return s
}

// scrapeAll takes one sample of every node, in parallel.
func (s *sampler) scrapeAll(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range s.nodes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			now := time.Now()
			m, err := Scrape(ctx, s.hc, s.nodes[i].Target)
			t := now.Sub(s.t0).Seconds()
			s.mu.Lock()
			defer s.mu.Unlock()
			n := &s.nodes[i]
			if err != nil {
				n.Samples = append(n.Samples, NodeSample{T: t, Conns: -1, RSS: -1, CPU: -1, Goroutines: -1})
				return
			}
			if n.First == nil {
				n.First = m
			}
			n.Last = m
			n.Samples = append(n.Samples, sampleOf(m, t))
		}(i)
	}
	wg.Wait()
}

// run samples every period until ctx ends, then takes a last sample.
func (s *sampler) run(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		s.scrapeAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// series returns a copy of the samples so far.
func (s *sampler) series() []NodeSeries {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]NodeSeries, len(s.nodes))
	for i, n := range s.nodes {
		out[i] = n
		out[i].Samples = append([]NodeSample(nil), n.Samples...)
	}
	return out
}
