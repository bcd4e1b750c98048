package gateway

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// describeStore names the presence store in use for the start-up log, with
// no credentials: "in-process (this node only)" or Redis at its addresses.
func (n *Node) describeStore() string {
	switch c := n.redis.(type) {
	case nil:
		if n.cfg.RedisURL == "" {
			return "in-process (this node only; PGW_REDIS_URL unset)"
		}
		return "supplied by the embedder"
	case *redis.ClusterClient:
		return fmt.Sprintf("Redis Cluster at %s (prefix %s)", strings.Join(c.Options().Addrs, ", "), n.cfg.Prefix)
	case *redis.Client:
		return fmt.Sprintf("Redis at %s db %d (prefix %s)", c.Options().Addr, c.Options().DB, n.cfg.Prefix)
	}
	return "Redis"
}

// describeBus names the NATS in use for the start-up log, with no
// credentials: the embedded server (this node only) or the external URL.
func (n *Node) describeBus() string {
	if n.cfg.NATSURL == "" {
		return "embedded NATS at " + n.bus.ClientURL() + " (this node only; PGW_NATS_URL unset)"
	}
	var hosts []string
	for _, raw := range strings.Split(n.cfg.NATSURL, ",") {
		raw = strings.TrimSpace(raw)
		if u, err := url.Parse(raw); err == nil && u.Host != "" {
			raw = u.Host
		} else if i := strings.LastIndex(raw, "@"); i >= 0 {
			raw = raw[i+1:]
		}
		hosts = append(hosts, raw)
	}
	return fmt.Sprintf("NATS at %s (prefix %s)", strings.Join(hosts, ", "), n.cfg.Prefix)
}
