package tenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pgw/pgw/presence"
)

// Redis keeps policies in Redis, each tenant under its own hash tag so the
// policy and its history sit in one slot (Redis Cluster) and change in one
// script:
//
//	<prefix>:policy:{<tenant>}          hash: version, policy (JSON)
//	<prefix>:policy:{<tenant>}:history  list of Change JSON, newest first
//	<prefix>:policies                   set of tenants with a policy
//
// (<prefix>:tenant:{<tenant>} is the presence store's index of a tenant's
// present users.)
type Redis struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewRedis returns a Store on client (not owned: the caller closes it).
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	return &Redis{rdb: client, prefix: prefix}
}

var _ Store = (*Redis)(nil)

func (r *Redis) policyKey(t string) string  { return r.prefix + ":policy:{" + t + "}" }
func (r *Redis) historyKey(t string) string { return r.policyKey(t) + ":history" }
func (r *Redis) indexKey() string           { return r.prefix + ":policies" }

// putScript is the compare-and-set: the policy and its history entry are
// written only when the stored version is still the one the caller read,
// so of two writers with the same ETag exactly one wins.
var putScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'version') or '0'
if cur ~= ARGV[1] then
  return {'stale', cur}
end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'policy', ARGV[3])
redis.call('LPUSH', KEYS[2], ARGV[4])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[5]) - 1)
return {'ok', ARGV[2]}
`)

func (r *Redis) fail(op string, err error) error {
	return fmt.Errorf("tenant %s: %w: %w", op, ErrUnavailable, err)
}

func (r *Redis) Get(ctx context.Context, tenant string) (Record, error) {
	vals, err := r.rdb.HMGet(ctx, r.policyKey(tenant), "version", "policy").Result()
	if err != nil {
		return Record{}, r.fail("get", err)
	}
	rec := Record{Tenant: tenant}
	vs, _ := vals[0].(string)
	ps, _ := vals[1].(string)
	if vs == "" {
		return rec, nil
	}
	if rec.Version, err = strconv.ParseInt(vs, 10, 64); err != nil {
		return Record{}, fmt.Errorf("tenant %q: stored version %q: %w", tenant, vs, err)
	}
	if err := json.Unmarshal([]byte(ps), &rec.Policy); err != nil {
		return Record{}, fmt.Errorf("tenant %q: stored policy: %w", tenant, err)
	}
	return rec, nil
}

func (r *Redis) Put(ctx context.Context, tenant string, ifVersion int64, p Policy, who string, now time.Time) (Record, error) {
	cur, err := r.Get(ctx, tenant)
	if err != nil {
		return Record{}, err
	}
	if cur.Version != ifVersion {
		return cur, fmt.Errorf("tenant %q at version %d, not %d: %w", tenant, cur.Version, ifVersion, ErrStale)
	}
	// Listed first: a listed tenant without a policy reads as {}, a
	// policy missing from the index would escape export and start-up.
	if err := r.rdb.SAdd(ctx, r.indexKey(), tenant).Err(); err != nil {
		return Record{}, r.fail("put", err)
	}
	next := Record{Tenant: tenant, Version: presence.NextVersion(cur.Version, now), Policy: p}
	pol, err := json.Marshal(p)
	if err != nil {
		return Record{}, err
	}
	entry, err := json.Marshal(Change{Who: who, When: now.UTC(), Version: next.Version, Fields: Diff(cur.Policy, p)})
	if err != nil {
		return Record{}, err
	}
	res, err := putScript.Run(ctx, r.rdb, []string{r.policyKey(tenant), r.historyKey(tenant)},
		strconv.FormatInt(ifVersion, 10), strconv.FormatInt(next.Version, 10), pol, entry, HistoryKeep).StringSlice()
	if err != nil {
		return Record{}, r.fail("put", err)
	}
	if len(res) > 0 && res[0] == "stale" {
		// Another writer won between our read and the script.
		latest, gerr := r.Get(ctx, tenant)
		if gerr != nil {
			return Record{}, gerr
		}
		return latest, fmt.Errorf("tenant %q changed meanwhile (now version %d): %w", tenant, latest.Version, ErrStale)
	}
	return next, nil
}

func (r *Redis) History(ctx context.Context, tenant string, limit int) ([]Change, error) {
	if limit <= 0 || limit > HistoryKeep {
		limit = HistoryKeep
	}
	raw, err := r.rdb.LRange(ctx, r.historyKey(tenant), 0, int64(limit-1)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, r.fail("history", err)
	}
	out := make([]Change, 0, len(raw))
	for _, s := range raw {
		var c Change
		if err := json.Unmarshal([]byte(s), &c); err != nil {
			return nil, fmt.Errorf("tenant %q: stored history entry: %w", tenant, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func (r *Redis) Tenants(ctx context.Context) ([]string, error) {
	ts, err := r.rdb.SMembers(ctx, r.indexKey()).Result()
	if err != nil {
		return nil, r.fail("list", err)
	}
	sort.Strings(ts)
	return ts, nil
}
