package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/pgw/pgw/ipt"
	"github.com/pgw/pgw/problem"
)

// ipt handles ipt.sync and ipt.event frames (bridge connections only).
func (c *conn) ipt(ctx context.Context, f *frame) (any, error) {
	if !c.bridge {
		return nil, problem.New(problem.Forbidden, "%s needs a token with role bridge", f.Type)
	}
	n := c.n
	if f.Type == typeIPTSync {
		var m ipt.Sync
		if err := decodeInto(f.raw, &m); err != nil {
			return nil, err
		}
		if err := m.Validate(); err != nil {
			return nil, err
		}
		if err := n.checkBridge(c.tenant, m.Bridge); err != nil {
			return nil, err
		}
		res, err := n.ipt.Sync(ctx, c.tenant, c.session, m, time.Now())
		if err != nil {
			return nil, err
		}
		n.publishIPT(c.tenant, res)
		return struct {
			Devices int `json:"devices"`
		}{len(m.Devices)}, nil
	}
	var e ipt.Event
	if err := decodeInto(f.raw, &e); err != nil {
		return nil, err
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if err := n.checkBridge(c.tenant, e.Bridge); err != nil {
		return nil, err
	}
	res, err := n.ipt.Event(ctx, c.tenant, c.session, e, time.Now())
	if err != nil {
		return nil, err
	}
	n.publishIPT(c.tenant, res)
	if res.Ignored {
		return struct {
			Ignored bool `json:"ignored"`
		}{true}, nil
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
