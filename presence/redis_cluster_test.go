package presence_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgw/pgw/internal/testenv"
	"github.com/pgw/pgw/presence/storetest"
	"github.com/redis/go-redis/v9"
)

// startCluster starts a real Redis Cluster of three masters, private to t,
// and returns its seed addresses.
func startCluster(t *testing.T) []string {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redis-cli not found on PATH (needed to create the test cluster): install redis-tools or redis-server (`apt-get install redis-server`)")
	}
	var addrs []string
	for range 3 {
		dir := t.TempDir()
		srv := testenv.Redis(t, "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			// An explicit bus port: the default (port+10000) may be taken or out of range.
			"--cluster-port", strconv.Itoa(testenv.FreePort(t)),
			"--cluster-node-timeout", "2000")
		addrs = append(addrs, srv.Addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		testenv.WaitFor(t, 30*time.Second, func() error {
			info, err := c.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:3") {
				return fmt.Errorf("%s not ready:\n%s", a, info)
			}
			return nil
		})
		c.Close()
	}
	return addrs
}

// TestRedisClusterContract runs the whole contract suite on a three-master
// Redis Cluster: every multi-key script must keep to one slot, and the
// users of the suite spread over all three masters.
func TestRedisClusterContract(t *testing.T) {
	addrs := startCluster(t)
	url := strings.Join(addrs, ",")
	storetest.Run(t, redisFactory(url))

	// The keys really are spread: every master holds some.
	s := newRedisStore(t, url, storetest.Options())
	ctx := ctxT(t)
	now := time.Now()
	for i := range 30 {
		must(s.Connect(ctx, ci(fmt.Sprintf("u%d", i), fmt.Sprintf("s%d", i), fmt.Sprintf("c%d", i), "n1"), now))(t)
	}
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		n := must(c.DBSize(ctx).Result())(t)
		c.Close()
		if n == 0 {
			t.Errorf("master %s holds no key", a)
		}
	}
}
