package presence_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pgw/pgw/internal/testenv"
	"github.com/pgw/pgw/presence/storetest"
	"github.com/redis/go-redis/v9"
)

// TestRedisClusterContract runs the whole contract suite on a three-master
// Redis Cluster: every multi-key script must keep to one slot, and the
// users of the suite spread over all three masters.
func TestRedisClusterContract(t *testing.T) {
	addrs := testenv.RedisCluster(t)
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
