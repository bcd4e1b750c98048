package gateway

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pgw/pgw/ipt"
	"github.com/pgw/pgw/presence"
)

// openStores opens the presence store and the telephony state: Redis when
// PGW_REDIS_URL is set (shared by all nodes; the presence store owns the
// client and closes it), in-process otherwise.
func openStores(ctx context.Context, cfg Config, opt presence.Options) (presence.Store, ipt.StateStore, redis.UniversalClient, error) {
	if cfg.RedisURL == "" {
		return presence.NewMemory(opt), ipt.NewMemoryState(), nil, nil
	}
	client, err := presence.NewRedisClient(cfg.RedisURL)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("PGW_REDIS_URL: %w", err)
	}
	st, err := presence.NewRedis(ctx, client, opt)
	if err != nil {
		_ = client.Close()
		return nil, nil, nil, fmt.Errorf("PGW_REDIS_URL: %w", err)
	}
	return st, ipt.NewRedisState(client, cfg.Prefix), client, nil
}

// pendingDrops are disconnects the store did not take (it was down), and
// the second undo of a refused hello; the heartbeat loop retries them, so no
// connection key outlives its socket.
type pendingDrops struct {
	mu   sync.Mutex
	refs []pendingDrop
}

// pendingDrop is one disconnect to send, not before notBefore.
type pendingDrop struct {
	ref       presence.ConnRef
	notBefore time.Time
}

func (p *pendingDrops) add(r presence.ConnRef) { p.addAt(r, time.Time{}) }

// addAt queues r for the first heartbeat at or after notBefore.
func (p *pendingDrops) addAt(r presence.ConnRef, notBefore time.Time) {
	p.mu.Lock()
	p.refs = append(p.refs, pendingDrop{r, notBefore})
	p.mu.Unlock()
}

// takeDue removes and returns the drops due by now.
func (p *pendingDrops) takeDue(now time.Time) []presence.ConnRef {
	p.mu.Lock()
	defer p.mu.Unlock()
	var due []presence.ConnRef
	keep := p.refs[:0]
	for _, d := range p.refs {
		if now.Before(d.notBefore) {
			keep = append(keep, d)
			continue
		}
		due = append(due, d.ref)
	}
	p.refs = keep
	return due
}

// retryDrops sends the pending disconnects that are due again.
func (n *Node) retryDrops(ctx context.Context, now time.Time) {
	for _, r := range n.pending.takeDue(now) {
		ch, err := n.store.Disconnect(ctx, r, now)
		if err != nil {
			n.pending.add(r)
			continue
		}
		n.publish(ch)
	}
}
