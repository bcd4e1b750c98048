package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/pgw/pgw/internal/testenv"
)

const itSecret = "loadtest-integration-secret-0123456789abcdef"

// buildBinary builds a command of this module into dir.
func buildBinary(t *testing.T, dir, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, "github.com/pgw/pgw/"+pkg)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// startGateway runs one gateway node on a free port and stops it (SIGTERM,
// then SIGKILL) when the test ends; it returns the node's base URL.
func startGateway(t *testing.T, bin string, args ...string) string {
	t.Helper()
	port := testenv.FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	// Pings every 500 ms and a 2 s pong wait: a client that did not answer
	// pings would be closed during the 3 s hold.
	args = append([]string{"--addr", addr, "--jwt-secret", itSecret, "--grace", "1s", "--drain", "200ms",
		"--heartbeat", "500ms", "--pong-wait", "2s", "--log-level", "warn"}, args...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start gateway: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	base := "http://" + addr
	testenv.WaitReady(t, 20*time.Second, base+"/readyz", exited)
	return base
}

// smallConfig is a run of a few seconds and a few hundred connections.
func smallConfig(scenario, tenant string, targets ...string) Config {
	c := DefaultConfig()
	c.Scenario, c.Tenant, c.Targets, c.Secret = scenario, tenant, targets, itSecret
	c.Users, c.Windows, c.ConnectRate = 80, 2, 400
	c.Hold, c.Duration, c.Drain = 3*time.Second, 3*time.Second, time.Second
	c.Grace, c.Jitter, c.StormLimit = time.Second, 500*time.Millisecond, 20*time.Second
	c.SourceIPs = 2
	switch scenario {
	case ScenarioFanout:
		c.Subs, c.Rate = 8, 200
	case ScenarioChurn:
		c.Rate, c.Logout = 15, 0.2
	case ScenarioIPT:
		c.Bridges, c.Rate = 4, 60
	}
	return c
}

// assertRun checks a finished run against itself and against the gateway's
// own counters.
func assertRun(t *testing.T, res *Result, err error, gateways ...string) {
	t.Helper()
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, c := range res.Checks {
		// Speed targets depend on the machine (and -race); correctness does not.
		if c.Status == Miss && !c.Goal {
			t.Errorf("check missed: %s: target %s, actual %s %s", c.Name, c.Target, c.Actual, c.Margin)
		}
	}
	if res.Counters[CConnects] == 0 {
		t.Fatalf("no connection was made: %+v", res.Counters)
	}
	// What the clients counted equals what the gateway counted, up to the
	// verify barrier (the harness's checker connections come after it).
	if got, want := res.Server.AtVerify[MetricConnects], float64(res.Counters[CConnects]); got != want {
		t.Errorf("gateway accepted %v connections, clients were welcomed %v times", got, want)
	}
	if got, want := res.Server.AtVerify[MetricDelivered], float64(res.Counters[CPresenceIn]); got != want {
		t.Errorf("gateway queued %v presence frames, clients received %v", got, want)
	}
	// Everything opened was closed by the end. The run's last scrape may
	// come before the gateway handled the last closes (a loaded machine):
	// then the gateways' own totals must meet within a deadline.
	if c, d := res.Server.Counts[MetricConnects], res.Server.Counts[MetricDisconnects]; c == 0 {
		t.Errorf("gateway: no connect counted over the run")
	} else if c != d {
		if err := closedEverything(gateways); err != nil {
			t.Errorf("gateway: %v connects, %v disconnects over the run, and then: %v", c, d, err)
		}
	}
	if res.Maxima[MPeakOpen] == 0 || len(res.Seconds) == 0 {
		t.Errorf("no timeline: peak %d, %d seconds", res.Maxima[MPeakOpen], len(res.Seconds))
	}
}

// TestScenariosAgainstGateway runs every scenario briefly against one real
// gateway node (embedded store and NATS) and checks the counts.
func TestScenariosAgainstGateway(t *testing.T) {
	bin := buildBinary(t, t.TempDir(), "cmd/gateway")
	base := startGateway(t, bin, "--node-id", "lt-it-1")
	tests := []struct {
		scenario string
		check    func(t *testing.T, r *Result)
	}{
		{ScenarioHold, func(t *testing.T, r *Result) {
			if r.Counters[CConnects] != r.Counters[CWanted] {
				t.Errorf("connects %d, wanted %d", r.Counters[CConnects], r.Counters[CWanted])
			}
		}},
		{ScenarioFanout, func(t *testing.T, r *Result) {
			if r.Counters[CDelivered] == 0 || r.Counters[CDelivered] != r.Counters[CExpected] {
				t.Errorf("delivered %d of %d expected", r.Counters[CDelivered], r.Counters[CExpected])
			}
			if r.Lat(LDelivery).Count() != r.Counters[CDelivered] {
				t.Errorf("latency histogram holds %d values for %d deliveries", r.Lat(LDelivery).Count(), r.Counters[CDelivered])
			}
		}},
		{ScenarioChurn, func(t *testing.T, r *Result) {
			if r.Counters[CActions] == 0 || r.Counters[CFlaps] != 0 {
				t.Errorf("actions %d, flaps %d", r.Counters[CActions], r.Counters[CFlaps])
			}
		}},
		{ScenarioStorm, func(t *testing.T, r *Result) {
			if r.Counters[CBack] != r.Counters[CWanted] || r.Maxima[MAllBackMicros] <= 0 {
				t.Errorf("back %d of %d, all back after %dµs", r.Counters[CBack], r.Counters[CWanted], r.Maxima[MAllBackMicros])
			}
		}},
		{ScenarioIPT, func(t *testing.T, r *Result) {
			if r.Counters[CCalls] == 0 || r.Counters[CCalls] != r.Counters[CCallsExpected] {
				t.Errorf("call frames %d of %d events", r.Counters[CCalls], r.Counters[CCallsExpected])
			}
			if r.Counters[CCallIn] != r.Counters[CCalls] {
				t.Errorf("%d call frames received, %d matched an event", r.Counters[CCallIn], r.Counters[CCalls])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			res, err := Run(ctx, smallConfig(tt.scenario, "it"+tt.scenario, base), Options{})
			assertRun(t, res, err, base)
			tt.check(t, res)
		})
	}
}

// closedEverything waits until the gateways' connect and disconnect totals
// are equal (every connection they ever accepted was closed), or fails
// after a deadline with the last totals.
func closedEverything(gateways []string) error {
	if len(gateways) == 0 {
		return fmt.Errorf("no gateway to ask")
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var c, d float64
		var err error
		for _, g := range gateways {
			var m Metrics
			if m, err = Scrape(context.Background(), hc, g); err != nil {
				break
			}
			x, _ := m.Sum(MetricConnects)
			y, _ := m.Sum(MetricDisconnects)
			c, d = c+x, d+y
		}
		if err == nil && c == d {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return err
			}
			return fmt.Errorf("the gateways count %v connects and %v disconnects in all after 30s", c, d)
		}
		time.Sleep(100 * time.Millisecond) // polling /metrics, not synchronisation by sleep
	}
}

// TestStormTwoNodesRedisWorkers runs the storm over two nodes sharing a
// private Redis and NATS, with two worker processes, and checks the Redis
// `:conn:` keys follow the connections.
func TestStormTwoNodesRedisWorkers(t *testing.T) {
	dir := t.TempDir()
	gw := buildBinary(t, dir, "cmd/gateway")
	lt := buildBinary(t, dir, "cmd/loadtest")
	rds, nts := testenv.Redis(t), testenv.NATS(t)
	shared := []string{"--redis-url", rds.URL, "--nats-url", nts.URL, "--prefix", "ltit"}
	a := startGateway(t, gw, append(shared, "--node-id", "lt-it-a")...)
	b := startGateway(t, gw, append(shared, "--node-id", "lt-it-b")...)
	cfg := smallConfig(ScenarioStorm, "itstorm", a, b)
	cfg.Procs, cfg.RedisURL, cfg.Prefix = 2, rds.URL, "ltit"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, cfg, Options{WorkerCommand: []string{lt, "worker"}})
	assertRun(t, res, err, a, b)
	for _, name := range []string{"conn keys match open connections", "no stale conn keys", "gateway counts the open connections"} {
		if c, ok := findCheck(res.Checks, name); !ok || c.Status != Pass {
			t.Errorf("check %q: %+v (found %v)", name, c, ok)
		}
	}
	if len(res.Server.Nodes) != 2 || res.Server.Nodes[0].PeakConns == 0 || res.Server.Nodes[1].PeakConns == 0 {
		t.Errorf("connections not spread over both nodes: %+v", res.Server.Nodes)
	}
	if res.Counters[CBack] != res.Counters[CWanted] {
		t.Errorf("back %d of %d", res.Counters[CBack], res.Counters[CWanted])
	}
}
