package presence

import (
	"context"
	"embed"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/pgw/pgw/wire"
)

// luaFS holds the Lua scripts: one file per transition, each appended to
// common.lua, which holds the rules (see lua/common.lua for why Lua).
//
//go:embed lua/*.lua
var luaFS embed.FS

// redisScripts are the scripts of one Redis store.
type redisScripts struct {
	connect, disconnect, setStatus, setIdle, setPhone, logout, expire *redis.Script
	heartbeat, delIfEq, zremIfLE, graceSettle                         *redis.Script
}

func loadScripts() (redisScripts, error) {
	common, err := luaFS.ReadFile("lua/common.lua")
	if err != nil {
		return redisScripts{}, err
	}
	var firstErr error
	user := func(name string) *redis.Script {
		src, err := luaFS.ReadFile("lua/" + name + ".lua")
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return redis.NewScript(string(common) + "\n" + string(src))
	}
	alone := func(name string) *redis.Script {
		src, err := luaFS.ReadFile("lua/" + name + ".lua")
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return redis.NewScript(string(src))
	}
	s := redisScripts{
		connect:     user("connect"),
		disconnect:  user("disconnect"),
		setStatus:   user("setstatus"),
		setIdle:     user("setidle"),
		setPhone:    user("setphone"),
		logout:      user("logout"),
		expire:      user("expire"),
		heartbeat:   alone("heartbeat"),
		delIfEq:     alone("del_if_eq"),
		zremIfLE:    alone("zrem_if_le"),
		graceSettle: alone("grace_settle"),
	}
	return s, firstErr
}

func (s redisScripts) all() []*redis.Script {
	return []*redis.Script{s.connect, s.disconnect, s.setStatus, s.setIdle, s.setPhone, s.logout,
		s.expire, s.heartbeat, s.delIfEq, s.zremIfLE, s.graceSettle}
}

// scriptCall is one script run queued in a pipeline; it keeps its arguments
// so it can be re-run with EVAL when Redis lost its script cache.
type scriptCall struct {
	script *redis.Script
	keys   []string
	args   []any
	cmd    *redis.Cmd
}

// redisBatch is one pipeline of commands and scripts: the store's unit of a
// round trip. Scripts go out as EVALSHA; those Redis answers NOSCRIPT
// (restarted or flushed since) are re-run with Script.Run, which falls back
// to EVAL.
type redisBatch struct {
	r     *Redis
	pipe  redis.Pipeliner
	calls []*scriptCall
	n     int
}

func (r *Redis) batch() *redisBatch { return &redisBatch{r: r, pipe: r.rdb.Pipeline()} }

func (b *redisBatch) script(ctx context.Context, s *redis.Script, keys []string, args ...any) *scriptCall {
	c := &scriptCall{script: s, keys: keys, args: args}
	c.cmd = s.EvalSha(ctx, b.pipe, keys, args...)
	b.calls = append(b.calls, c)
	b.n++
	return c
}

// cmd notes that a plain command was queued on b.pipe.
func (b *redisBatch) cmd() { b.n++ }

// exec sends the batch. It returns the first error that is not redis.Nil;
// script errors are left on each call for the caller to read.
func (b *redisBatch) exec(ctx context.Context) error {
	if b.n == 0 {
		return nil
	}
	cmds, _ := b.pipe.Exec(ctx)
	for _, c := range b.calls {
		if redis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") {
			c.cmd = c.script.Run(ctx, b.r.rdb, c.keys, c.args...)
		}
	}
	for _, c := range cmds {
		err := c.Err()
		if err == nil || err == redis.Nil || redis.HasErrorPrefix(err, "NOSCRIPT") {
			continue
		}
		return err
	}
	for _, c := range b.calls {
		if err := c.cmd.Err(); err != nil && err != redis.Nil {
			return err
		}
	}
	return nil
}

// userReply is the decoded reply of a per-user transition script.
type userReply struct {
	code       string // "ok" or the refusal ("too_many", "offline", ...)
	change     Change
	wasPresent bool
	isPresent  bool
	extra      []any
}

// parseUserReply decodes {code, changed, presence JSON, was, is, extra...}.
func parseUserReply(cmd *redis.Cmd) (userReply, error) {
	vals, err := cmd.Slice()
	if err != nil {
		return userReply{}, err
	}
	if len(vals) == 0 {
		return userReply{}, fmt.Errorf("empty script reply")
	}
	code, _ := vals[0].(string)
	rep := userReply{code: code}
	if code != "ok" {
		rep.extra = vals[1:]
		return rep, nil
	}
	if len(vals) < 5 {
		return userReply{}, fmt.Errorf("short script reply (%d values)", len(vals))
	}
	rep.change.Changed = replyInt(vals[1]) == 1
	js, _ := vals[2].(string)
	if err := wire.UnmarshalPresence([]byte(js), &rep.change.Presence); err != nil {
		return userReply{}, fmt.Errorf("presence JSON from script: %w", err)
	}
	if rep.change.Presence.Devices == nil {
		rep.change.Presence.Devices = []string{}
	}
	rep.wasPresent = replyInt(vals[3]) == 1
	rep.isPresent = replyInt(vals[4]) == 1
	rep.extra = vals[5:]
	return rep, nil
}

// replyInt reads an integer that Lua returned as a number or a string.
func replyInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}

func replyString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return ""
}
