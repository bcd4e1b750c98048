package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pgw/pgw/loadtest"
)

// sample builds a small fanout result with two nodes and a timeline.
func sample(t *testing.T) *loadtest.Result {
	t.Helper()
	rec := loadtest.NewRecorder(time.Now(), loadtest.LDelivery)
	for i := 0; i < 500; i++ {
		rec.Latency(loadtest.LDelivery, time.Duration(i+1)*50*time.Microsecond)
		rec.Add(loadtest.CDelivered, 1)
	}
	rec.Latency(loadtest.LConnect, 3*time.Millisecond)
	rec.Error("close 1008 slow_consumer")
	res := rec.Result()
	cfg := loadtest.DefaultConfig()
	cfg.Scenario, cfg.Targets, cfg.RunID = loadtest.ScenarioFanout, []string{"http://127.0.0.1:1", "http://127.0.0.1:2"}, "rtest"
	res.Config = cfg
	res.Start = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	res.End = res.Start.Add(12 * time.Second)
	res.Nodes = []loadtest.NodeSeries{{Target: "http://127.0.0.1:1", Samples: []loadtest.NodeSample{
		{T: 0, Up: true, Conns: 0, RSS: 20 << 20, CPU: 1}, {T: 1, Up: true, Conns: 50, RSS: 21 << 20, CPU: 1.5},
		{T: 2, Conns: -1, RSS: -1, CPU: -1}}}}
	res.Server = loadtest.Summarize(res.Nodes, 0, 2, 500)
	res.Checks = loadtest.Evaluate(&res)
	res.Notes = []string{"a <note> & more"}
	return &res
}

func TestWriteTextHasTheNumbersAndVerdict(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, sample(t)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"delivery", "500", "close 1008 slow_consumer ×1", "fan-out delivery p99", "verdict: FAIL", "http://127.0.0.1:1"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteHTMLSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHTML(&b, sample(t)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if strings.Contains(page, "<script") || regexp.MustCompile(`(src|href)="https?:`).MatchString(page) {
		t.Fatal("the page must not load scripts or external files")
	}
	if !strings.Contains(page, "a &lt;note&gt; &amp; more") {
		t.Error("notes are not escaped")
	}
	svgs := regexp.MustCompile(`(?s)<svg.*?</svg>`).FindAllString(page, -1)
	if len(svgs) != 5 {
		t.Fatalf("%d charts, want 5", len(svgs))
	}
	for _, s := range svgs {
		d := xml.NewDecoder(strings.NewReader(s))
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("chart is not well-formed XML: %v\n%s", err, s)
			}
		}
	}
	if !strings.Contains(svgs[2], "<polyline") && !strings.Contains(svgs[2], "<circle") {
		t.Error("latency chart has no line")
	}
}

func TestLineChartSkipsUnknownAndEmpty(t *testing.T) {
	empty := LineChart("t", "x", "y", 0, nil)
	if !strings.Contains(empty, "no data") {
		t.Errorf("empty chart: %s", empty)
	}
	c := LineChart("t", "x", "y", 0, []Series{{Name: "a", X: []float64{0, 1, 2}, Y: []float64{-1, 5, 10}}})
	if n := strings.Count(regexp.MustCompile(`points="([^"]*)"`).FindStringSubmatch(c)[1], ","); n != 2 {
		t.Errorf("%d points drawn, want 2 (the -1 sample is unknown)", n)
	}
}

func TestNiceStep(t *testing.T) {
	for _, tt := range []struct{ raw, want float64 }{{0.7, 1}, {1.5, 2}, {3, 5}, {7, 10}, {1234, 2000}, {0, 1}} {
		if got := niceStep(tt.raw); got != tt.want {
			t.Errorf("niceStep(%v) = %v, want %v", tt.raw, got, tt.want)
		}
	}
}

func TestJSONAndMarkdownRoundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sample(t)); err != nil {
		t.Fatal(err)
	}
	var back loadtest.Result
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Lat(loadtest.LDelivery).Count() != 500 || strings.Contains(b.String(), "secret") {
		t.Fatalf("JSON round trip lost the histogram or leaked the secret")
	}
	var md bytes.Buffer
	m := Machine{Date: time.Now(), Cores: 2, CPU: "test CPU", GoVersion: "go", Kernel: "Linux"}
	if err := WriteMarkdown(&md, m, []*loadtest.Result{&back}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"2 cores (test CPU)", "| 1 fanout | fanout |", "--scenario fanout", "--secret $SECRET", "FAIL"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}

func TestVerdict(t *testing.T) {
	tests := []struct {
		checks []loadtest.Check
		want   string
	}{
		{[]loadtest.Check{{Status: loadtest.Pass}, {Status: loadtest.NA, Goal: true}}, "PASS"},
		{[]loadtest.Check{{Status: loadtest.Miss, Goal: true}}, "CORRECT, 1 targets missed"},
		{[]loadtest.Check{{Status: loadtest.Miss}, {Status: loadtest.Miss, Goal: true}}, "FAIL (1 correctness checks missed)"},
	}
	for _, tt := range tests {
		if got := Verdict(&loadtest.Result{Checks: tt.checks}); got != tt.want {
			t.Errorf("Verdict = %q, want %q", got, tt.want)
		}
	}
}

// A run and its same-run floor (labelled with FloorSuffix) get a table of
// their ratios; a run without one gets none.
func TestMarkdownReadsARunAgainstItsFloor(t *testing.T) {
	run, floor := sample(t), sample(t)
	run.Config.Label, floor.Config.Label = "fanout-50k", "fanout-50k"+FloorSuffix
	run.Server.CPUPer1kDeliveries, floor.Server.CPUPer1kDeliveries = 0.0198, 0.0180
	m := Machine{Date: time.Now(), Cores: 2, CPU: "test CPU", GoVersion: "go", Kernel: "Linux"}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, m, []*loadtest.Result{run, floor}); err != nil {
		t.Fatal(err)
	}
	p50, p99 := ms(run.Lat(loadtest.LDelivery).Summary().P50), ms(run.Lat(loadtest.LDelivery).Summary().P99)
	row := "| fanout-50k | 19.8 / 18.0 (1.10×) | " + p50 + " / " + p50 + " ms (1.00×) | " + p99 + " / " + p99 + " ms (1.00×) |"
	if !strings.Contains(md.String(), row) {
		t.Fatalf("markdown lacks the floor row %q:\n%s", row, md.String())
	}
	md.Reset()
	if err := WriteMarkdown(&md, m, []*loadtest.Result{run}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(md.String(), "same-run floor") {
		t.Fatalf("a run without its floor got a floor table:\n%s", md.String())
	}
}
