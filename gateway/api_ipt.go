package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/pgw/pgw/gateway/auth"
	"github.com/pgw/pgw/ipt"
	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/wire"
)

// The telephony routes, for HTTP-only bridges (contract §7). They apply the
// same ipt.Service operations as the ipt.* frames, with session "" (an
// HTTP-only bridge), and every post is a heartbeat: the bridge counts as
// connected for PGW_BRIDGE_TTL after it.

// eventsBody is the body of POST /v1/ipt/events. Events are decoded one by
// one so a problem can name events[3].seq.
type eventsBody struct {
	Bridge string            `json:"bridge"`
	Events []json.RawMessage `json:"events"`
}

// eventsResult is the 202 answer of POST /v1/ipt/events.
type eventsResult struct {
	// Accepted counts the events applied, Ignored those whose seq was not
	// above the bridge's last accepted one (resends).
	Accepted int `json:"accepted"`
	Ignored  int `json:"ignored"`
}

// syncResult is the 202 answer of POST /v1/ipt/sync.
type syncResult struct {
	Devices int `json:"devices"`
}

// bridgeOnly refuses tokens without role bridge.
func bridgeOnly(cl auth.Claims, r *http.Request) error {
	if !cl.HasRole(auth.RoleBridge) {
		return problem.New(problem.Forbidden, "%s %s needs a token with role bridge", r.Method, r.URL.Path)
	}
	return nil
}

// iptEvents serves POST /v1/ipt/events. Every event is checked before any
// is applied; then they are applied in order. An event refused while
// applying (unknown_extension) stops the batch: the events before it were
// applied, and resending the whole batch is safe (their seq is ignored).
func (a *api) iptEvents(ctx context.Context, w http.ResponseWriter, r *http.Request, cl auth.Claims) error {
	if err := bridgeOnly(cl, r); err != nil {
		return err
	}
	events, bridge, err := a.decodeEvents(w, r)
	if err != nil {
		return err
	}
	if err := a.n.mayReport(cl, bridge); err != nil {
		return err
	}
	now := time.Now()
	if err := a.n.ipt.Heartbeat(ctx, cl.Tenant, bridge, now); err != nil {
		return err
	}
	var out eventsResult
	for i, e := range events {
		res, err := a.n.ipt.Event(ctx, cl.Tenant, "", 0, e, now)
		if err != nil {
			at := fmt.Sprintf("events[%d]", i)
			err = prefixFields(err, at)
			if p := problem.As(err); p != nil {
				if p.Code == problem.UnknownExtension {
					p.Errors = []problem.FieldError{{Field: at + ".ext", Reason: "is not known to the gateway: send the event with user, or POST /v1/ipt/sync first"}}
				}
				applied := " (nothing was applied)"
				if i > 0 {
					applied = fmt.Sprintf(" (events[0] to events[%d] were applied; resending them is ignored by seq)", i-1)
				}
				p.Detail += applied
			}
			return err
		}
		a.n.publishIPT(cl.Tenant, res)
		if res.Ignored {
			out.Ignored++
		} else {
			out.Accepted++
		}
	}
	writeJSON(w, http.StatusAccepted, out)
	return nil
}

// decodeEvents reads and checks an events body: one problem lists every bad
// field of every event. An event's bridge may be left out (it is the
// body's); if given it must be the body's.
func (a *api) decodeEvents(w http.ResponseWriter, r *http.Request) ([]ipt.Event, string, error) {
	data, err := a.readBody(w, r)
	if err != nil {
		return nil, "", err
	}
	var body eventsBody
	if err := decodeBody(data, &body); err != nil {
		return nil, "", err
	}
	var errs []problem.FieldError
	fieldErrs := func(err error) error {
		p := problem.As(err)
		if p == nil || p.Code != problem.InvalidArgument {
			return err
		}
		errs = append(errs, p.Errors...)
		return nil
	}
	if err := checkPathIDField("bridge", body.Bridge); err != nil {
		// Every event would repeat it: the events are not checked.
		return nil, "", err
	}
	switch {
	case body.Events == nil:
		errs = append(errs, problem.FieldError{Field: "events", Reason: "is required: a list of ipt.event objects (an empty list is a heartbeat)"})
	case len(body.Events) > a.n.cfg.MaxBatch:
		errs = append(errs, problem.FieldError{Field: "events", Reason: fmt.Sprintf("must list at most %d events, got %d", a.n.cfg.MaxBatch, len(body.Events))})
		body.Events = nil
	}
	events := make([]ipt.Event, len(body.Events))
	for i, raw := range body.Events {
		at := fmt.Sprintf("events[%d]", i)
		e := &events[i]
		if err := decodeAt(raw, at, e); err != nil {
			return nil, "", err // a wrong type or an unknown field: the body is broken
		}
		switch {
		case e.Bridge == "":
			e.Bridge = body.Bridge
		case e.Bridge != body.Bridge:
			errs = append(errs, problem.FieldError{Field: at + ".bridge", Reason: fmt.Sprintf("must be the body's bridge %s or absent, got %s", quote(body.Bridge), quote(e.Bridge))})
			continue
		}
		if err := fieldErrs(prefixFields(e.Validate(), at)); err != nil {
			return nil, "", err
		}
	}
	if len(errs) > 0 {
		return nil, "", problem.Fields(errs...)
	}
	return events, body.Bridge, nil
}

// checkPathIDField checks a required id member of a body.
func checkPathIDField(name, v string) error {
	if v == "" {
		return problem.Field(name, "is required")
	}
	return checkPathID(name, v)
}

// syncBody is the body of POST /v1/ipt/sync (the ipt.sync frame without
// type); devices and their calls are decoded one by one so a problem can
// name devices[2].call.state.
type syncBody struct {
	Bridge  string            `json:"bridge"`
	Devices []json.RawMessage `json:"devices"`
}

type syncDeviceBody struct {
	Ext   string          `json:"ext"`
	User  string          `json:"user"`
	State string          `json:"state"`
	Call  json.RawMessage `json:"call"`
}

// iptSync serves POST /v1/ipt/sync: the bridge's full truth, as ipt.sync.
func (a *api) iptSync(ctx context.Context, w http.ResponseWriter, r *http.Request, cl auth.Claims) error {
	if err := bridgeOnly(cl, r); err != nil {
		return err
	}
	m, err := a.decodeSync(w, r)
	if err != nil {
		return err
	}
	if err := m.Validate(); err != nil {
		return err
	}
	if err := a.n.mayReport(cl, m.Bridge); err != nil {
		return err
	}
	now := time.Now()
	if err := a.n.ipt.Heartbeat(ctx, cl.Tenant, m.Bridge, now); err != nil {
		return err
	}
	res, err := a.n.ipt.Sync(ctx, cl.Tenant, "", m, now)
	if err != nil {
		return err
	}
	a.n.publishIPT(cl.Tenant, res)
	writeJSON(w, http.StatusAccepted, syncResult{Devices: len(m.Devices)})
	return nil
}

func (a *api) decodeSync(w http.ResponseWriter, r *http.Request) (ipt.Sync, error) {
	data, err := a.readBody(w, r)
	if err != nil {
		return ipt.Sync{}, err
	}
	var body syncBody
	if err := decodeBody(data, &body); err != nil {
		return ipt.Sync{}, err
	}
	m := ipt.Sync{Bridge: body.Bridge, Devices: make([]wire.Device, len(body.Devices))}
	for i, raw := range body.Devices {
		at := fmt.Sprintf("devices[%d]", i)
		var d syncDeviceBody
		if err := decodeAt(raw, at, &d); err != nil {
			return ipt.Sync{}, err
		}
		m.Devices[i] = wire.Device{Ext: d.Ext, User: d.User, State: d.State}
		if len(d.Call) > 0 && string(d.Call) != "null" {
			var c wire.SyncCall
			if err := decodeAt(d.Call, at+".call", &c); err != nil {
				return ipt.Sync{}, err
			}
			m.Devices[i].Call = &c
		}
	}
	return m, nil
}
