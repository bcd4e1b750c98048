package loadtest

import (
	"testing"
	"time"

	"github.com/pgw/pgw/wire"
)

// iptRun is one device of the ipt scenario without a network: events are
// scheduled as driveCalls schedules them and frames are fed to onIPTFrame as
// the user's connection would.
type iptRun struct {
	t *testing.T
	w *Worker
	d *iptDevice
}

func newIPTRun(t *testing.T) *iptRun {
	cfg := DefaultConfig()
	cfg.Scenario, cfg.RunID = ScenarioIPT, "r1"
	w := &Worker{Cfg: cfg, Rec: NewRecorder(time.Now(), LCall)}
	return &iptRun{t: t, w: w, d: &iptDevice{user: 7, wantPhone: wire.PhoneIdle}}
}

// schedule schedules the device's next event and counts it sent.
func (r *iptRun) schedule() iptPending {
	p := r.d.schedule(r.w.Cfg.RunID, time.Now())
	r.w.Rec.Add(CCallsExpected, 1)
	return p
}

// deliver feeds the call frame and the presence update event p causes.
func (r *iptRun) deliver(p iptPending) {
	r.w.onIPTFrame(r.d, &inFrame{Type: "call", Event: p.event, Call: &wire.Call{ID: p.call}}, time.Now())
	r.w.onIPTFrame(r.d, &inFrame{Type: "presence", Phone: &wire.Phone{State: p.phone}}, time.Now())
}

// check is the verdict of the named check on the run so far.
func (r *iptRun) check(name string) Check {
	res := r.w.Rec.Result()
	res.Config = r.w.Cfg
	c, ok := findCheck(Evaluate(&res), name)
	if !ok {
		r.t.Fatalf("no check %q", name)
	}
	return c
}

// A frame that arrives after the device's next event was scheduled (a
// loaded machine) is not lost: it is matched against every event still
// pending for the device, not only the latest.
func TestIPTLateFrameIsNotLost(t *testing.T) {
	r := newIPTRun(t)
	ringing := r.schedule()
	answered := r.schedule() // scheduled before ringing's frames arrive
	r.deliver(ringing)
	ended := r.schedule()
	r.deliver(answered)
	r.deliver(ended)
	for _, name := range []string{"lost call frames", "lost phone presence updates"} {
		if c := r.check(name); c.Status != Pass {
			t.Errorf("%s: %s %s, want pass", name, c.Status, c.Actual)
		}
	}
	if n := r.w.Rec.Counter("calls_unmatched"); n != 0 {
		t.Errorf("calls_unmatched = %d", n)
	}
	if len(r.d.pending) != 0 {
		t.Errorf("events still pending after all their frames came: %+v", r.d.pending)
	}
}

// A frame that never arrives is still counted lost, even when the frames of
// the events after it do arrive; a duplicate frame does not make up for it.
func TestIPTRealLossIsCaught(t *testing.T) {
	r := newIPTRun(t)
	ringing := r.schedule()
	answered := r.schedule()
	ended := r.schedule()
	r.deliver(ringing)
	// answered's call frame is lost; its presence update arrives.
	r.w.onIPTFrame(r.d, &inFrame{Type: "presence", Phone: &wire.Phone{State: answered.phone}}, time.Now())
	r.deliver(ended)
	r.deliver(ended) // a duplicate matches nothing
	c := r.check("lost call frames")
	if c.Status != Miss || c.Actual != "1 lost of 3 events" {
		t.Errorf("lost call frames: %s %q, want miss with 1 lost of 3", c.Status, c.Actual)
	}
	if c := r.check("lost phone presence updates"); c.Status != Pass {
		t.Errorf("lost phone presence updates: %s %s, want pass", c.Status, c.Actual)
	}
	if n := r.w.Rec.Counter("calls_unmatched"); n != 1 {
		t.Errorf("calls_unmatched = %d, want 1 (the duplicate)", n)
	}
}
