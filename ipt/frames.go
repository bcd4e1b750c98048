package ipt

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/pgw/pgw/problem"
	"github.com/pgw/pgw/wire"
)

// Limits of the free-text fields; ids follow wire.ValidID.
const (
	maxCallIDLen = 128
	maxPeerLen   = 128
)

// extPattern: extensions are dial strings ("1001", "+4930123", "*97") and
// are stored as hash fields and set members, never as key parts or subject
// tokens, so they may hold more than an id; spaces and braces are refused.
var extPattern = regexp.MustCompile(`^[A-Za-z0-9_+#*.@-]{1,64}$`)

// ValidExt reports whether s is a valid extension.
func ValidExt(s string) bool { return extPattern.MatchString(s) }

// Sync is the ipt.sync frame's body (and the body of POST /v1/ipt/sync):
// the full truth of every device behind one bridge. The shape is the one
// bridges send (wire.SyncBody); the rules are here (Validate).
type Sync wire.SyncBody

// Event is one ipt.event (a frame's body, or an element of POST
// /v1/ipt/events): the shape of wire.EventBody, the rules of Validate.
type Event wire.EventBody

// fieldErrs collects the bad fields of one frame.
type fieldErrs []problem.FieldError

func (f *fieldErrs) add(field, format string, args ...any) {
	*f = append(*f, problem.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
}

func (f fieldErrs) err() error {
	if len(f) == 0 {
		return nil
	}
	return problem.Fields(f...)
}

func (f *fieldErrs) id(field, v string, required bool) {
	switch {
	case v == "" && required:
		f.add(field, "is required")
	case v != "" && !wire.ValidID(v):
		f.add(field, "must match "+wire.IDPattern)
	}
}

func (f *fieldErrs) ext(field, v string) {
	switch {
	case v == "":
		f.add(field, "is required")
	case !ValidExt(v):
		f.add(field, "must be 1 to 64 of A-Z a-z 0-9 _ + # * . @ -")
	}
}

func (f *fieldErrs) callID(field, v string, required bool) {
	switch {
	case v == "" && required:
		f.add(field, "is required")
	case len(v) > maxCallIDLen:
		f.add(field, "must be at most %d bytes", maxCallIDLen)
	case strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		f.add(field, "must not contain spaces or control characters")
	}
}

func (f *fieldErrs) direction(field, v string) {
	if v != "" && v != wire.Inbound && v != wire.Outbound {
		f.add(field, "must be one of inbound, outbound")
	}
}

func (f *fieldErrs) peer(field, v string) {
	if len(v) > maxPeerLen {
		f.add(field, "must be at most %d bytes", maxPeerLen)
	}
}

func (f *fieldErrs) time(field, v string) {
	if v == "" {
		return
	}
	if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
		f.add(field, "must be an RFC 3339 time")
	}
}

// Validate checks the frame; it returns a *problem.Problem (invalid_argument)
// with one entry per bad field, e.g. "devices[2].state".
func (s *Sync) Validate() error {
	var f fieldErrs
	f.id("bridge", s.Bridge, true)
	seen := make(map[string]int, len(s.Devices))
	for i, d := range s.Devices {
		p := fmt.Sprintf("devices[%d]", i)
		f.ext(p+".ext", d.Ext)
		if j, dup := seen[d.Ext]; dup && d.Ext != "" {
			f.add(p+".ext", "duplicates devices[%d].ext %q", j, d.Ext)
		} else {
			seen[d.Ext] = i
		}
		f.id(p+".user", d.User, true)
		switch d.State {
		case wire.SyncRegistered, wire.SyncUnregistered:
		case "":
			f.add(p+".state", "is required")
		default:
			f.add(p+".state", "must be one of registered, unregistered")
		}
		if d.Call == nil {
			continue
		}
		if d.State == wire.SyncUnregistered {
			f.add(p+".call", "must be absent when state is unregistered")
		}
		f.callID(p+".call.id", d.Call.ID, true)
		switch d.Call.State {
		case wire.PhoneRinging, wire.PhoneInCall, wire.PhoneHeld:
		case "":
			f.add(p+".call.state", "is required")
		default:
			f.add(p+".call.state", "must be one of ringing, in_call, held")
		}
		f.direction(p+".call.direction", d.Call.Direction)
		f.peer(p+".call.peer", d.Call.Peer)
		f.time(p+".call.since", d.Call.Since)
	}
	return f.err()
}

// Validate checks the event; it returns a *problem.Problem (invalid_argument)
// with one entry per bad field.
func (e *Event) Validate() error {
	var f fieldErrs
	f.id("bridge", e.Bridge, true)
	if e.Seq < 1 {
		f.add("seq", "must be an integer of at least 1")
	}
	f.ext("ext", e.Ext)
	f.id("user", e.User, false)
	switch e.Event {
	case wire.EventRegistered, wire.EventUnregistered, wire.EventAnswered, wire.EventHeld, wire.EventResumed, wire.EventEnded:
		f.callID("call", e.Call, false)
	case wire.EventRinging:
		// A new call needs its id: every later event names it.
		f.callID("call", e.Call, true)
	case "":
		f.add("event", "is required")
	default:
		f.add("event", "must be one of registered, unregistered, ringing, answered, held, resumed, ended")
	}
	f.direction("direction", e.Direction)
	f.peer("peer", e.Peer)
	f.time("at", e.At)
	return f.err()
}
