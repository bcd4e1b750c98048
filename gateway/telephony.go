package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/pgw/pgw/gateway/auth"
	"github.com/pgw/pgw/ipt"
	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/wire"
)

// mayReport is the one rule for the bridge ids a token may report, over
// WebSocket and HTTP: its sub or its bridges claim (auth.Claims.ReportsFor),
// then the tenant policy's bridges (checkBridge, contract §9).
func (n *Node) mayReport(cl auth.Claims, bridge string) error {
	if !cl.ReportsFor(bridge) {
		return problem.New(problem.Forbidden, "bridge %s: this token reports only for bridge %s (its sub) or those of its bridges claim", quote(bridge), quote(cl.Subject))
	}
	return n.checkBridge(cl.Tenant, bridge)
}

// ipt handles ipt.sync and ipt.event frames (bridge connections only).
func (c *conn) ipt(ctx context.Context, f *frame) (reply, error) {
	if !c.bridge {
		return nil, problem.New(problem.Forbidden, "%s needs a token with role bridge", f.Type)
	}
	n := c.n
	c.mu.Lock()
	claims := c.ext.claims // the current token: a refresh applies at once
	c.mu.Unlock()
	if f.Type == wire.TypeIPTSync {
		var m ipt.Sync
		if err := decodeInto(f.raw, &m); err != nil {
			return nil, err
		}
		if err := m.Validate(); err != nil {
			return nil, err
		}
		if err := n.mayReport(claims, m.Bridge); err != nil {
			return nil, err
		}
		res, err := n.ipt.Sync(ctx, c.tenant, c.session, m, time.Now())
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.ext.iptSequence == nil {
			c.ext.iptSequence = map[string]int64{}
		}
		c.ext.iptSequence[m.Bridge] = res.Sequence
		c.mu.Unlock()
		n.publishIPT(c.tenant, res)
		return &syncOK{Devices: len(m.Devices)}, nil
	}
	var e ipt.Event
	if err := decodeInto(f.raw, &e); err != nil {
		return nil, err
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if err := n.mayReport(claims, e.Bridge); err != nil {
		return nil, err
	}
	c.mu.Lock()
	sequence := c.ext.iptSequence[e.Bridge]
	c.mu.Unlock()
	res, err := n.ipt.Event(ctx, c.tenant, c.session, sequence, e, time.Now())
	if err != nil {
		return nil, err
	}
	n.publishIPT(c.tenant, res)
	if res.Ignored {
		return &eventOK{Ignored: true}, nil
	}
	return nil, nil
}

// decodeInto decodes a frame or body into v, naming a field of the wrong
// JSON type.
func decodeInto(data []byte, v any) error {
	err := json.Unmarshal(data, v)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typeErr):
		return problem.Field(typeErr.Field, "must be %s, got %s", jsonKind(typeErr.Type.String()), typeErr.Value)
	}
	return problem.New(problem.MalformedFrame, "invalid JSON: %v", err)
}

// publishIPT publishes what a telephony message changed: presence (phone
// overlay) changes and call events.
func (n *Node) publishIPT(tenant string, res ipt.Result) {
	for _, ch := range res.Changes {
		n.publish(ch)
	}
	for _, ev := range res.Calls {
		if err := n.bus.PublishCall(ev.Tenant, ev.User, mustJSON(ev)); err != nil {
			n.log.Warn("publish call failed", "tenant", tenant, "user", ev.User, "err", err)
		}
	}
}

// expireHTTPBridges turns the devices of silent HTTP-only bridges unknown.
func (n *Node) expireHTTPBridges(ctx context.Context, now time.Time) {
	res, err := n.ipt.ExpireHTTPBridges(ctx, now)
	if err != nil {
		n.log.Warn("telephony: HTTP bridge expiry failed", "err", err)
		return
	}
	n.publishIPT("", res)
}
