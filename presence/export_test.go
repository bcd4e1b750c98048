package presence

import (
	"context"

	"github.com/pgw/pgw/wire"
)

// SetAfterReapMark makes r's reaper run f after it has marked a node
// reaped and before it removes the node's connections, so a test can put
// the node's own heartbeat in that window.
func SetAfterReapMark(r *Redis, f func(node string)) { r.afterReapMark = f }

// UserKey is the Redis key of a user's hash.
func UserKey(r *Redis, tenant, user string) string { return r.keys.user(tenant, user) }

// GetBatch reads two GetMany requests in one pipeline, as the group commit
// does with concurrent calls.
func GetBatch(ctx context.Context, r *Redis, tenant string, a, b []string) (pa, pb []wire.Presence, ea, eb error) {
	res := r.getMany(ctx, []getReq{{tenant, a}, {tenant, b}})
	return res[0].ps, res[1].ps, res[0].err, res[1].err
}
