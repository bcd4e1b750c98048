package presence

import (
	"context"
	"fmt"
	"time"

	"github.com/pgw/pgw/wire"
	"github.com/redis/go-redis/v9"
)

// connReq and connRes are one Connect or Disconnect in a group commit.
type connReq[T any] struct {
	conn T
	now  time.Time
}

type connRes struct {
	change Change
	err    error
}

// newConnGroups makes the group commits of Connect and Disconnect.
func (r *Redis) newConnGroups() {
	r.connects = &groupCommit[connReq[ConnInfo], connRes]{max: groupMax,
		flush: func(ctx context.Context, reqs []connReq[ConnInfo]) []connRes {
			conns, nows := make([]ConnInfo, len(reqs)), make([]time.Time, len(reqs))
			for i, q := range reqs {
				conns[i], nows[i] = q.conn, q.now
			}
			return zipResults(r.connectMany(ctx, conns, nows))
		}}
	r.disconnects = &groupCommit[connReq[ConnRef], connRes]{max: groupMax,
		flush: func(ctx context.Context, reqs []connReq[ConnRef]) []connRes {
			refs, nows := make([]ConnRef, len(reqs)), make([]time.Time, len(reqs))
			for i, q := range reqs {
				refs[i], nows[i] = q.conn, q.now
			}
			return zipResults(r.disconnectMany(ctx, refs, nows))
		}}
	r.gets = &groupCommit[getReq, getRes]{max: groupMax, flush: r.getMany}
}

// groupMax caps a coalesced batch of Connects or Disconnects.
const groupMax = 256

func zipResults(chs []Change, errs []error) []connRes {
	out := make([]connRes, len(chs))
	for i := range chs {
		out[i] = connRes{chs[i], errs[i]}
	}
	return out
}

// Connect registers an open connection (see Store). Concurrent calls are
// coalesced into one ConnectBatch (group commit).
func (r *Redis) Connect(ctx context.Context, c ConnInfo, now time.Time) (Change, error) {
	res := r.connects.do(ctx, connReq[ConnInfo]{c, now})
	return res.change, res.err
}

// ConnectBatch is Connect for many connections in three pipelined round
// trips instead of three each: a node re-asserting its connections after a
// Redis restart, or a load test. Result i belongs to conns[i].
func (r *Redis) ConnectBatch(ctx context.Context, conns []ConnInfo, now time.Time) ([]Change, []error) {
	return r.connectMany(ctx, conns, sameTime(now, len(conns)))
}

func sameTime(now time.Time, n int) []time.Time {
	nows := make([]time.Time, n)
	for i := range nows {
		nows[i] = now
	}
	return nows
}

// connectMany is ConnectBatch with a time per connection.
func (r *Redis) connectMany(ctx context.Context, conns []ConnInfo, nows []time.Time) ([]Change, []error) {
	chs := make([]Change, len(conns))
	errs := make([]error, len(conns))
	failAll := func(op string, err error) ([]Change, []error) {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = r.fail(op, err)
			}
		}
		return chs, errs
	}

	// 1. Bind each session to its user: SET NX GET claims a free id and shows
	// the owner of a taken one in one command.
	b := r.batch()
	binds := make([]*redis.StatusCmd, len(conns))
	for i, c := range conns {
		binds[i] = b.pipe.SetArgs(ctx, r.keys.sid(c.Tenant, c.Session), owner(c.Tenant, c.User), redis.SetArgs{Mode: "NX", Get: true})
		b.cmd()
	}
	if err := b.exec(ctx); err != nil {
		return failAll("connect", err)
	}
	claimed := make([]bool, len(conns))
	for i, c := range conns {
		old, err := binds[i].Result()
		switch {
		case err == redis.Nil:
			claimed[i] = true
		case err != nil:
			errs[i] = r.fail("connect", err)
		case old != owner(c.Tenant, c.User):
			if errs[i] = r.takeStaleBinding(ctx, c, old); errs[i] == nil {
				claimed[i] = true
			}
		}
	}

	// 2. Register the connection in its node's set first (a stale member is
	// harmless, a missing one would escape reaping), then run the script.
	b = r.batch()
	calls := make([]*scriptCall, len(conns))
	for i, c := range conns {
		if errs[i] != nil {
			continue
		}
		b.pipe.SAdd(ctx, r.keys.nodeConns(c.Node), nodeMember(c.Ref()))
		b.cmd()
		bridge := 0
		if c.Bridge {
			bridge = 1
		}
		keys := append(r.keys.userKeys(c.Tenant, c.User), r.keys.conn(c.Tenant, c.User, c.Conn),
			r.keys.loggedOut(c.Tenant, c.User, c.Conn))
		calls[i] = b.script(ctx, r.scripts.connect, keys, r.userArgs(c.Tenant, c.User, nows[i],
			c.Session, c.Conn, c.Node, c.Device, bridge, r.opt.MaxConnsFor(c.Tenant))...)
	}
	if err := b.exec(ctx); err != nil && !isScriptRefusal(err) {
		return failAll("connect", err)
	}

	// 3. Follow-ups: the tenant index, and undoing what a refused
	// connection left.
	b = r.batch()
	for i, c := range conns {
		if calls[i] == nil {
			continue
		}
		rep, err := parseUserReply(calls[i].cmd)
		if err != nil {
			errs[i] = r.fail("connect", err)
			continue
		}
		switch rep.code {
		case "ok":
			chs[i] = rep.change
			r.queueIndex(ctx, b, rep)
			if len(rep.extra) > 0 && replyInt(rep.extra[0]) == 1 {
				// The session is new: make sure its binding exists, since an
				// earlier run of it may have released the binding between our
				// step 1 and the script.
				b.pipe.SetNX(ctx, r.keys.sid(c.Tenant, c.Session), owner(c.Tenant, c.User), 0)
				b.cmd()
			}
		case "too_many", "logged_out":
			if rep.code == "logged_out" {
				errs[i] = fmt.Errorf("connection %q: %w", c.Conn, ErrLoggedOut)
			} else {
				n := int64(0)
				if len(rep.extra) > 0 {
					n = replyInt(rep.extra[0])
				}
				errs[i] = fmt.Errorf("user %q holds %d connections: %w", c.User, n, ErrTooManyConnections)
			}
			b.pipe.SRem(ctx, r.keys.nodeConns(c.Node), nodeMember(c.Ref()))
			b.cmd()
			if claimed[i] {
				b.script(ctx, r.scripts.delIfEq, []string{r.keys.sid(c.Tenant, c.Session)}, owner(c.Tenant, c.User))
			}
		default:
			errs[i] = r.fail("connect", fmt.Errorf("unexpected script reply %q", rep.code))
		}
	}
	if err := b.exec(ctx); err != nil {
		// The transitions happened; only the follow-ups failed. Report it on
		// the successful ones so the caller retries (Connect is idempotent).
		for i := range errs {
			if errs[i] == nil {
				errs[i] = r.fail("connect", err)
			}
		}
	}
	return chs, errs
}

// takeStaleBinding handles a session id bound to someone else: it is a
// conflict, unless that owner no longer has the session (a binding left by a
// crash between the script and its clean-up), which is then taken over.
func (r *Redis) takeStaleBinding(ctx context.Context, c ConnInfo, old string) error {
	conflict := fmt.Errorf("session %q: %w", c.Session, ErrSessionConflict)
	ot, ou, ok := parseOwner(old)
	if ok {
		live, err := r.rdb.HExists(ctx, r.keys.user(ot, ou), sessionField(c.Session)).Result()
		if err != nil {
			return r.fail("connect", err)
		}
		if live {
			return conflict
		}
	}
	// Take it over only while it still names the stale owner: delete if
	// equal, then claim; a claimant racing us wins and we report a conflict.
	if err := r.scripts.delIfEq.Run(ctx, r.rdb, []string{r.keys.sid(c.Tenant, c.Session)}, old).Err(); err != nil {
		return r.fail("connect", err)
	}
	took, err := r.rdb.SetNX(ctx, r.keys.sid(c.Tenant, c.Session), owner(c.Tenant, c.User), 0).Result()
	if err != nil {
		return r.fail("connect", err)
	}
	if took {
		return nil
	}
	return conflict
}

// isScriptRefusal reports a Redis error reply (as opposed to Redis not
// answering): those are read per command.
func isScriptRefusal(err error) bool { return err != nil && !redisUnavailable(err) }

// userArgs are ARGV of a per-user script: now, since, tenant, user, the
// version TTL in milliseconds, then the operation's own.
func (r *Redis) userArgs(tenant, user string, now time.Time, rest ...any) []any {
	return append([]any{now.UnixMicro(), wire.FormatSince(now), tenant, user, r.opt.VersionTTL.Milliseconds()}, rest...)
}

// queueIndex keeps the tenant index of present users in step with a change:
// a user who is present is (re)added with the change's version (ZADD GT: a
// late, older update never lowers it); a user who went offline is removed
// unless a later change (with a higher version) re-added them.
func (r *Redis) queueIndex(ctx context.Context, b *redisBatch, rep userReply) {
	if !rep.change.Changed {
		return
	}
	p := rep.change.Presence
	key := r.keys.tenant(p.Tenant)
	if rep.isPresent {
		b.pipe.ZAddGT(ctx, key, redis.Z{Score: float64(p.Version), Member: p.User})
		b.cmd()
	} else if rep.wasPresent {
		b.script(ctx, r.scripts.zremIfLE, []string{key}, p.User, p.Version)
	}
}

// Disconnect removes a connection (see Store). Concurrent calls are
// coalesced into one DisconnectBatch (group commit).
func (r *Redis) Disconnect(ctx context.Context, c ConnRef, now time.Time) (Change, error) {
	res := r.disconnects.do(ctx, connReq[ConnRef]{c, now})
	return res.change, res.err
}

// DisconnectBatch is Disconnect for many connections, pipelined. Result i
// belongs to refs[i].
func (r *Redis) DisconnectBatch(ctx context.Context, refs []ConnRef, now time.Time) ([]Change, []error) {
	return r.disconnectMany(ctx, refs, sameTime(now, len(refs)))
}

func (r *Redis) disconnectMany(ctx context.Context, refs []ConnRef, nows []time.Time) ([]Change, []error) {
	chs := make([]Change, len(refs))
	errs := make([]error, len(refs))
	drops, err := r.drop(ctx, refs, nows, r.opt.GraceFor)
	for i := range refs {
		if err != nil {
			errs[i] = r.fail("disconnect", err)
			continue
		}
		chs[i], errs[i] = drops[i].change, drops[i].err
	}
	return chs, errs
}

// dropped is the outcome of removing one connection.
type dropped struct {
	change  Change
	ended   bool // the session ended (grace 0 and it was its last connection)
	bridge  bool
	session string
	err     error
}

// drop removes connections. A session left without connections enters a
// grace of the length graceOf gives for its tenant, or ends at once when
// that is 0.
func (r *Redis) drop(ctx context.Context, refs []ConnRef, nows []time.Time, graceOf func(tenant string) time.Duration) ([]dropped, error) {
	out := make([]dropped, len(refs))
	b := r.batch()
	calls := make([]*scriptCall, len(refs))
	for i, c := range refs {
		var until int64
		if grace := graceOf(c.Tenant); grace > 0 {
			until = nows[i].Add(grace).UnixMicro()
			// Queue the grace before the script: if this node dies right after
			// the script, any node still expires the session. A queue entry for
			// a session that did not enter grace is settled as "gone".
			b.pipe.ZAdd(ctx, r.keys.grace(), redis.Z{Score: float64(until), Member: graceMember(c.Tenant, c.User, c.Session)})
			b.cmd()
		}
		calls[i] = b.script(ctx, r.scripts.disconnect,
			append(r.keys.userKeys(c.Tenant, c.User), r.keys.conn(c.Tenant, c.User, c.Conn)),
			r.userArgs(c.Tenant, c.User, nows[i], c.Conn, until)...)
		b.pipe.SRem(ctx, r.keys.nodeConns(c.Node), nodeMember(c))
		b.cmd()
	}
	if err := b.exec(ctx); err != nil && !isScriptRefusal(err) {
		return nil, err
	}
	b = r.batch()
	var ended []endedSession
	for i, c := range refs {
		rep, err := parseUserReply(calls[i].cmd)
		if err != nil {
			out[i].err = r.fail("disconnect", err)
			continue
		}
		if rep.code != "ok" || len(rep.extra) < 3 {
			out[i].err = r.fail("disconnect", fmt.Errorf("unexpected script reply %q", rep.code))
			continue
		}
		out[i] = dropped{change: rep.change, ended: replyInt(rep.extra[0]) == 1,
			bridge: replyInt(rep.extra[1]) == 1, session: replyString(rep.extra[2])}
		r.queueIndex(ctx, b, rep)
		if out[i].ended {
			ended = append(ended, endedSession{c.Tenant, c.User, out[i].session})
		}
	}
	r.queueRelease(ctx, b, ended)
	if err := b.exec(ctx); err != nil {
		return nil, err
	}
	if err := r.restoreLive(ctx, ended); err != nil {
		return nil, err
	}
	return out, nil
}

// endedSession names a session a script ended.
type endedSession struct{ tenant, user, session string }

// releaseSessions deletes the bindings of ended sessions, unless a
// connection of the same user brought the session back meanwhile (its
// binding is then restored), so SessionOwner and conflicts stay right.
func (r *Redis) releaseSessions(ctx context.Context, ended []endedSession) error {
	b := r.batch()
	r.queueRelease(ctx, b, ended)
	if err := b.exec(ctx); err != nil {
		return err
	}
	return r.restoreLive(ctx, ended)
}

// queueRelease adds to b the deletion of each ended session's binding, if
// it still names the session's user.
func (r *Redis) queueRelease(ctx context.Context, b *redisBatch, ended []endedSession) {
	for _, e := range ended {
		b.script(ctx, r.scripts.delIfEq, []string{r.keys.sid(e.tenant, e.session)}, owner(e.tenant, e.user))
	}
}

// restoreLive runs after the bindings were deleted and re-binds the
// sessions that are live again: a Connect of the same user whose binding
// check ran before the deletion and whose script ran after the end. It must
// be a later round trip than the deletion: on a cluster one pipeline's
// commands to different nodes run in no set order.
func (r *Redis) restoreLive(ctx context.Context, ended []endedSession) error {
	if len(ended) == 0 {
		return nil
	}
	b := r.batch()
	live := make([]*redis.BoolCmd, len(ended))
	for i, e := range ended {
		live[i] = b.pipe.HExists(ctx, r.keys.user(e.tenant, e.user), sessionField(e.session))
		b.cmd()
	}
	if err := b.exec(ctx); err != nil {
		return err
	}
	b = r.batch()
	for i, e := range ended {
		if live[i].Val() {
			b.pipe.SetNX(ctx, r.keys.sid(e.tenant, e.session), owner(e.tenant, e.user), 0)
			b.cmd()
		}
	}
	return b.exec(ctx)
}
