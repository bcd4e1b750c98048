package chaos

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestChaos is the model-based fault checker. By default (make test) it
// runs a short round for a few seeds, on one Redis and on a Redis Cluster;
// PGW_CHAOS_SEED and PGW_CHAOS_DURATION (make chaos SEED=… DURATION=…)
// replay one seed for longer.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos checker starts three gateway processes")
	}
	if s := getenv("PGW_CHAOS_SEED", ""); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("PGW_CHAOS_SEED=%q: %v", s, err)
		}
		d, err := time.ParseDuration(getenv("PGW_CHAOS_DURATION", "10m"))
		if err != nil {
			t.Fatalf("PGW_CHAOS_DURATION: %v", err)
		}
		cluster := getenv("PGW_CHAOS_CLUSTER", "") != ""
		round, err := time.ParseDuration(getenv("PGW_CHAOS_ROUND", "15s"))
		if err != nil {
			t.Fatalf("PGW_CHAOS_ROUND: %v", err)
		}
		var faults []string
		if f := getenv("PGW_CHAOS_FAULTS", ""); f != "" {
			faults = strings.Split(f, ",")
		}
		history, _ := strconv.Atoi(getenv("PGW_CHAOS_HISTORY", "80"))
		redisOnly := getenv("PGW_CHAOS_REDIS_LINKS_ONLY", "") != ""
		keepGoing := getenv("PGW_CHAOS_KEEP_GOING", "") != ""
		inOrder := getenv("PGW_CHAOS_IN_ORDER", "") != ""
		Run(t, Options{Seed: seed, Duration: d, Round: round, Cluster: cluster, Faults: faults, History: history,
			RedisLinksOnly: redisOnly, KeepGoing: keepGoing, InOrder: inOrder})
		return
	}
	BuildGateway(t) // once, before the parallel runs
	for _, c := range shortRuns {
		t.Run(fmt.Sprintf("seed%d", c.seed), func(t *testing.T) {
			t.Parallel()
			Run(t, Options{Seed: c.seed, Duration: 6 * time.Second, Round: 6 * time.Second, Cluster: c.cluster,
				Faults: c.faults, InOrder: true})
		})
	}
}

// shortRuns are make test's short run: three seeds, one 6 s round each, in
// parallel, each injecting its faults in order. A 6 s round has room for two
// or three faults; the seed fixes their pauses and holds, and these lists
// were chosen (and checked with -v) so that together the three schedules
// inject every kind: Redis restarted empty and a reset (seed 1), a kill, a
// timeout and a stall (seed 2), a NATS restart, a latency and a SIGSTOP
// (seed 3, the Redis Cluster variant, which has no Redis restart).
var shortRuns = []struct {
	seed    uint64
	cluster bool
	faults  []string
}{
	{1, false, []string{"redis", "reset", "stop"}},
	{2, false, []string{"kill", "timeout", "stall"}},
	{3, true, []string{"nats", "latency", "stop"}},
}
