package loadtest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/pgw/pgw/presence"
)

// bridgeID is the token subject and bridge id of bridge b.
func bridgeID(c Config, b int) string { return fmt.Sprintf("%sbridge%d", c.UserPrefix, b) }

// extOf is the extension of user i.
func extOf(i int) string { return strconv.Itoa(100000 + i) }

// callCycle is the life of one call on a device, and the phone state each
// event must leave in the user's presence.
var callCycle = []struct{ event, phone string }{
	{"ringing", presence.PhoneRinging},
	{"answered", presence.PhoneInCall},
	{"ended", presence.PhoneIdle},
}

// iptDevice is one user's desk phone and what its last event must cause.
type iptDevice struct {
	mu        sync.Mutex
	user      int
	bridge    *iptBridge
	step      int // index into callCycle of the next event
	calls     int
	lastEvent string
	lastCall  string
	due       time.Time
	wantPhone string
	callSeen  bool
	phoneSeen bool
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
		devs[k] = &iptDevice{user: w.Lo + k, bridge: bridges[k%len(bridges)], wantPhone: presence.PhoneIdle, phoneSeen: true, callSeen: true}
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
		if _, err := c.Request(rctx, id, subscribeFrame{Type: "subscribe", ID: id, Users: []string{w.Cfg.UserID(w.Lo + k)}}); err != nil {
			w.Rec.Error("subscribe " + ErrorKey(err))
		}
		cancel()
	}
	all := append([]*Client(nil), users...)
	for b, br := range bridges {
		spec := DialSpec{User: blo + b, Sub: br.id, Roles: []string{"bridge"}, Device: presence.DeviceBridge,
			Session: w.Cfg.RunID + "-" + br.id, OnClose: w.onClose,
			OnFrame: func(c *Client, f *inFrame, at time.Time) { w.countReplyError(f) }}
		br.c = w.connectTimed(ctx, spec, time.Now(), LConnect)
		all = append(all, br.c)
		if br.c == nil {
			continue
		}
		frame := iptSyncFrame{Type: "ipt.sync", ID: br.c.NextID(), Bridge: br.id}
		for _, d := range devs {
			if d.bridge == br {
				frame.Devices = append(frame.Devices, syncDevice{Ext: extOf(d.user), User: w.Cfg.UserID(d.user), State: "registered"})
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
			expect = append(expect, expectation{User: devs[k].user, Status: presence.Online, Sessions: 1, Phone: devs[k].wantPhone})
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
	case "call":
		if f.Call == nil || f.Event != d.lastEvent || f.Call.ID != d.lastCall || d.callSeen {
			w.Rec.Add("calls_unmatched", 1)
			return
		}
		d.callSeen = true
		w.Rec.Latency(LCall, at.Sub(d.due))
		w.Rec.Add(CCalls, 1)
	case "presence":
		if f.Phone == nil || f.Phone.State != d.wantPhone || d.phoneSeen {
			return
		}
		d.phoneSeen = true
		w.Rec.Latency(LPhone, at.Sub(d.due))
		w.Rec.Add(CPhones, 1)
	}
}

// driveCalls sends this worker's share of Cfg.Rate events per second for
// Cfg.Duration from start, walking the devices round-robin.
func (w *Worker) driveCalls(ctx context.Context, start time.Time, devs []*iptDevice) {
	type job struct {
		d     *iptDevice
		frame iptEventFrame
	}
	jobs := make(chan job, 4096)
	var wg sync.WaitGroup
	for s := 0; s < 16; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				br := j.d.bridge
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
		d.mu.Lock()
		step := callCycle[d.step]
		if d.step == 0 {
			d.calls++
			d.lastCall = fmt.Sprintf("%s-c%d-%d", w.Cfg.RunID, d.user, d.calls)
		}
		d.step = (d.step + 1) % len(callCycle)
		d.lastEvent, d.wantPhone, d.due = step.event, step.phone, due
		d.callSeen, d.phoneSeen = false, false
		frame := iptEventFrame{Type: "ipt.event", Bridge: d.bridge.id, Ext: extOf(d.user), User: w.Cfg.UserID(d.user),
			Event: step.event, Call: d.lastCall, Direction: "inbound", Peer: "+15550100"}
		d.mu.Unlock()
		select {
		case jobs <- job{d: d, frame: frame}:
		case <-ctx.Done():
		}
	})
	close(jobs)
	wg.Wait()
}
