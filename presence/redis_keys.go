package presence

import (
	"encoding/json"
	"strings"

	"github.com/pgw/pgw/internal/redisx"
)

// redisKeys names every key of the store (docs/redis.md lists them), in the
// one layout of redisx.Keys: keys of one user carry the hash tag
// {tenant:user} and keys of one node the tag {node}, so the scripts that
// touch them together run on Redis Cluster.
type redisKeys struct{ k redisx.Keys }

// user is the hash of one user's whole state (fields in lua/common.lua).
func (k redisKeys) user(t, u string) string { return k.k.User("user", t, u) }

// Field names of sessions and connections in the user's hash.
func sessionField(session string) string { return "s:" + session }
func connField(conn string) string       { return "c:" + conn }

// conn is the key of one open connection (contract §5).
func (k redisKeys) conn(t, u, conn string) string { return k.k.User("conn", t, u, conn) }

// loggedOut marks a connection of a logged-out session (ErrLoggedOut),
// for LoggedOutTTL; in the user's slot, so the scripts can write and read it.
func (k redisKeys) loggedOut(t, u, conn string) string { return k.k.User("loggedout", t, u, conn) }

// userKeys are the KEYS every per-user script starts with.
func (k redisKeys) userKeys(t, u string) []string { return []string{k.user(t, u)} }

// sid binds a tenant's session id to its owner. Session ids are scoped by
// tenant (one tenant's id never collides with, nor reveals, another's); the
// hash tag {tenant:session} spreads the bindings over a cluster's slots.
func (k redisKeys) sid(tenant, session string) string { return k.k.Tagged("sid", tenant+":"+session) }

// tenant is the index of the tenant's present users (sorted set, score = the
// version that made them present).
func (k redisKeys) tenant(t string) string { return k.k.Tenant("tenant", t) }

// grace is the queue of sessions in grace (sorted set, score = when the
// grace ends in microseconds); any live node processes it.
func (k redisKeys) grace() string { return k.k.Global("grace") }

// nodes registers every node with its last heartbeat (sorted set, score in
// microseconds); node is its heartbeat key with a TTL of NodeTTL; nodeConns
// its open connections; reaped marks a node whose connections were reaped;
// reaper is the lease of the node currently reaping.
func (k redisKeys) nodes() string                { return k.k.Global("nodes") }
func (k redisKeys) node(node string) string      { return k.k.Tagged("node", node) }
func (k redisKeys) nodeConns(node string) string { return k.k.Tagged("nodeconns", node) }
func (k redisKeys) reaped(node string) string    { return k.k.Tagged("reaped", node) }
func (k redisKeys) reaper() string               { return k.k.Global("reaper") }

// owner is the value of a session binding.
func owner(tenant, user string) string { return tenant + ":" + user }

func parseOwner(v string) (tenant, user string, ok bool) {
	return strings.Cut(v, ":")
}

// nodeMember is a connection in its node's set: enough to remove it when the
// node dies.
func nodeMember(c ConnRef) string {
	b, _ := json.Marshal([4]string{c.Tenant, c.User, c.Session, c.Conn})
	return string(b)
}

func parseNodeMember(node, m string) (ConnRef, bool) {
	var f [4]string
	if err := json.Unmarshal([]byte(m), &f); err != nil {
		return ConnRef{}, false
	}
	return ConnRef{Tenant: f[0], User: f[1], Session: f[2], Conn: f[3], Node: node}, true
}

// graceMember is a session in the grace queue.
func graceMember(tenant, user, session string) string {
	b, _ := json.Marshal([3]string{tenant, user, session})
	return string(b)
}

func parseGraceMember(m string) (tenant, user, session string, ok bool) {
	var f [3]string
	if err := json.Unmarshal([]byte(m), &f); err != nil {
		return "", "", "", false
	}
	return f[0], f[1], f[2], true
}
