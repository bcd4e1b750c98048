package ipt

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/wire"
)

// fieldsOf returns the fields a Validate error names (nil for no error).
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	p := problem.As(err)
	if p == nil {
		t.Fatalf("not a problem: %v", err)
	}
	if p.Code != problem.InvalidArgument || p.Status != 400 {
		t.Fatalf("problem %s/%d, want invalid_argument/400", p.Code, p.Status)
	}
	var out []string
	for _, e := range p.Errors {
		if e.Reason == "" {
			t.Errorf("field %s has no reason", e.Field)
		}
		out = append(out, e.Field)
	}
	if !strings.HasPrefix(p.Detail, out[0]+": ") {
		t.Errorf("detail %q does not name %s", p.Detail, out[0])
	}
	return out
}

func TestSyncValidate(t *testing.T) {
	reg := func(ext, user string) wire.Device {
		return wire.Device{Ext: ext, User: user, State: wire.SyncRegistered}
	}
	withCall := func(d wire.Device, c wire.SyncCall) wire.Device { d.Call = &c; return d }
	tests := []struct {
		name string
		sync Sync
		want []string
	}{
		{"valid", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "u1"),
			withCall(reg("+4930-12", "u_2"), wire.SyncCall{ID: "1700000000.42", State: "in_call", Direction: "inbound", Peer: "+49301234", Since: "2026-11-26T09:00:00Z"}),
			{Ext: "1003", User: "u3", State: wire.SyncUnregistered}}}, nil},
		{"empty device list is valid", Sync{Bridge: "b1"}, nil},
		{"missing bridge", Sync{Devices: []wire.Device{reg("1001", "u1")}}, []string{"bridge"}},
		{"bad bridge id", Sync{Bridge: "b.1"}, []string{"bridge"}},
		{"bridge with brace", Sync{Bridge: "{b}"}, []string{"bridge"}},
		{"missing ext", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "u1"), reg("", "u2")}}, []string{"devices[1].ext"}},
		{"ext with space", Sync{Bridge: "b1", Devices: []wire.Device{reg("10 01", "u1")}}, []string{"devices[0].ext"}},
		{"duplicate ext", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "u1"), reg("1002", "u2"), reg("1001", "u3")}}, []string{"devices[2].ext"}},
		{"missing user", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "")}}, []string{"devices[0].user"}},
		{"bad user id", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "u*")}}, []string{"devices[0].user"}},
		{"bad state", Sync{Bridge: "b1", Devices: []wire.Device{reg("1001", "u1"), reg("1002", "u2"), {Ext: "1003", User: "u3", State: "idle"}}}, []string{"devices[2].state"}},
		{"missing state", Sync{Bridge: "b1", Devices: []wire.Device{{Ext: "1001", User: "u1"}}}, []string{"devices[0].state"}},
		{"bad call state", Sync{Bridge: "b1", Devices: []wire.Device{withCall(reg("1001", "u1"), wire.SyncCall{ID: "c1", State: "ended"})}}, []string{"devices[0].call.state"}},
		{"call without id", Sync{Bridge: "b1", Devices: []wire.Device{withCall(reg("1001", "u1"), wire.SyncCall{State: "ringing"})}}, []string{"devices[0].call.id"}},
		{"call fields", Sync{Bridge: "b1", Devices: []wire.Device{withCall(reg("1001", "u1"), wire.SyncCall{ID: "c 1", State: "held", Direction: "sideways", Peer: strings.Repeat("9", 129), Since: "yesterday"})}},
			[]string{"devices[0].call.id", "devices[0].call.direction", "devices[0].call.peer", "devices[0].call.since"}},
		{"call on unregistered device", Sync{Bridge: "b1", Devices: []wire.Device{withCall(wire.Device{Ext: "1001", User: "u1", State: wire.SyncUnregistered}, wire.SyncCall{ID: "c1", State: "ringing"})}}, []string{"devices[0].call"}},
		{"every bad field named", Sync{Bridge: "", Devices: []wire.Device{{Ext: "", User: "", State: "on"}}}, []string{"bridge", "devices[0].ext", "devices[0].user", "devices[0].state"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := fieldsOf(t, tc.sync.Validate()); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("fields %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEventValidate(t *testing.T) {
	ok := Event{Bridge: "b1", Seq: 1, Ext: "1001", Event: wire.EventRinging, Call: "c1", Direction: wire.Inbound, Peer: "555", At: "2026-11-26T09:00:00.123Z"}
	with := func(f func(*Event)) Event { e := ok; f(&e); return e }
	tests := []struct {
		name  string
		event Event
		want  []string
	}{
		{"valid", ok, nil},
		{"valid with user, no call", with(func(e *Event) { e.User, e.Event, e.Call = "u1", wire.EventRegistered, "" }), nil},
		{"ended without call id is valid", with(func(e *Event) { e.Event, e.Call = wire.EventEnded, "" }), nil},
		{"missing bridge", with(func(e *Event) { e.Bridge = "" }), []string{"bridge"}},
		{"bad bridge", with(func(e *Event) { e.Bridge = "a>b" }), []string{"bridge"}},
		{"seq zero", with(func(e *Event) { e.Seq = 0 }), []string{"seq"}},
		{"seq negative", with(func(e *Event) { e.Seq = -4 }), []string{"seq"}},
		{"missing ext", with(func(e *Event) { e.Ext = "" }), []string{"ext"}},
		{"bad user", with(func(e *Event) { e.User = "u 1" }), []string{"user"}},
		{"missing event", with(func(e *Event) { e.Event = "" }), []string{"event"}},
		{"bad event", with(func(e *Event) { e.Event = "transferred" }), []string{"event"}},
		{"ringing without call", with(func(e *Event) { e.Call = "" }), []string{"call"}},
		{"bad direction", with(func(e *Event) { e.Direction = "in" }), []string{"direction"}},
		{"bad at", with(func(e *Event) { e.At = "09:00" }), []string{"at"}},
		{"long peer", with(func(e *Event) { e.Peer = strings.Repeat("1", 200) }), []string{"peer"}},
		{"several", Event{Event: "x"}, []string{"bridge", "seq", "ext", "event"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := fieldsOf(t, tc.event.Validate()); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("fields %v, want %v", got, tc.want)
			}
		})
	}
}
