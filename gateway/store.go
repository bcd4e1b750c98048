package gateway

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pgw/pgw/ipt"
	"github.com/pgw/pgw/presence"
)

// openStores opens the presence store and the telephony state: Redis when
// PGW_REDIS_URL is set (shared by all nodes; the presence store owns the
// client and closes it), in-process otherwise.
func openStores(ctx context.Context, cfg Config, opt presence.Options) (presence.Store, ipt.StateStore, error) {
	if cfg.RedisURL == "" {
		return presence.NewMemory(opt), ipt.NewMemoryState(), nil
	}
	client, err := presence.NewRedisClient(cfg.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("PGW_REDIS_URL: %w", err)
	}
	st, err := presence.NewRedis(ctx, client, opt)
	if err != nil {
		_ = client.Close()
		return nil, nil, fmt.Errorf("PGW_REDIS_URL: %w", err)
	}
	return st, ipt.NewRedisState(client, cfg.Prefix), nil
}

// pendingDrops are disconnects the store did not take (it was down); the
// heartbeat loop retries them, so no connection key outlives its socket.
type pendingDrops struct {
	mu   sync.Mutex
	refs []presence.ConnRef
}

func (p *pendingDrops) add(r presence.ConnRef) {
	p.mu.Lock()
	p.refs = append(p.refs, r)
	p.mu.Unlock()
}

func (p *pendingDrops) take() []presence.ConnRef {
	p.mu.Lock()
	defer p.mu.Unlock()
	refs := p.refs
	p.refs = nil
	return refs
}

// retryDrops sends the pending disconnects again.
func (n *Node) retryDrops(ctx context.Context, now time.Time) {
	for _, r := range n.pending.take() {
		ch, err := n.store.Disconnect(ctx, r, now)
		if err != nil {
			n.pending.add(r)
			continue
		}
		n.publish(ch)
	}
}
