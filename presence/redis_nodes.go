package presence

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// expireBatch is how many due grace entries ExpireDue handles per round trip.
const expireBatch = 256

// ExpireDue ends the sessions whose grace ran out by now (see Store). Any
// node may call it: the queue is shared, the user's script decides, and a
// queue entry is settled only while it has the score it was read with, so
// two nodes expiring at once end each session once.
func (r *Redis) ExpireDue(ctx context.Context, now time.Time) ([]Ended, error) {
	var out []Ended
	upTo := strconv.FormatInt(now.UnixMicro(), 10)
	// Each round settles or re-queues (later than now) what it read, so the
	// loop ends; the bound guards against a queue refilled faster than that.
	for round := 0; round < 1000; round++ {
		due, err := r.rdb.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: r.keys.grace(), Start: "-inf", Stop: upTo,
			ByScore: true, Count: expireBatch}).Result()
		if err != nil {
			return out, r.fail("expire", err)
		}
		if len(due) == 0 {
			return out, nil
		}
		b := r.batch()
		calls := make([]*scriptCall, len(due))
		members := make([]string, len(due))
		for i, z := range due {
			members[i], _ = z.Member.(string)
			t, u, s, ok := parseGraceMember(members[i])
			if !ok {
				continue
			}
			calls[i] = b.script(ctx, r.scripts.expire, r.keys.userKeys(t, u), r.userArgs(t, u, now, s)...)
		}
		if err := b.exec(ctx); err != nil && !isScriptRefusal(err) {
			return out, r.fail("expire", err)
		}
		settle := r.batch()
		var ended []endedSession
		for i, z := range due {
			requeue := ""
			if calls[i] != nil {
				rep, err := parseUserReply(calls[i].cmd)
				if err != nil {
					return out, r.fail("expire", err)
				}
				switch rep.code {
				case "pending":
					if len(rep.extra) > 0 {
						requeue = replyString(rep.extra[0])
					}
				case "ok":
					t, u, s, _ := parseGraceMember(members[i])
					bridge := len(rep.extra) > 0 && replyInt(rep.extra[0]) == 1
					out = append(out, Ended{Tenant: t, User: u, Session: s, Bridge: bridge, Change: rep.change})
					ended = append(ended, endedSession{t, u, s})
					r.queueIndex(ctx, settle, rep)
				}
			}
			settle.script(ctx, r.scripts.graceSettle, []string{r.keys.grace()}, members[i],
				strconv.FormatFloat(z.Score, 'f', 0, 64), requeue)
		}
		r.queueRelease(ctx, settle, ended)
		if err := settle.exec(ctx); err != nil {
			return out, r.fail("expire", err)
		}
		if err := r.restoreLive(ctx, ended); err != nil {
			return out, r.fail("expire", err)
		}
		if len(due) < expireBatch {
			return out, nil
		}
	}
	return out, nil
}

// reapedMarkerTTL is how long a reaped node's marker waits for the node to
// come back and learn it was reaped.
const reapedMarkerTTL = 24 * time.Hour

// Heartbeat records that node is alive (see Store).
func (r *Redis) Heartbeat(ctx context.Context, node string, now time.Time) (bool, error) {
	r.mu.Lock()
	seen := r.beaten[node]
	r.mu.Unlock()
	seenArg := 0
	if seen {
		seenArg = 1
	}
	b := r.batch()
	call := b.script(ctx, r.scripts.heartbeat, []string{r.keys.node(node), r.keys.reaped(node)},
		now.UnixMicro(), r.opt.NodeTTL.Milliseconds(), seenArg)
	// The registry's score is the caller's clock, like every time the store
	// compares (grace, ExpireDue): ReapDeadNodes decides with its own now.
	b.pipe.ZAdd(ctx, r.keys.nodes(), redis.Z{Score: float64(now.UnixMicro()), Member: node})
	b.cmd()
	if err := b.exec(ctx); err != nil {
		return false, r.fail("heartbeat", err)
	}
	alive, err := call.cmd.Int64()
	if err != nil {
		return false, r.fail("heartbeat", err)
	}
	r.mu.Lock()
	r.beaten[node] = true
	r.mu.Unlock()
	return alive == 1, nil
}

// ReapDeadNodes removes the connections of nodes whose heartbeat lapsed
// (see Store). A lease lets one node reap at a time; the others return
// nothing and try again on their next tick.
func (r *Redis) ReapDeadNodes(ctx context.Context, now time.Time) ([]Ended, error) {
	token := make([]byte, 12)
	_, _ = rand.Read(token)
	lease := hex.EncodeToString(token)
	got, err := r.rdb.SetNX(ctx, r.keys.reaper(), lease, r.opt.NodeTTL).Result()
	if err != nil {
		return nil, r.fail("reap", err)
	}
	if !got {
		return nil, nil
	}
	defer func() {
		// Released with a fresh context: the caller's may be done already.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = r.scripts.delIfEq.Run(rctx, r.rdb, []string{r.keys.reaper()}, lease).Err()
	}()
	cutoff := now.Add(-r.opt.NodeTTL).UnixMicro()
	dead, err := r.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: r.keys.nodes(), Start: "-inf",
		Stop: strconv.FormatInt(cutoff, 10), ByScore: true}).Result()
	if err != nil {
		return nil, r.fail("reap", err)
	}
	var out []Ended
	for _, node := range dead {
		// Unregister only if no heartbeat came in since the read.
		removed, err := r.scripts.zremIfLE.Run(ctx, r.rdb, []string{r.keys.nodes()}, node, cutoff).Int64()
		if err != nil {
			return out, r.fail("reap", err)
		}
		if removed == 0 {
			continue
		}
		if err := r.rdb.Set(ctx, r.keys.reaped(node), now.UnixMicro(), reapedMarkerTTL).Err(); err != nil {
			return out, r.fail("reap", err)
		}
		if r.afterReapMark != nil {
			r.afterReapMark(node)
		}
		ended, err := r.removeNodeConns(ctx, node, now)
		out = append(out, ended...)
		if err != nil {
			return out, err
		}
		// The node may have come back while its connections were removed:
		// its heartbeat then consumed the mark and re-asserted connections
		// that the loop above removed again. Mark it once more, so its next
		// heartbeat re-asserts what it really holds (a dead node never
		// reads the mark; it expires).
		if err := r.rdb.Set(ctx, r.keys.reaped(node), now.UnixMicro(), reapedMarkerTTL).Err(); err != nil {
			return out, r.fail("reap", err)
		}
	}
	return out, nil
}

// RemoveNode removes every connection of node at once (see Store).
func (r *Redis) RemoveNode(ctx context.Context, node string, now time.Time) ([]Ended, error) {
	b := r.batch()
	b.pipe.ZRem(ctx, r.keys.nodes(), node)
	b.pipe.Del(ctx, r.keys.node(node))
	b.cmd()
	if err := b.exec(ctx); err != nil {
		return nil, r.fail("remove node", err)
	}
	r.mu.Lock()
	delete(r.beaten, node)
	r.mu.Unlock()
	return r.removeNodeConns(ctx, node, now)
}

// reapBatch is how many connections of a dead node are removed per round trip.
const reapBatch = 256

// removeNodeConns drops every connection in node's set with no grace.
func (r *Redis) removeNodeConns(ctx context.Context, node string, now time.Time) ([]Ended, error) {
	var out []Ended
	key := r.keys.nodeConns(node)
	for {
		// Every round removes what it read from the set, so the loop ends.
		members, err := r.rdb.SRandMemberN(ctx, key, reapBatch).Result()
		if err != nil {
			return out, r.fail("remove node", err)
		}
		if len(members) == 0 {
			return out, nil
		}
		var refs []ConnRef
		var bad []any
		for _, m := range members {
			if c, ok := parseNodeMember(node, m); ok {
				refs = append(refs, c)
			} else {
				bad = append(bad, m)
			}
		}
		if len(bad) > 0 {
			if err := r.rdb.SRem(ctx, key, bad...).Err(); err != nil {
				return out, r.fail("remove node", err)
			}
		}
		drops, err := r.drop(ctx, refs, sameTime(now, len(refs)), noGrace)
		if err != nil {
			return out, r.fail("remove node", err)
		}
		for i, d := range drops {
			if d.err != nil {
				return out, d.err
			}
			if d.ended {
				out = append(out, Ended{Tenant: refs[i].Tenant, User: refs[i].User, Session: d.session,
					Bridge: d.bridge, Change: d.change})
			}
		}
	}
}

// String names the store in logs.
func (r *Redis) String() string { return fmt.Sprintf("redis(prefix=%s)", r.opt.Prefix) }

// noGrace ends sessions at once, whatever their tenant (a dead node's).
func noGrace(string) time.Duration { return 0 }
