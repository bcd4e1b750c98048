package presence

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/pgw/pgw/internal/redisx"
)

// Redis is the production Store: the state of every user lives in Redis,
// shared by all nodes, and every transition is one atomic Lua script on the
// user's keys (lua/*.lua). The key layout is documented in docs/redis.md.
type Redis struct {
	rdb     redis.UniversalClient
	opt     Options
	keys    redisKeys
	scripts redisScripts

	// connects, disconnects and small reads (GetMany) coalesce concurrent
	// calls (redis_group.go).
	connects    *groupCommit[connReq[ConnInfo], connRes]
	disconnects *groupCommit[connReq[ConnRef], connRes]
	gets        *groupCommit[getReq, getRes]

	mu sync.Mutex
	// beaten holds the nodes this store recorded a heartbeat for: a node
	// whose heartbeat key vanished although it beat before lost its state
	// (Redis restarted empty) and is told to re-assert its connections.
	beaten map[string]bool

	// afterReapMark, when set (tests only), runs between marking a dead
	// node reaped and removing its connections.
	afterReapMark func(node string)
}

var _ Store = (*Redis)(nil)

// NewRedis returns a Store on client, which it owns from now on (Close
// closes it). Zero fields of opt take the defaults of DefaultOptions, except
// Grace: a zero grace ends sessions at once, as in Memory. It loads the
// scripts, so it fails (wrapping ErrUnavailable) when Redis does not answer.
func NewRedis(ctx context.Context, client redis.UniversalClient, opt Options) (*Redis, error) {
	def := DefaultOptions()
	if opt.Prefix == "" {
		opt.Prefix = def.Prefix
	}
	if opt.NodeTTL <= 0 {
		opt.NodeTTL = def.NodeTTL
	}
	if opt.MaxConnsPerUser <= 0 {
		opt.MaxConnsPerUser = def.MaxConnsPerUser
	}
	if opt.VersionTTL <= 0 {
		opt.VersionTTL = def.VersionTTL
	}
	scripts, err := loadScripts()
	if err != nil {
		return nil, fmt.Errorf("presence: lua scripts: %w", err)
	}
	r := &Redis{rdb: client, opt: opt, keys: redisKeys{redisx.NewKeys(opt.Prefix)}, scripts: scripts, beaten: map[string]bool{}}
	r.newConnGroups()
	// Loading up front saves each script's first EVAL; on a cluster,
	// ScriptLoad reaches every master.
	for _, s := range scripts.all() {
		if err := s.Load(ctx, client).Err(); err != nil {
			return nil, r.fail("load scripts", err)
		}
	}
	return r, nil
}

// NewRedisClient opens a client for PGW_REDIS_URL: "redis://host:port/db"
// (or rediss://, with the options of redis.ParseURL) gives a single-node
// client; several comma-separated "host:port" (scheme optional) give a
// Redis Cluster client.
func NewRedisClient(rawURL string) (redis.UniversalClient, error) {
	rawURL = strings.TrimSpace(rawURL)
	if rawURL == "" {
		return nil, errors.New("presence: empty Redis URL")
	}
	if strings.Contains(rawURL, ",") {
		var addrs []string
		for _, a := range strings.Split(rawURL, ",") {
			a = strings.TrimSpace(a)
			if a == "" {
				continue
			}
			if strings.Contains(a, "://") {
				u, err := url.Parse(a)
				if err != nil {
					return nil, fmt.Errorf("presence: Redis cluster address %q: %w", a, err)
				}
				a = u.Host
			}
			if !strings.Contains(a, ":") {
				return nil, fmt.Errorf("presence: Redis cluster address %q: want host:port", a)
			}
			addrs = append(addrs, a)
		}
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs,
			PipelineReadBufferSize: pipelineBuffer, PipelineWriteBufferSize: pipelineBuffer}), nil
	}
	if !strings.Contains(rawURL, "://") {
		rawURL = "redis://" + rawURL
	}
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("presence: Redis URL: %w", err)
	}
	if o.PipelineReadBufferSize == 0 { // the URL's pipeline_read_buffer_size wins
		o.PipelineReadBufferSize = pipelineBuffer
	}
	if o.PipelineWriteBufferSize == 0 {
		o.PipelineWriteBufferSize = pipelineBuffer
	}
	return redis.NewClient(o), nil
}

// pipelineBuffer sizes the read and write buffers of go-redis's pipeline
// pool (its default is 128 KiB each, on each of up to 10 connections: 2.5
// MiB a client, counted in the GC's heap goal even where untouched). The
// store's pipelines are group commits of a few connects' scripts, well
// under it; a larger batch only takes another read or write call.
const pipelineBuffer = 32 << 10

// Ping reports whether Redis answers (readiness).
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.rdb.Ping(ctx).Err(); err != nil {
		return r.fail("ping", err)
	}
	return nil
}

// Close closes the Redis client.
func (r *Redis) Close() error { return r.rdb.Close() }

// fail wraps err with what the store was doing; errors of Redis not
// answering (redisx.Unavailable: network, timeouts, a cluster or a replica
// not ready) also wrap ErrUnavailable so callers retry and re-assert.
func (r *Redis) fail(op string, err error) error {
	if redisUnavailable(err) {
		return fmt.Errorf("presence: redis %s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("presence: redis %s: %w", op, err)
}

// redisUnavailable is the one rule of which Redis failures are outages.
func redisUnavailable(err error) bool { return redisx.Unavailable(err) }
