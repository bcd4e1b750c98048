package loadtest

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseMetrics(t *testing.T) {
	text := `# HELP pgw_connections Open WebSocket connections.
# TYPE pgw_connections gauge
pgw_connections 1234
process_resident_memory_bytes 1.2e+07
pgw_server_closes_total{code="1008"} 3
pgw_server_closes_total{code="4429",node="a b"} 2
pgw_frame_errors_total{code="rate_limited"} 5 1700000000000
garbage line
`
	m, err := ParseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := m.Sum("pgw_connections"); !ok || v != 1234 {
		t.Errorf("pgw_connections = %v %v", v, ok)
	}
	if v, _ := m.Sum(MetricRSS); v != 1.2e7 {
		t.Errorf("rss = %v", v)
	}
	if v, ok := m.Sum("go_goroutines"); ok || v != 0 {
		t.Errorf("absent metric reported: %v %v", v, ok)
	}
	if v, _ := m.Sum(MetricCloses); v != 5 {
		t.Errorf("closes sum = %v, want 5", v)
	}
	by := m.ByLabel(MetricCloses, "code")
	if by["1008"] != 3 || by["4429"] != 2 {
		t.Errorf("by code = %v", by)
	}
	if m.ByLabel(MetricFrameErrors, "code")["rate_limited"] != 5 {
		t.Errorf("timestamped sample misread: %v", m)
	}
}

func TestSummarizeServerCost(t *testing.T) {
	first := Metrics{MetricConnects: 0, MetricDelivered: 0}
	last := Metrics{MetricConnects: 1000, MetricDelivered: 50000, MetricCloses + `{code="1008"}`: 2}
	nodes := []NodeSeries{{
		Target: "a",
		Samples: []NodeSample{
			{T: 0, Up: true, Conns: 0, RSS: 10 << 20, CPU: 1},
			{T: 5, Up: true, Conns: 1000, RSS: 10<<20 + 6*1024*1000, CPU: 2},
			{T: 10, Up: true, Conns: 500, RSS: 11 << 20, CPU: 4},
			{T: 11, Conns: -1, RSS: -1, CPU: -1}, // a failed scrape
		},
		First: first, Last: last,
	}}
	s := Summarize(nodes, 5, 10, 4000)
	if s.MarginalPerConn != -1 {
		t.Errorf("two ramp samples cannot give a slope, got %v", s.MarginalPerConn)
	}
	if s.BytesPerConn != 6*1024 {
		t.Errorf("bytes per conn %v, want 6144", s.BytesPerConn)
	}
	if s.CPUSeconds != 2 {
		t.Errorf("cpu %v, want 2 (4-2 between t=5 and t=10)", s.CPUSeconds)
	}
	if s.CPUPer1kDeliveries != 0.5 {
		t.Errorf("cpu per 1k %v, want 0.5", s.CPUPer1kDeliveries)
	}
	if s.Counts[MetricDelivered] != 50000 || s.Closes["1008"] != 2 {
		t.Errorf("counts %v closes %v", s.Counts, s.Closes)
	}
	none := Summarize([]NodeSeries{{Target: "b", Samples: []NodeSample{{T: 0, Conns: -1, RSS: -1, CPU: -1}}}}, 0, 1, 10)
	if none.BytesPerConn != -1 || none.CPUPer1kDeliveries != -1 || none.Nodes[0].Scraped {
		t.Errorf("unscraped node should read as unknown: %+v", none)
	}
}

func TestRampSlopeRemovesFixedOverhead(t *testing.T) {
	var samples []NodeSample
	samples = append(samples, NodeSample{T: 0, Up: true, Conns: 0, RSS: 50 << 20})
	for i := 1; i <= 10; i++ { // +20 MiB once the first connections come, + 5 KiB per connection
		c := float64(i * 1000)
		samples = append(samples, NodeSample{T: float64(i), Up: true, Conns: c, RSS: 70<<20 + 5*1024*c})
	}
	// then a ramp down, which the fit ignores
	samples = append(samples, NodeSample{T: 11, Up: true, Conns: 10, RSS: 80 << 20})
	if got := rampSlope(samples); got < 5*1024-1 || got > 5*1024+1 {
		t.Fatalf("slope %v, want 5120", got)
	}
	s := Summarize([]NodeSeries{{Target: "a", Samples: samples}}, 0, 11, 0)
	if s.BytesPerConn < 7*1024 || s.MarginalPerConn > 5*1024+1 {
		t.Fatalf("average %v should carry the fixed overhead, marginal %v should not", s.BytesPerConn, s.MarginalPerConn)
	}
	cfg := DefaultConfig()
	r := &Result{Config: cfg, Server: s, Counters: map[string]int64{}, Maxima: map[string]int64{MPeakOpen: 10000}}
	c := rssCheck(r, 2000)
	if c.Status != Pass || !strings.Contains(c.Actual, "marginal") {
		t.Fatalf("below scale the marginal cost is judged: %+v", c)
	}
	if c := rssCheck(r, 19000); !strings.HasPrefix(c.Actual, "7217 B RSS growth") || strings.Contains(c.Margin, "meets") {
		t.Fatalf("at scale the average (7217 B: under 8 KiB, over the 6 KiB goal) is judged: %+v", c)
	}
}

func findCheck(cs []Check, name string) (Check, bool) {
	for _, c := range cs {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

func TestEvaluateTargets(t *testing.T) {
	base := func(scenario string, targets int) *Result {
		cfg := DefaultConfig()
		cfg.Scenario = scenario
		cfg.Targets = make([]string, targets)
		return &Result{Config: cfg, Counters: map[string]int64{}, Maxima: map[string]int64{}, Errors: map[string]int64{},
			Latency: map[string]*Hist{}, Server: ServerSummary{BytesPerConn: -1, MarginalPerConn: -1, CPUPer1kDeliveries: -1}}
	}
	withLat := func(d time.Duration, n int) *Hist {
		h := NewHist(3)
		for i := 0; i < n; i++ {
			h.Record(d)
		}
		return h
	}
	tests := []struct {
		name   string
		result func() *Result
		check  string
		status string
		margin string // prefix
	}{
		{"fanout p99 under 20ms passes", func() *Result {
			r := base(ScenarioFanout, 3)
			r.Latency[LDelivery] = withLat(15*time.Millisecond, 100)
			return r
		}, "fan-out delivery p99", Pass, "-25%"},
		{"fanout p99 over 20ms misses by how much", func() *Result {
			r := base(ScenarioFanout, 3)
			r.Latency[LDelivery] = withLat(30*time.Millisecond, 100)
			return r
		}, "fan-out delivery p99", Miss, "+50%"},
		{"fanout lost deliveries miss", func() *Result {
			r := base(ScenarioFanout, 3)
			r.Counters[CExpected], r.Counters[CDelivered] = 100, 97
			return r
		}, "lost deliveries", Miss, ""},
		{"fanout rate n/a when the run offered less", func() *Result {
			r := base(ScenarioFanout, 3)
			r.Config.Rate, r.Config.Subs = 100, 10
			return r
		}, "fan-out deliveries/s", NA, "run offered 1000/s"},
		{"fanout rate judged at scale", func() *Result {
			r := base(ScenarioFanout, 3)
			r.Config.Rate, r.Config.Subs, r.Config.Duration = 2000, 10, 10*time.Second
			r.Counters[CDelivered] = 180000
			return r
		}, "fan-out deliveries/s", Miss, "-10%"},
		{"fanout p99 at 10 000/s judged at that rate", func() *Result {
			r := base(ScenarioFanout, 3)
			r.Config.Rate, r.Config.Subs = 1000, 10
			r.Latency[LDelivery] = withLat(3*time.Millisecond, 100)
			return r
		}, "fan-out p99 at 10 000 deliveries/s on 3 nodes", Miss, "+50%"},
		{"fanout p99 at 10 000/s n/a at 50 000/s", func() *Result {
			r := base(ScenarioFanout, 3)
			r.Config.Rate, r.Config.Subs, r.Config.Duration = 2500, 20, 20*time.Second
			r.Counters[CDelivered] = 1000000
			return r
		}, "fan-out p99 at 10 000 deliveries/s on 3 nodes", NA, "run offered 50000/s"},
		{"fanout CPU at 50 000/s over the driven phase", func() *Result {
			r := base(ScenarioFanout, 3)
			r.Config.Rate, r.Config.Subs, r.Config.Duration = 2500, 20, 20*time.Second
			r.Server.CPUSeconds = 8 // 40% of a core over 20 s
			r.Counters[CDelivered] = 1000000
			return r
		}, "fan-out gateway CPU at 50 000 deliveries/s", Pass, "-20%"},
		{"fanout CPU at 50 000/s over half a core misses", func() *Result {
			r := base(ScenarioFanout, 3)
			r.Config.Rate, r.Config.Subs, r.Config.Duration = 2500, 20, 20*time.Second
			r.Server.CPUSeconds = 15
			return r
		}, "fan-out gateway CPU at 50 000 deliveries/s", Miss, "+50%"},
		{"fanout 50 000/s targets n/a on 1 node", func() *Result {
			r := base(ScenarioFanout, 1)
			r.Config.Rate, r.Config.Subs = 2500, 20
			return r
		}, "fan-out p99 at 50 000 deliveries/s on 3 nodes", NA, "run used 1 nodes"},
		{"storm back in time passes", func() *Result {
			r := base(ScenarioStorm, 1)
			r.Counters[CWanted], r.Counters[CBack] = 10, 10
			r.Maxima[MAllBackMicros] = 3e6
			return r
		}, "storm: all connections back", Pass, "-80%"},
		{"storm with connections missing misses", func() *Result {
			r := base(ScenarioStorm, 1)
			r.Counters[CWanted], r.Counters[CBack] = 10, 9
			r.Maxima[MAllBackMicros] = 1e6
			return r
		}, "storm: all connections back", Miss, ""},
		{"rss per conn over 8 KiB misses", func() *Result {
			r := base(ScenarioHold, 1)
			r.Server.BytesPerConn = 10 * 1024
			return r
		}, "server RSS per connection", Miss, "+25%"},
		{"rss per conn under 6 KiB meets the goal", func() *Result {
			r := base(ScenarioHold, 1)
			r.Server.BytesPerConn = 5 * 1024
			return r
		}, "server RSS per connection", Pass, "-38% (meets the 6 KiB goal)"},
		{"rss unknown is n/a", func() *Result {
			r := base(ScenarioHold, 1)
			r.Server.BytesPerConn = -1
			return r
		}, "server RSS per connection", NA, "nodes export no"},
		{"connect rate judged on one node when offered enough", func() *Result {
			r := base(ScenarioHold, 1)
			r.Config.ConnectRate = 12000
			r.Counters[CConnects] = 60000
			r.Maxima[MRampMicros] = 5e6
			return r
		}, "authenticated connects/s to one node", Pass, "+140% (meets the 10 000/s goal)"},
		{"idle per node n/a below scale", func() *Result {
			r := base(ScenarioHold, 2)
			r.Counters[CWanted] = 2000
			return r
		}, "idle connections per node", NA, "run offered 1000 per node"},
		{"churn flaps miss", func() *Result {
			r := base(ScenarioChurn, 1)
			r.Counters[CFlaps] = 1
			return r
		}, "flaps (offline while a session was live)", Miss, ""},
		{"errors miss", func() *Result {
			r := base(ScenarioHold, 1)
			r.Errors["close 4429 too_many_connections"] = 1
			return r
		}, "errors", Miss, ""},
		{"ipt lost calls", func() *Result {
			r := base(ScenarioIPT, 1)
			r.Counters[CCallsExpected], r.Counters[CCalls], r.Counters[CPhones] = 10, 10, 8
			return r
		}, "lost phone presence updates", Miss, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.result()
			c, ok := findCheck(Evaluate(r), tt.check)
			if !ok {
				t.Fatalf("no check %q in %+v", tt.check, Evaluate(r))
			}
			if c.Status != tt.status || !strings.HasPrefix(c.Margin, tt.margin) {
				t.Fatalf("%q: status %s margin %q, want %s %q… (actual %s)", tt.check, c.Status, c.Margin, tt.status, tt.margin, c.Actual)
			}
			r.Checks = Evaluate(r)
			if (tt.status == Miss) == r.Passed() {
				t.Fatalf("Passed() = %v with a %s check", r.Passed(), tt.status)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	ok := func() Config {
		c := DefaultConfig()
		c.Targets, c.Secret = []string{"http://127.0.0.1:1"}, "s"
		return c
	}
	tests := []struct {
		name  string
		edit  func(*Config)
		field string // "" = valid
	}{
		{"default is valid", func(*Config) {}, ""},
		{"unknown scenario", func(c *Config) { c.Scenario = "soak" }, "scenario"},
		{"no targets", func(c *Config) { c.Targets = nil }, "targets"},
		{"ws target", func(c *Config) { c.Targets = []string{"ws://x:1"} }, "targets[0]"},
		{"no secret", func(c *Config) { c.Secret = "" }, "secret"},
		{"bad tenant", func(c *Config) { c.Tenant = "a.b" }, "tenant"},
		{"bad user prefix", func(c *Config) { c.UserPrefix = "u*" }, "user-prefix"},
		{"too many windows", func(c *Config) { c.Windows = 31 }, "windows"},
		{"more procs than users", func(c *Config) { c.Procs = 200; c.Users = 10 }, "procs"},
		{"source ips overflow", func(c *Config) { c.Procs = 8; c.SourceIPs = 40 }, "source-ips"},
		{"fanout subs ≥ users", func(c *Config) { c.Scenario = ScenarioFanout; c.Subs = 100 }, "subs"},
		{"fanout rate over the frame limit", func(c *Config) { c.Scenario = ScenarioFanout; c.Rate = 5000 }, "rate"},
		{"ipt rate per bridge over the frame limit", func(c *Config) { c.Scenario = ScenarioIPT; c.Rate = 200; c.Bridges = 2 }, "rate"},
		{"too many sockets per worker", func(c *Config) { c.Users, c.Windows = 30000, 0 }, "procs"},
		{"enough workers for them", func(c *Config) { c.Users, c.Windows, c.Procs = 30000, 0, 2 }, ""},
		{"churn logout fraction", func(c *Config) { c.Scenario = ScenarioChurn; c.Logout = 2 }, "logout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok()
			tt.edit(&c)
			err := c.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("valid config refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), ": "+tt.field+":") {
				t.Fatalf("err = %v, want ErrConfig naming %s", err, tt.field)
			}
		})
	}
}

func TestErrorKey(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&DialError{Key: "close 4401 token_expired", Err: ErrNoWelcome}, "close 4401 token_expired"},
		{ErrClosed, "closed"},
		{errors.New("x"), "io"},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := ErrorKey(tt.err); got != tt.want {
			t.Errorf("ErrorKey(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
