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
	raw := strings.TrimSpace(n.cfg.RedisURL)
	switch {
	case !n.ownStore:
		return "supplied by the embedder"
	case raw == "":
		return "in-process (this node only; PGW_REDIS_URL unset)"
	case strings.Contains(raw, ","):
		return fmt.Sprintf("Redis Cluster at %s (prefix %s)", strings.Join(hostsOf(raw), ", "), n.cfg.Prefix)
	}
	if !strings.Contains(raw, "://") {
		raw = "redis://" + raw
	}
	if o, err := redis.ParseURL(raw); err == nil {
		return fmt.Sprintf("Redis at %s db %d (prefix %s)", o.Addr, o.DB, n.cfg.Prefix)
	}
	return "Redis"
}

// hostsOf is the host:port of each URL or address of a comma-separated
// list, without user or password.
func hostsOf(list string) []string {
	var hosts []string
	for _, raw := range strings.Split(list, ",") {
		raw = strings.TrimSpace(raw)
		if u, err := url.Parse(raw); err == nil && u.Host != "" {
			raw = u.Host
		} else if i := strings.LastIndex(raw, "@"); i >= 0 {
			raw = raw[i+1:]
		}
		hosts = append(hosts, raw)
	}
	return hosts
}

// describeBus names the NATS in use for the start-up log, with no
// credentials: the embedded server (this node only) or the external URL.
func (n *Node) describeBus() string {
	if n.cfg.NATSURL == "" {
		// The embedded server listens on no port (in-process only).
		return "embedded NATS, in-process (this node only; PGW_NATS_URL unset)"
	}
	return fmt.Sprintf("NATS at %s (prefix %s)", strings.Join(hostsOf(n.cfg.NATSURL), ", "), n.cfg.Prefix)
}
