package ipt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pgw/pgw/internal/redisx"
	"github.com/pgw/pgw/presence"
	"github.com/pgw/pgw/wire"
)

// redisState is the StateStore shared by all nodes. Keys (P is the prefix;
// the layout of redisx.Keys, the same as presence's):
//
//	P:ipt:devices:{T:U}        hash ext -> device JSON (the user's devices)
//	P:ipt:ext:{T}              hash ext -> user (the tenant's ext index)
//	P:ipt:bridge:{T}:B         hash seq, sequence, session (a bridge's sequence and binding)
//	P:ipt:bridge:{T}:B:exts    set of ext (the devices a bridge holds)
//	P:ipt:session:{T}:S        set of bridges bound to session S
//	P:ipt:http                 zset "T:B" -> last post, Unix ms (HTTP-only bridges)
//
// The user's devices share the user's hash tag {T:U} (contract §5); the
// tenant-level keys share {T}, so the seq check-and-set and the session
// unbinding run as single-slot scripts on Redis Cluster. Writes spanning
// both (PutDevice) are pipelined, not atomic: the ext index is the truth of
// ownership and readers tolerate a device missing from its user's hash.
type redisState struct {
	c    redis.UniversalClient
	keys redisx.Keys
}

// NewRedisState returns a StateStore on Redis (or Redis Cluster) with keys
// under prefix (PGW_PREFIX, default "pgw").
func NewRedisState(client redis.UniversalClient, prefix string) StateStore {
	if prefix == "" {
		prefix = presence.DefaultOptions().Prefix
	}
	return &redisState{c: client, keys: redisx.NewKeys(prefix)}
}

func (r *redisState) userKey(t, u string) string   { return r.keys.User("ipt:devices", t, u) }
func (r *redisState) extKey(t string) string       { return r.keys.Tenant("ipt:ext", t) }
func (r *redisState) bridgeKey(t, b string) string { return r.keys.Tenant("ipt:bridge", t, b) }
func (r *redisState) bridgeExtsKey(t, b string) string {
	return r.keys.Tenant("ipt:bridge", t, b, "exts")
}
func (r *redisState) sessionKey(t, s string) string { return r.keys.Tenant("ipt:session", t, s) }
func (r *redisState) httpKey() string               { return r.keys.Global("ipt:http") }

// unavailable wraps a Redis failure with what the store was doing; only an
// outage (redisx.Unavailable: Redis not answering, loading, failing over)
// wraps ErrUnavailable (503, retry). A reply a retry would not change
// (WRONGTYPE, a script error) stays a plain error: a bug or bad data, 500.
func unavailable(op string, err error) error {
	if redisx.Unavailable(err) {
		return fmt.Errorf("%s: %w (%w)", op, ErrUnavailable, err)
	}
	return fmt.Errorf("telephony state: redis %s: %w", op, err)
}

func (r *redisState) Device(ctx context.Context, tenant, ext string) (Device, bool, error) {
	user, err := r.c.HGet(ctx, r.extKey(tenant), ext).Result()
	if errors.Is(err, redis.Nil) {
		return Device{}, false, nil
	}
	if err != nil {
		return Device{}, false, unavailable("ext index", err)
	}
	raw, err := r.c.HGet(ctx, r.userKey(tenant, user), ext).Result()
	if errors.Is(err, redis.Nil) {
		// Index written, device not (yet, or a write was lost): the owner
		// is known, the state is not.
		return Device{Ext: ext, User: user, State: wire.PhoneUnknown}, true, nil
	}
	if err != nil {
		return Device{}, false, unavailable("device", err)
	}
	var d Device
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		return Device{}, false, fmt.Errorf("device %q: corrupt record: %w", ext, err)
	}
	d.Ext, d.User = ext, user
	return d, true, nil
}

func (r *redisState) PutDevice(ctx context.Context, tenant string, d Device) error {
	prev, had, err := r.Device(ctx, tenant, d.Ext)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		// Write the new home before the index, and drop the old one last:
		// a reader in between sees the old or the new device, never none.
		p.HSet(ctx, r.userKey(tenant, d.User), d.Ext, raw)
		p.HSet(ctx, r.extKey(tenant), d.Ext, d.User)
		p.SAdd(ctx, r.bridgeExtsKey(tenant, d.Bridge), d.Ext)
		if had && prev.User != d.User {
			p.HDel(ctx, r.userKey(tenant, prev.User), d.Ext)
		}
		if had && prev.Bridge != "" && prev.Bridge != d.Bridge {
			p.SRem(ctx, r.bridgeExtsKey(tenant, prev.Bridge), d.Ext)
		}
		return nil
	})
	if err != nil {
		return unavailable("put device", err)
	}
	return nil
}

func (r *redisState) UserDevices(ctx context.Context, tenant, user string) ([]Device, error) {
	all, err := r.c.HGetAll(ctx, r.userKey(tenant, user)).Result()
	if err != nil {
		return nil, unavailable("user devices", err)
	}
	out := make([]Device, 0, len(all))
	for ext, raw := range all {
		var d Device
		if err := json.Unmarshal([]byte(raw), &d); err != nil {
			return nil, fmt.Errorf("device %q: corrupt record: %w", ext, err)
		}
		d.Ext, d.User = ext, user
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ext < out[j].Ext })
	return out, nil
}

func (r *redisState) BridgeExts(ctx context.Context, tenant, bridge string) ([]string, error) {
	exts, err := r.c.SMembers(ctx, r.bridgeExtsKey(tenant, bridge)).Result()
	if err != nil {
		return nil, unavailable("bridge devices", err)
	}
	sort.Strings(exts)
	return exts, nil
}

// restartScript starts a new sequence: seq 0 and a new sequence id, above
// the last one and at least the caller's clock (ARGV[1], Unix µs), so ids
// keep rising when Redis lost the record.
var restartScript = redis.NewScript(`
local id = tonumber(ARGV[1])
local last = tonumber(redis.call('HGET', KEYS[1], 'sequence') or '0')
if id <= last then id = last + 1 end
redis.call('HSET', KEYS[1], 'seq', 0, 'sequence', id)
return id
`)

func (r *redisState) Restart(ctx context.Context, tenant, bridge string, now time.Time) (int64, error) {
	id, err := restartScript.Run(ctx, r.c, []string{r.bridgeKey(tenant, bridge)}, now.UnixMicro()).Int64()
	if err != nil {
		return 0, unavailable("restart seq", err)
	}
	return id, nil
}

// acceptScript is the seq check-and-set: two nodes handed the same resend
// (an HTTP retry) apply it once. ARGV[2] is the event's sequence id (0:
// unknown): an older one than the bridge's is refused, a newer one (the
// record was lost) starts that sequence.
var acceptScript = redis.NewScript(`
local last = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local id = tonumber(ARGV[2])
if id > 0 then
  local cur = tonumber(redis.call('HGET', KEYS[1], 'sequence') or '0')
  if id < cur then return 0 end
  if id > cur then
    last = 0
    redis.call('HSET', KEYS[1], 'sequence', ARGV[2])
  end
end
if tonumber(ARGV[1]) <= last then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[1])
return 1
`)

func (r *redisState) Accept(ctx context.Context, tenant, bridge string, seq, sequence int64) (bool, error) {
	n, err := acceptScript.Run(ctx, r.c, []string{r.bridgeKey(tenant, bridge)}, seq, sequence).Int()
	if err != nil {
		return false, unavailable("accept seq", err)
	}
	return n == 1, nil
}

func httpMember(t, b string) string { return t + ":" + b }

func (r *redisState) Bind(ctx context.Context, tenant, bridge, session string, now time.Time) error {
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		if session == "" {
			p.HDel(ctx, r.bridgeKey(tenant, bridge), "session")
			p.ZAdd(ctx, r.httpKey(), redis.Z{Score: float64(now.UnixMilli()), Member: httpMember(tenant, bridge)})
			return nil
		}
		p.HSet(ctx, r.bridgeKey(tenant, bridge), "session", session)
		p.SAdd(ctx, r.sessionKey(tenant, session), bridge)
		p.ZRem(ctx, r.httpKey(), httpMember(tenant, bridge))
		return nil
	})
	if err != nil {
		return unavailable("bind bridge", err)
	}
	return nil
}

// unbindScript clears a bridge's session binding only if it still names the
// ended session: the bridge may have reconnected on another session since,
// and of two callers only one unbinds.
var unbindScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'session') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'session')
  return 1
end
return 0
`)

func (r *redisState) TakeSession(ctx context.Context, tenant, session string) ([]string, error) {
	key := r.sessionKey(tenant, session)
	bridges, err := r.c.SMembers(ctx, key).Result()
	if err != nil {
		return nil, unavailable("session bridges", err)
	}
	sort.Strings(bridges)
	var out []string
	for _, b := range bridges {
		n, err := unbindScript.Run(ctx, r.c, []string{r.bridgeKey(tenant, b)}, session).Int()
		if err != nil {
			return nil, unavailable("unbind bridge", err)
		}
		if n == 1 {
			out = append(out, b)
		}
	}
	if err := r.c.Del(ctx, key).Err(); err != nil {
		return nil, unavailable("session bridges", err)
	}
	return out, nil
}

func (r *redisState) DueHTTP(ctx context.Context, cutoff time.Time) ([]BridgeRef, error) {
	members, err := r.c.ZRangeByScore(ctx, r.httpKey(), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(cutoff.UnixMilli(), 10),
	}).Result()
	if err != nil {
		return nil, unavailable("due bridges", err)
	}
	out := make([]BridgeRef, 0, len(members))
	for _, m := range members {
		t, b, ok := strings.Cut(m, ":")
		if !ok {
			continue // not ours: ids never hold ':'
		}
		out = append(out, BridgeRef{Tenant: t, Bridge: b})
	}
	return out, nil
}

// expireScript removes a bridge from the HTTP index only while it is still
// due: a post that raced with the expiry keeps it.
var expireScript = redis.NewScript(`
local seen = redis.call('ZSCORE', KEYS[1], ARGV[1])
if seen and tonumber(seen) <= tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
`)

func (r *redisState) ExpireHTTP(ctx context.Context, ref BridgeRef, cutoff time.Time) (bool, error) {
	n, err := expireScript.Run(ctx, r.c, []string{r.httpKey()}, httpMember(ref.Tenant, ref.Bridge), cutoff.UnixMilli()).Int()
	if err != nil {
		return false, unavailable("expire bridge", err)
	}
	return n == 1, nil
}
