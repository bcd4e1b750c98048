package testenv

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisCluster starts a real Redis Cluster of three masters (redis-server
// --cluster-enabled yes, joined with redis-cli --cluster create), private
// to t, waits until every master reports cluster_state:ok and returns their
// addresses (comma-join them for PGW_REDIS_URL).
func RedisCluster(t testing.TB) []string {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redis-cli not found on PATH (needed to create the test cluster): install redis-tools or redis-server (`apt-get install redis-server`)")
	}
	var addrs []string
	for range 3 {
		dir := t.TempDir()
		srv := Redis(t, "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			// An explicit bus port: the default (port+10000) may be taken or out of range.
			"--cluster-port", strconv.Itoa(FreePort(t)),
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
		WaitFor(t, 30*time.Second, func() error {
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
