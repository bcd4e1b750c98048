package presence

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pgw/pgw/wire"
	"github.com/redis/go-redis/v9"
)

// userOp runs one per-user script and updates the tenant index after it.
func (r *Redis) userOp(ctx context.Context, op string, s *redis.Script, keys []string, args []any) (userReply, error) {
	b := r.batch()
	call := b.script(ctx, s, keys, args...)
	if err := b.exec(ctx); err != nil && !isScriptRefusal(err) {
		return userReply{}, r.fail(op, err)
	}
	rep, err := parseUserReply(call.cmd)
	if err != nil {
		return userReply{}, r.fail(op, err)
	}
	if rep.code == "ok" && !(rep.wasPresent && rep.isPresent) {
		// A user present before and after (every status change, most idle
		// and phone changes) keeps the index entry it has, so this second
		// round trip is skipped. The entry's score is the version that made
		// the user present: a removal only ever races the add of a later
		// return to present, which has its own higher score, so raising the
		// score here would order nothing. (A lost add, a crash between a
		// connect's script and its index update, is then mended by the
		// user's next connect or disconnect rather than by a status change.)
		b = r.batch()
		r.queueIndex(ctx, b, rep)
		if err := b.exec(ctx); err != nil {
			return userReply{}, r.fail(op, err)
		}
	}
	return rep, nil
}

// SetStatus sets the user's manual status and note (see Store).
func (r *Redis) SetStatus(ctx context.Context, tenant, user string, s wire.Status, note string, now time.Time) (Change, error) {
	return r.setStatus(ctx, "set status", tenant, user, s, note, "", now)
}

// RestoreStatus sets a lost manual status again unless the user chose one
// above since (see Store).
func (r *Redis) RestoreStatus(ctx context.Context, tenant, user string, s wire.Status, note string, since int64, now time.Time) (Change, error) {
	return r.setStatus(ctx, "restore status", tenant, user, s, note, strconv.FormatInt(since, 10), now)
}

// setStatus runs setstatus.lua; since is "" for the user's own choice.
func (r *Redis) setStatus(ctx context.Context, op, tenant, user string, s wire.Status, note, since string, now time.Time) (Change, error) {
	rep, err := r.userOp(ctx, op, r.scripts.setStatus, r.keys.userKeys(tenant, user),
		r.userArgs(tenant, user, now, string(s), note, since))
	if err != nil {
		return Change{}, err
	}
	switch rep.code {
	case "offline":
		return Change{}, fmt.Errorf("user %q: %w", user, ErrOffline)
	case "chosen":
		return Change{}, fmt.Errorf("user %q: %w", user, ErrStatusChosen)
	}
	return rep.change, nil
}

// SetIdle sets one session's idle flag (see Store).
func (r *Redis) SetIdle(ctx context.Context, tenant, user, session string, idle bool, now time.Time) (Change, error) {
	flag := 0
	if idle {
		flag = 1
	}
	rep, err := r.userOp(ctx, "set idle", r.scripts.setIdle, r.keys.userKeys(tenant, user),
		r.userArgs(tenant, user, now, session, flag))
	if err != nil {
		return Change{}, err
	}
	if rep.code == "unknown_session" {
		return Change{}, fmt.Errorf("session %q: %w", session, ErrUnknownSession)
	}
	return rep.change, nil
}

// SetPhone replaces the user's telephony overlay (see Store).
func (r *Redis) SetPhone(ctx context.Context, tenant, user string, p *wire.Phone, now time.Time) (Change, error) {
	phone := ""
	if p != nil {
		b, err := json.Marshal(p)
		if err != nil {
			return Change{}, fmt.Errorf("presence: phone: %w", err)
		}
		phone = string(b)
	}
	rep, err := r.userOp(ctx, "set phone", r.scripts.setPhone, r.keys.userKeys(tenant, user),
		r.userArgs(tenant, user, now, phone))
	if err != nil {
		return Change{}, err
	}
	return rep.change, nil
}

// logoutAttempts bounds the re-reads of a session's connections while they
// keep changing under Logout.
const logoutAttempts = 10

// Logout ends a session at once and returns its connections (see Store).
func (r *Redis) Logout(ctx context.Context, tenant, user, session string, now time.Time) (Change, []ConnRef, error) {
	for range logoutAttempts {
		// Read the session's connections so the script can declare their keys.
		all, err := r.rdb.HGetAll(ctx, r.keys.user(tenant, user)).Result()
		if err != nil {
			return Change{}, nil, r.fail("logout", err)
		}
		keys := r.keys.userKeys(tenant, user)
		args := r.userArgs(tenant, user, now, session, LoggedOutTTL.Milliseconds())
		var marks []string
		for f, v := range all {
			conn, isConn := strings.CutPrefix(f, connField(""))
			if sid, _, ok := cutLast(v, "|"); isConn && ok && sid == session {
				keys = append(keys, r.keys.conn(tenant, user, conn))
				marks = append(marks, r.keys.loggedOut(tenant, user, conn))
				args = append(args, conn)
			}
		}
		keys = append(keys, marks...)
		rep, err := r.userOp(ctx, "logout", r.scripts.logout, keys, args)
		if err != nil {
			return Change{}, nil, err
		}
		switch rep.code {
		case "retry":
			continue
		case "unknown_session":
			return Change{}, nil, fmt.Errorf("session %q: %w", session, ErrUnknownSession)
		case "ok":
		default:
			return Change{}, nil, r.fail("logout", fmt.Errorf("unexpected script reply %q", rep.code))
		}
		var refs []ConnRef
		for i := 0; i+1 < len(rep.extra); i += 2 {
			refs = append(refs, ConnRef{Tenant: tenant, User: user, Session: session,
				Conn: replyString(rep.extra[i]), Node: replyString(rep.extra[i+1])})
		}
		sort.Slice(refs, func(i, j int) bool { return refs[i].Conn < refs[j].Conn })
		b := r.batch()
		for _, c := range refs {
			b.pipe.SRem(ctx, r.keys.nodeConns(c.Node), nodeMember(c))
			b.cmd()
		}
		if err := b.exec(ctx); err != nil {
			return Change{}, nil, r.fail("logout", err)
		}
		if err := r.releaseSessions(ctx, []endedSession{{tenant, user, session}}); err != nil {
			return Change{}, nil, r.fail("logout", err)
		}
		return rep.change, refs, nil
	}
	return Change{}, nil, r.fail("logout", fmt.Errorf("session %q: connections kept changing", session))
}

// cutLast splits s around the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// SessionOwner returns the owner of a live session (see Store).
func (r *Redis) SessionOwner(ctx context.Context, tenant, session string) (string, error) {
	v, err := r.rdb.Get(ctx, r.keys.sid(tenant, session)).Result()
	if err == redis.Nil {
		return "", fmt.Errorf("session %q: %w", session, ErrUnknownSession)
	}
	if err != nil {
		return "", r.fail("session owner", err)
	}
	t, u, ok := parseOwner(v)
	if !ok || t != tenant {
		return "", fmt.Errorf("session %q: %w", session, ErrUnknownSession)
	}
	// A binding outlives its session only after a crash; the session's own
	// state is the truth.
	live, err := r.rdb.HExists(ctx, r.keys.user(t, u), sessionField(session)).Result()
	if err != nil {
		return "", r.fail("session owner", err)
	}
	if !live {
		return "", fmt.Errorf("session %q: %w", session, ErrUnknownSession)
	}
	return u, nil
}

// Get returns a user's presence (see Store).
func (r *Redis) Get(ctx context.Context, tenant, user string) (wire.Presence, error) {
	ps, err := r.GetMany(ctx, tenant, []string{user})
	if err != nil {
		return wire.Presence{}, err
	}
	return ps[0], nil
}

// GetMany returns the presence of each user, in order, in one round trip.
// Calls of up to getGroupUsers users are coalesced with concurrent ones
// (group commit, redis_group.go): a reconnect storm's subscribes read their
// snapshots in a few pipelines instead of a round trip each. A larger call
// (a node re-reading what it watches) runs alone.
func (r *Redis) GetMany(ctx context.Context, tenant string, users []string) ([]wire.Presence, error) {
	if len(users) == 0 {
		return []wire.Presence{}, nil
	}
	var res getRes
	if len(users) > getGroupUsers {
		res = r.getMany(ctx, []getReq{{tenant, users}})[0]
	} else {
		res = r.gets.do(ctx, getReq{tenant, users})
	}
	return res.ps, res.err
}

// getGroupUsers is the largest GetMany that is coalesced with others.
const getGroupUsers = 16

// getReq and getRes are one GetMany call and its answer.
type getReq struct {
	tenant string
	users  []string
}

type getRes struct {
	ps  []wire.Presence
	err error
}

// getMany reads the users of every request in one pipeline. Each request
// stands alone, as if it had been sent by itself: it fails with the first
// error among its own commands (a lone pipeline's Exec returns just that),
// never with another request's.
func (r *Redis) getMany(ctx context.Context, reqs []getReq) []getRes {
	pipe := r.rdb.Pipeline()
	cmds := make([][]*redis.StringCmd, len(reqs))
	for i, q := range reqs {
		cmds[i] = make([]*redis.StringCmd, len(q.users))
		for j, u := range q.users {
			cmds[i][j] = pipe.HGet(ctx, r.keys.user(q.tenant, u), "p")
		}
	}
	_, _ = pipe.Exec(ctx) // every command carries its own error
	out := make([]getRes, len(reqs))
	for i, q := range reqs {
		out[i] = r.presences(q, cmds[i])
	}
	return out
}

// presences decodes one request's replies.
func (r *Redis) presences(q getReq, cmds []*redis.StringCmd) getRes {
	for _, c := range cmds {
		if err := c.Err(); err != nil && err != redis.Nil {
			return getRes{err: r.fail("get", err)}
		}
	}
	out := make([]wire.Presence, len(q.users))
	for i, u := range q.users {
		js, err := cmds[i].Result()
		if err == redis.Nil {
			out[i] = wire.OfflinePresence(q.tenant, u)
			continue
		}
		if err := wire.UnmarshalPresence([]byte(js), &out[i]); err != nil {
			return getRes{err: r.fail("get", fmt.Errorf("presence of %q: %w", u, err))}
		}
		if out[i].Devices == nil {
			out[i].Devices = []string{}
		}
	}
	return getRes{ps: out}
}

// staleIndexAge is how old a tenant index entry of an offline user must be
// before ListTenant drops it; younger entries may belong to a change still
// on its way (the index is updated just after the user's script).
const staleIndexAge = 10 * time.Second

// ListTenant returns every user of the tenant who is not offline, sorted
// by user.
func (r *Redis) ListTenant(ctx context.Context, tenant string) ([]wire.Presence, error) {
	start := time.Now()
	entries, err := r.rdb.ZRangeWithScores(ctx, r.keys.tenant(tenant), 0, -1).Result()
	if err != nil {
		return nil, r.fail("list tenant", err)
	}
	users := make([]string, len(entries))
	for i, z := range entries {
		users[i], _ = z.Member.(string)
	}
	ps, err := r.GetMany(ctx, tenant, users)
	if err != nil {
		return nil, err
	}
	out := []wire.Presence{}
	b := r.batch()
	for i, p := range ps {
		if p.Status != wire.Offline {
			out = append(out, p)
			continue
		}
		// The index said present but the user is offline: an update that
		// lost a race, or a crash between a script and its index update.
		bound := max(p.Version, start.Add(-staleIndexAge).UnixMicro())
		if entries[i].Score <= float64(bound) {
			b.script(ctx, r.scripts.zremIfLE, []string{r.keys.tenant(tenant)}, users[i], bound)
		}
	}
	if err := b.exec(ctx); err != nil {
		return nil, r.fail("list tenant", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].User < out[j].User })
	return out, nil
}
