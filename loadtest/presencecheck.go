package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pgw/pgw/wire"
)

// maxBatch is the most users one subscribe frame may name (contract §6).
const maxBatch = 1000

// presenceReader reads users' presence through the subscribe reply of one
// WebSocket connection (subscribe, read the reply's PRESENCE list,
// unsubscribe), a batch of up to 1000 users per round trip.
type presenceReader struct {
	c *Client
}

// openPresenceReader connects to target as user sub of cfg's tenant.
func openPresenceReader(ctx context.Context, cn *connector, cfg Config, target, sub string) (*presenceReader, error) {
	tok, err := Token(cfg.Secret, cfg.Tenant, sub, nil, "", time.Hour)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, err := cn.Dial(dctx, DialSpec{Target: target, Token: tok, Window: "main", Device: wire.DeviceDesktop})
	if err != nil {
		return nil, fmt.Errorf("presence reader: %w", err)
	}
	return &presenceReader{c: c}, nil
}

// Read returns the presence of each user id.
func (p *presenceReader) Read(ctx context.Context, users []string) (map[string]wire.Presence, error) {
	out := make(map[string]wire.Presence, len(users))
	for lo := 0; lo < len(users); lo += maxBatch {
		batch := users[lo:min(lo+maxBatch, len(users))]
		id := p.c.NextID()
		f, err := p.c.Request(ctx, id, wire.SubscribeFrame{Type: wire.TypeSubscribe, ID: id, Users: batch})
		if err != nil {
			return out, fmt.Errorf("subscribe: %w", err)
		}
		var list []wire.Presence
		if err := json.Unmarshal(f.Presence, &list); err != nil {
			return out, fmt.Errorf("subscribe reply: presence: %w", err)
		}
		for _, x := range list {
			out[x.User] = x
		}
		id = p.c.NextID()
		if _, err := p.c.Request(ctx, id, wire.SubscribeFrame{Type: wire.TypeUnsubscribe, ID: id, Users: batch}); err != nil {
			return out, fmt.Errorf("unsubscribe: %w", err)
		}
	}
	return out, nil
}

// Close closes the reader's connection.
func (p *presenceReader) Close() { p.c.Close() }

// converge reads the users' presence until judge accepts every one or the
// deadline passes; it returns the users still wrong, with why.
func (p *presenceReader) converge(ctx context.Context, users []string, within time.Duration, judge func(user string, x wire.Presence, ok bool) string) map[string]string {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	wrong := map[string]string{}
	pending := users
	for {
		got, err := p.Read(ctx, pending)
		var still []string
		for _, u := range pending {
			x, ok := got[u]
			why := judge(u, x, ok)
			if err != nil && !ok {
				why = err.Error()
			}
			if why == "" {
				delete(wrong, u)
				continue
			}
			wrong[u] = why
			still = append(still, u)
		}
		if pending = still; len(pending) == 0 || sleep(ctx, 200*time.Millisecond) != nil {
			return wrong
		}
	}
}
