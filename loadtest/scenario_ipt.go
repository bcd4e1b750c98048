package loadtest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/pgw/pgw/wire"
)

// bridgeID is the token subject and bridge id of bridge b.
func bridgeID(c Config, b int) string { return fmt.Sprintf("%sbridge%d", c.UserPrefix, b) }

// extOf is the extension of user i.
func extOf(i int) string { return strconv.Itoa(100000 + i) }

// callCycle is the life of one call on a device, and the phone state each
// event must leave in the user's presence.
var callCycle = []struct{ event, phone string }{
	{wire.EventRinging, wire.PhoneRinging},
	{wire.EventAnswered, wire.PhoneInCall},
	{wire.EventEnded, wire.PhoneIdle},
}

// iptDevice is one user's desk phone: the events scheduled for it that have
// not yet been matched by both the call frame and the presence update they
// cause, and the phone state its last event must leave.
//
// Every scheduled event stays pending until its own frames arrive, so a
// frame that arrives after the device's next event was scheduled (a loaded
// machine, a slow node) is still matched; an event whose frame never comes
// stays pending and is counted lost (CCallsExpected − CCalls).
type iptDevice struct {
	mu        sync.Mutex
	user      int
	bridge    *iptBridge
	step      int // index into callCycle of the next event
	calls     int
	lastCall  string
	wantPhone string
	pending   []iptPending
}

// iptPending is one scheduled event and which of its frames have arrived.
type iptPending struct {
	event, call, phone  string
	due                 time.Time
	callSeen, phoneSeen bool
}

// schedule records the device's next event in callCycle, due at due, and
// returns it.
func (d *iptDevice) schedule(runID string, due time.Time) iptPending {
	d.mu.Lock()
	defer d.mu.Unlock()
	step := callCycle[d.step]
	if d.step == 0 {
		d.calls++
		d.lastCall = fmt.Sprintf("%s-c%d-%d", runID, d.user, d.calls)
	}
	d.step = (d.step + 1) % len(callCycle)
	d.wantPhone = step.phone
	p := iptPending{event: step.event, call: d.lastCall, phone: step.phone, due: due}
	d.pending = append(d.pending, p)
	return p
}

// matchCall marks the oldest pending event with this event name and call id
// as seen by its call frame and returns its due time; false when no pending
// event matches (a duplicate or a frame for an event never sent).
func (d *iptDevice) matchCall(event, call string) (time.Time, bool) {
	for i := range d.pending {
		p := &d.pending[i]
		if !p.callSeen && p.event == event && p.call == call {
			p.callSeen = true
			due := p.due
			d.prune()
			return due, true
		}
	}
	return time.Time{}, false
}

// matchPhone marks the oldest pending event whose phone state is state and
// whose presence update has not arrived as seen. A device's frames arrive in
// order, so the oldest such event is the one this update reports.
func (d *iptDevice) matchPhone(state string) (time.Time, bool) {
	for i := range d.pending {
		p := &d.pending[i]
		if !p.phoneSeen && p.phone == state {
			p.phoneSeen = true
			due := p.due
			d.prune()
			return due, true
		}
	}
	return time.Time{}, false
}

// prune drops the leading events whose frames have all arrived.
func (d *iptDevice) prune() {
	k := 0
	for k < len(d.pending) && d.pending[k].callSeen && d.pending[k].phoneSeen {
		k++
	}
	d.pending = d.pending[k:]
}

// iptBridge is one bridge connection; seq is assigned under mu at write
// time so the wire order is the seq order.
type iptBridge struct {
	mu  sync.Mutex
	id  string
	c   *Client
	seq int64
}

// runIPT connects every user (subscribed to its own presence) and this
// worker's bridges, syncs every device as registered, then sends its share
// of Cfg.Rate telephony events per second (ringing → answered → ended per
// device) and measures event → call frame and event → presence update.
func (w *Worker) runIPT(ctx context.Context) error {
	n := w.Hi - w.Lo
	blo, bhi := Share(w.Cfg.Bridges, w.Index, w.Procs)
	bridges := make([]*iptBridge, bhi-blo)
	for b := range bridges {
		bridges[b] = &iptBridge{id: bridgeID(w.Cfg, blo+b)}
	}
	devs := make([]*iptDevice, n)
	jobs := make([]connJob, n)
	for k := range devs {
		devs[k] = &iptDevice{user: w.Lo + k, bridge: bridges[k%len(bridges)], wantPhone: wire.PhoneIdle}
		jobs[k] = connJob{User: w.Lo + k, Session: w.Cfg.SessionID(w.Lo+k, 0)}
	}
	w.Rec.Add(CWanted, int64(n+len(bridges)))
	start, err := w.barrier(ctx, PhaseConnect)
	if err != nil {
		return err
	}
	users := w.ramp(ctx, start, jobs, func(j connJob) DialSpec {
		d := devs[j.User-w.Lo]
		return DialSpec{User: j.User, Session: j.Session, OnClose: w.onClose,
			OnFrame: func(c *Client, f *inFrame, at time.Time) { w.onIPTFrame(d, f, at) }}
	})
	for k, c := range users {
		if c == nil {
			continue
		}
		id := c.NextID()
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if _, err := c.Request(rctx, id, wire.SubscribeFrame{Type: wire.TypeSubscribe, ID: id, Users: []string{w.Cfg.UserID(w.Lo + k)}}); err != nil {
			w.Rec.Error("subscribe " + ErrorKey(err))
		}
		cancel()
	}
	all := append([]*Client(nil), users...)
	for b, br := range bridges {
		spec := DialSpec{User: blo + b, Sub: br.id, Roles: []string{"bridge"}, Device: wire.DeviceBridge,
			Session: w.Cfg.RunID + "-" + br.id, OnClose: w.onClose,
			OnFrame: func(c *Client, f *inFrame, at time.Time) { w.countReplyError(f) }}
		br.c = w.connectTimed(ctx, spec, time.Now(), LConnect)
		all = append(all, br.c)
		if br.c == nil {
			continue
		}
		frame := wire.SyncFrame{Type: wire.TypeIPTSync, ID: br.c.NextID(), SyncBody: wire.SyncBody{Bridge: br.id}}
		for _, d := range devs {
			if d.bridge == br {
				frame.Devices = append(frame.Devices, wire.Device{Ext: extOf(d.user), User: w.Cfg.UserID(d.user), State: wire.SyncRegistered})
			}
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if _, err := br.c.Request(rctx, frame.ID, frame); err != nil {
			w.Rec.Error("ipt.sync " + ErrorKey(err))
		}
		cancel()
	}

	driveAt, err := w.barrier(ctx, PhaseDrive)
	if err != nil {
		closeAll(all)
		return err
	}
	w.driveCalls(ctx, driveAt, devs)
	_ = sleep(ctx, w.Cfg.Drain)
	if _, err := w.barrier(ctx, PhaseDrained); err != nil {
		closeAll(all)
		return err
	}
	if _, err := w.barrier(ctx, PhaseVerify); err != nil {
		closeAll(all)
		return err
	}
	var expect []expectation
	for k, c := range users {
		if c != nil && isOpen(c) && devs[k].bridge.c != nil && isOpen(devs[k].bridge.c) {
			devs[k].mu.Lock()
			expect = append(expect, expectation{User: devs[k].user, Status: wire.Online, Sessions: 1, Phone: devs[k].wantPhone})
			devs[k].mu.Unlock()
		}
	}
	w.verifyPresence(ctx, expect, 10*time.Second)
	return w.teardown(ctx, all)
}

// onIPTFrame measures the call frame and the presence update an event
// causes at its user's connection.
func (w *Worker) onIPTFrame(d *iptDevice, f *inFrame, at time.Time) {
	if w.countReplyError(f) {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch f.Type {
	case wire.TypeCall:
		if f.Call == nil {
			w.Rec.Add("calls_unmatched", 1)
			return
		}
		due, ok := d.matchCall(f.Event, f.Call.ID)
		if !ok {
			w.Rec.Add("calls_unmatched", 1)
			return
		}
		w.Rec.Latency(LCall, at.Sub(due))
		w.Rec.Add(CCalls, 1)
	case wire.TypePresence:
		if f.Phone == nil {
			return
		}
		due, ok := d.matchPhone(f.Phone.State)
		if !ok {
			return
		}
		w.Rec.Latency(LPhone, at.Sub(due))
		w.Rec.Add(CPhones, 1)
	}
}

// driveCalls sends this worker's share of Cfg.Rate events per second for
// Cfg.Duration from start, walking the devices round-robin. Each bridge has
// one sender, so a device's events go out in the order they were scheduled.
func (w *Worker) driveCalls(ctx context.Context, start time.Time, devs []*iptDevice) {
	type job struct {
		d     *iptDevice
		frame wire.EventFrame
	}
	queues := make(map[*iptBridge]chan job)
	var wg sync.WaitGroup
	for _, d := range devs {
		br := d.bridge
		if queues[br] != nil {
			continue
		}
		q := make(chan job, 4096)
		queues[br] = q
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range q {
				if br.c == nil {
					w.Rec.Add(CSkipped, 1)
					continue
				}
				br.mu.Lock()
				br.seq++
				j.frame.Seq = br.seq
				j.frame.ID = br.c.NextID()
				err := br.c.Send(j.frame)
				br.mu.Unlock()
				if err != nil {
					w.Rec.Error("send " + ErrorKey(err))
					continue
				}
				w.Rec.Add(CSent, 1)
				w.Rec.Add(CCallsExpected, 1)
				w.Rec.Add(CExpected, 1)
			}
		}()
	}
	pace(ctx, start, w.Cfg.Rate/float64(w.Procs), -1, start.Add(w.Cfg.Duration), func(i int, due time.Time) {
		d := devs[i%len(devs)]
		p := d.schedule(w.Cfg.RunID, due)
		frame := wire.EventFrame{Type: wire.TypeIPTEvent, EventBody: wire.EventBody{Bridge: d.bridge.id, Ext: extOf(d.user), User: w.Cfg.UserID(d.user),
			Event: p.event, Call: p.call, Direction: wire.Inbound, Peer: "+15550100"}}
		select {
		case queues[d.bridge] <- job{d: d, frame: frame}:
		case <-ctx.Done():
		}
	})
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
}
