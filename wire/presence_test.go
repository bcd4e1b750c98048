package wire

import (
	"encoding/json"
	"testing"
	"time"
)

func TestSameStateIgnoresOnlyVersionAndSince(t *testing.T) {
	base := Presence{Type: TypePresence, Tenant: "acme", User: "u1", Status: Busy, Custom: "lunch", Note: "n",
		Manual: true, Sessions: 2, Devices: []string{"desktop", "web"}, Version: 7, Since: "2026-01-01T00:00:00.000Z",
		Phone: &Phone{State: PhoneInCall, Ext: "100", Call: &Call{ID: "c1", State: PhoneInCall}}}
	clone := func() Presence {
		p := base
		p.Devices = append([]string(nil), base.Devices...)
		ph, c := *base.Phone, *base.Phone.Call
		ph.Call, p.Phone = &c, &ph
		return p
	}
	same := clone()
	same.Version, same.Since = 8, "2026-01-01T00:00:01.000Z"
	if !base.SameState(same) {
		t.Error("a new version and since alone must not count as a change")
	}
	for name, change := range map[string]func(*Presence){
		"tenant":      func(p *Presence) { p.Tenant = "other" },
		"user":        func(p *Presence) { p.User = "u2" },
		"status":      func(p *Presence) { p.Status = DND },
		"custom":      func(p *Presence) { p.Custom = "" },
		"note":        func(p *Presence) { p.Note = "" },
		"manual":      func(p *Presence) { p.Manual = false },
		"sessions":    func(p *Presence) { p.Sessions = 1 },
		"devices":     func(p *Presence) { p.Devices[1] = "mobile" },
		"device gone": func(p *Presence) { p.Devices = p.Devices[:1] },
		"phone gone":  func(p *Presence) { p.Phone = nil },
		"phone state": func(p *Presence) { p.Phone.State = PhoneHeld },
		"phone ext":   func(p *Presence) { p.Phone.Ext = "101" },
		"call gone":   func(p *Presence) { p.Phone.Call = nil },
		"call state":  func(p *Presence) { p.Phone.Call.State = PhoneHeld },
	} {
		p := clone()
		change(&p)
		if base.SameState(p) || p.SameState(base) {
			t.Errorf("%s: changed, but SameState says the same", name)
		}
	}
}

func TestOfflinePresenceJSON(t *testing.T) {
	b, err := json.Marshal(OfflinePresence("acme", "u1"))
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"type":"presence","tenant":"acme","user":"u1","status":"offline","manual":false,"sessions":0,"devices":[],"version":0}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestCallFrameJSON(t *testing.T) {
	at := FormatSince(time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.FixedZone("x", 3600)))
	b, err := json.Marshal(CallFrame{Type: TypeCall, Tenant: "acme", User: "u1", Ext: "100", Event: EventEnded,
		Call: Call{ID: "c1", State: CallEnded, Direction: Inbound, Since: at, Reason: ReasonHangup}, At: at})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"type":"call","tenant":"acme","user":"u1","ext":"100","event":"ended",` +
		`"call":{"id":"c1","state":"ended","direction":"inbound","since":"2026-01-02T02:04:05.006Z","reason":"hangup"},"at":"2026-01-02T02:04:05.006Z"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}
