package ipt

import (
	"time"

	"github.com/pgw/pgw/wire"
)

// callNote is a call event before it is addressed: the user it goes to is
// the device's owner at the time of the event.
type callNote struct {
	user, ext, event string
	call             wire.Call
}

// stateOf derives a registered device's state from its call.
func stateOf(c *wire.Call) string {
	if c == nil {
		return wire.PhoneIdle
	}
	return c.State
}

// eventFor is the call event that announces a call reaching state, coming
// from the call's previous state (nil: the gateway did not know the call).
func eventFor(prev *wire.Call, state string) string {
	switch state {
	case wire.PhoneRinging:
		return wire.EventRinging
	case wire.PhoneHeld:
		return wire.EventHeld
	}
	if prev != nil && prev.State == wire.PhoneHeld {
		return wire.EventResumed
	}
	return wire.EventAnswered
}

// sameLeg reports whether a call going from state a to b stays in the same
// phase, so its since is kept: a CALL's since is when it started ringing, or
// when it was answered; holding and resuming do not reset it, so a client's
// "in a call 2:05" timer shows the talk time.
func sameLeg(a, b string) bool {
	return a == b || (a != wire.PhoneRinging && b != wire.PhoneRinging)
}

// ended returns c as an ended CALL.
func ended(c wire.Call, reason string, at time.Time) wire.Call {
	c.State, c.Reason, c.Since = wire.CallEnded, reason, wire.FormatSince(at)
	return c
}

// callState is the CALL state an event puts its call in.
var callState = map[string]string{
	wire.EventRinging:  wire.PhoneRinging,
	wire.EventAnswered: wire.PhoneInCall,
	wire.EventResumed:  wire.PhoneInCall,
	wire.EventHeld:     wire.PhoneHeld,
}

// applyEvent returns the device after e and the call events e causes.
//
// A device has one current call. An event for another call while one is
// current (call waiting, a consultation call) is still delivered as a call
// event; answered, resumed and held make that call current, ringing and
// ended leave the current call alone. Every event but unregistered implies
// the device is registered: its state becomes its call's state, or idle.
func applyEvent(d Device, e Event, at time.Time) (Device, []callNote) {
	since := wire.FormatSince(at)
	note := func(ev string, c wire.Call) callNote {
		return callNote{user: d.User, ext: d.Ext, event: ev, call: c}
	}
	var notes []callNote
	cur := d.Call
	isCurrent := cur != nil && (e.Call == "" || e.Call == cur.ID)

	switch e.Event {
	case wire.EventRegistered:
		// A registration refresh during a call does not end the call.
	case wire.EventUnregistered:
		if cur != nil {
			notes = append(notes, note(wire.EventEnded, ended(*cur, wire.ReasonUnregistered, at)))
		}
		d.Call = nil
		d.State = wire.PhoneUnregistered
		return d, notes
	case wire.EventEnded:
		switch {
		case isCurrent:
			notes = append(notes, note(wire.EventEnded, ended(*cur, wire.ReasonHangup, at)))
			d.Call = nil
		case e.Call != "":
			notes = append(notes, note(wire.EventEnded, ended(wire.Call{ID: e.Call, Direction: e.Direction, Peer: e.Peer}, wire.ReasonHangup, at)))
		}
	case wire.EventRinging, wire.EventAnswered, wire.EventResumed, wire.EventHeld:
		state := callState[e.Event]
		switch {
		case isCurrent:
			if cur.State != state {
				c := *cur
				c.State = state
				if !sameLeg(cur.State, state) {
					c.Since = since
				}
				if e.Direction != "" {
					c.Direction = e.Direction
				}
				if e.Peer != "" {
					c.Peer = e.Peer
				}
				d.Call = &c
				notes = append(notes, note(e.Event, c))
			}
		case e.Call == "":
			// answered/held/resumed naming no call, with none current:
			// nothing to apply it to.
		default:
			c := wire.Call{ID: e.Call, State: state, Direction: e.Direction, Peer: e.Peer, Since: since}
			if cur == nil || e.Event != wire.EventRinging {
				d.Call = &c
			}
			notes = append(notes, note(e.Event, c))
		}
	}
	d.State = stateOf(d.Call)
	return d, notes
}

// applySync returns the device after a sync reported sd for it (old is what
// the gateway knew, State unknown when nothing), with the call events that
// bring clients in line: the old call ends (resync) when the sync lists
// another call or none; a call the gateway did not know, or whose state
// changed, is announced with the event of its state.
func applySync(old Device, sd wire.Device, bridge string, at time.Time) (Device, []callNote) {
	d := Device{Ext: sd.Ext, User: sd.User, Bridge: bridge, State: wire.PhoneUnregistered}
	if sd.State == wire.SyncRegistered {
		if sd.Call != nil {
			c := wire.Call{ID: sd.Call.ID, State: sd.Call.State, Direction: sd.Call.Direction, Peer: sd.Call.Peer}
			same := old.Call != nil && old.Call.ID == c.ID
			if same {
				if c.Direction == "" {
					c.Direction = old.Call.Direction
				}
				if c.Peer == "" {
					c.Peer = old.Call.Peer
				}
			}
			switch {
			case sd.Call.Since != "":
				t, _ := time.Parse(time.RFC3339Nano, sd.Call.Since) // validated
				c.Since = wire.FormatSince(t)
			case same && sameLeg(old.Call.State, c.State):
				c.Since = old.Call.Since
			default:
				c.Since = wire.FormatSince(at)
			}
			d.Call = &c
		}
		d.State = stateOf(d.Call)
	}
	var notes []callNote
	if old.Call != nil && (d.Call == nil || d.Call.ID != old.Call.ID) {
		notes = append(notes, callNote{user: old.User, ext: old.Ext, event: wire.EventEnded, call: ended(*old.Call, wire.ReasonResync, at)})
	}
	if d.Call != nil {
		var prev *wire.Call
		if old.Call != nil && old.Call.ID == d.Call.ID {
			prev = old.Call
		}
		if prev == nil || prev.State != d.Call.State {
			notes = append(notes, callNote{user: d.User, ext: d.Ext, event: eventFor(prev, d.Call.State), call: *d.Call})
		}
	}
	return d, notes
}

// phoneRank orders device states for the overlay of a user with several
// extensions: the device that says most about the user wins.
var phoneRank = map[string]int{
	wire.PhoneInCall:       0,
	wire.PhoneHeld:         1,
	wire.PhoneRinging:      2,
	wire.PhoneIdle:         3,
	wire.PhoneUnregistered: 4,
	wire.PhoneUnknown:      5,
}

// overlay is the PRESENCE.phone of a user owning devs (sorted by ext): the
// device with the highest-ranked state, the lowest ext among equals; nil
// when the user owns none. An unknown device shows no call.
func overlay(devs []Device) *wire.Phone {
	var best *Device
	for i := range devs {
		d := &devs[i]
		if best == nil || phoneRank[d.State] < phoneRank[best.State] ||
			(phoneRank[d.State] == phoneRank[best.State] && d.Ext < best.Ext) {
			best = d
		}
	}
	if best == nil {
		return nil
	}
	p := &wire.Phone{State: best.State, Ext: best.Ext}
	if best.Call != nil && best.State != wire.PhoneUnknown {
		c := *best.Call
		c.Reason = ""
		p.Call = &c
	}
	return p
}
