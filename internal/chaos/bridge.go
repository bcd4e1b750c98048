package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"
)

// bridgeID is the PBX bridge of the run; its extensions are 1000+i, one per
// user.
const bridgeID = "pbx1"

// mBridge is the PBX bridge: one WebSocket with role bridge, the truth of
// every extension, and its event sequence.
type mBridge struct {
	rng    *rand.Rand
	token  string
	conn   *Conn
	seq    int
	phones map[string]*mPhone // by user
	// dirty: an event or sync whose outcome is unknown, or a reconnect: the
	// settle step sends ipt.sync (what a real bridge does after trouble).
	dirty bool
	calls int
}

func (b *mBridge) sortedPhones() []*mPhone {
	var ps []*mPhone
	for _, p := range b.phones {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].ext < ps[j].ext })
	return ps
}

// bridgeStep is one operation of the bridge: reconnect and sync when its
// connection is gone, else mostly one event, sometimes a full sync.
func (r *run) bridgeStep(ctx context.Context) {
	b := r.bridge
	if b.conn == nil || b.conn.Closed() {
		r.bridgeConnect()
		return
	}
	if b.rng.IntN(12) == 0 {
		r.bridgeSync()
		return
	}
	ps := b.sortedPhones()
	p := ps[b.rng.IntN(len(ps))]
	var ev string
	call := p.callID
	switch {
	case !p.registered:
		ev = "registered"
	case p.callID == "":
		if b.rng.IntN(4) == 0 {
			ev = "unregistered"
		} else {
			ev = "ringing"
			b.calls++
			call = fmt.Sprintf("call%d", b.calls)
		}
	case p.callState == "ringing":
		ev = []string{"answered", "ended"}[b.rng.IntN(2)]
	case p.callState == "in_call":
		ev = []string{"held", "ended"}[b.rng.IntN(2)]
	default: // held
		ev = []string{"resumed", "ended"}[b.rng.IntN(2)]
	}
	b.seq++
	f := map[string]any{"type": "ipt.event", "bridge": bridgeID, "seq": b.seq, "ext": p.ext, "user": p.user, "event": ev}
	if call != "" && ev != "registered" && ev != "unregistered" {
		f["call"], f["direction"], f["peer"] = call, "inbound", "5550100"
	}
	res, err := b.conn.Request(f)
	if err != nil || res["type"] != "ok" {
		b.dirty = true
	} else {
		switch ev {
		case "registered":
			p.registered = true
		case "unregistered":
			p.registered, p.callID, p.callState = false, "", ""
		case "ringing":
			p.callID, p.callState = call, "ringing"
		case "answered", "resumed":
			p.callState = "in_call"
		case "held":
			p.callState = "held"
		case "ended":
			p.callID, p.callState = "", ""
		}
	}
	r.log("bridge: %s %s seq %d %s on %s: %s", p.ext, ev, b.seq, call, b.conn.Node.ID, result(res, err))
}

// bridgeConnect (re)connects the bridge to a random node and syncs.
func (r *run) bridgeConnect() bool {
	b := r.bridge
	if b.conn != nil {
		b.conn.Close()
	}
	b.conn = nil
	n := r.env.Nodes[b.rng.IntN(len(r.env.Nodes))]
	label := fmt.Sprintf("c%d", r.nextLabel.Add(1))
	c, err := DialTracked(n, label, b.token, bridgeID, "bridge-"+bridgeID, "main", "bridge")
	if c != nil {
		r.track(c)
	}
	if err != nil {
		b.dirty = true
		r.log("bridge: connect on %s: %v", n.ID, err)
		return false
	}
	b.conn = c
	r.log("bridge: connected on %s: %s conn %s", n.ID, c.Label, c.ConnID)
	return r.bridgeSync()
}

// bridgeSync sends the full truth; a sync starts a new event sequence.
func (r *run) bridgeSync() bool {
	b := r.bridge
	var devs []map[string]any
	for _, p := range b.sortedPhones() {
		d := map[string]any{"ext": p.ext, "user": p.user, "state": "unregistered"}
		if p.registered {
			d["state"] = "registered"
			if p.callID != "" {
				d["call"] = map[string]any{"id": p.callID, "state": p.callState, "direction": "inbound", "peer": "5550100"}
			}
		}
		devs = append(devs, d)
	}
	res, err := b.conn.Request(map[string]any{"type": "ipt.sync", "bridge": bridgeID, "devices": devs})
	ok := err == nil && res["type"] == "ok"
	if ok {
		b.seq, b.dirty = 0, false
	} else {
		b.dirty = true
	}
	r.log("bridge: ipt.sync of %d devices on %s: %s", len(devs), b.conn.Node.ID, result(res, err))
	return ok
}

// settleBridge makes sure the bridge is connected and the gateway holds
// its truth.
func (r *run) settleBridge(deadline time.Time) error {
	b := r.bridge
	for time.Now().Before(deadline) {
		if b.conn == nil || b.conn.Closed() {
			if r.bridgeConnect() {
				return nil
			}
		} else if !b.dirty || r.bridgeSync() {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("the bridge could not connect and sync by the deadline")
}
