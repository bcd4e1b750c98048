package bridge

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/pgw/pgw/internal/testenv"
	"github.com/pgw/pgw/wire"
)

// legal checks one simulated extension's event against its state and
// advances the state; the rules are those of a real phone.
func legal(st *viewDev, e wire.EventFrame) error {
	switch e.Event {
	case wire.EventRegistered:
		if st.state == wire.SyncRegistered {
			return errors.New("registered twice")
		}
		st.state = wire.SyncRegistered
		return nil
	case wire.EventUnregistered:
		if st.state != wire.SyncRegistered || st.call != "" {
			return errors.New("unregistered while not registered or in a call")
		}
		st.state = wire.SyncUnregistered
		return nil
	}
	if st.state != wire.SyncRegistered {
		return fmt.Errorf("%s while unregistered", e.Event)
	}
	if e.Call == "" || (e.Direction != wire.Inbound && e.Direction != wire.Outbound) || e.Peer == "" {
		return fmt.Errorf("%s without call, direction or peer", e.Event)
	}
	from := map[string]string{wire.EventRinging: "", wire.EventAnswered: "ringing", wire.EventHeld: "in_call",
		wire.EventResumed: "held", wire.EventEnded: "*"}[e.Event]
	if from != "*" && st.callState != from || from == "*" && st.call == "" {
		return fmt.Errorf("%s from call state %q", e.Event, st.callState)
	}
	if from != "" && st.call != e.Call {
		return fmt.Errorf("%s of call %s, current call %s", e.Event, e.Call, st.call)
	}
	st.call = e.Call
	st.callState = map[string]string{wire.EventRinging: "ringing", wire.EventAnswered: "in_call", wire.EventHeld: "held",
		wire.EventResumed: "in_call", wire.EventEnded: ""}[e.Event]
	if st.callState == "" {
		st.call = ""
	}
	return nil
}

func TestSimulatorSpeaksTheProtocol(t *testing.T) {
	gw := newFakeGateway(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{GatewayURL: gw.url(), BridgeID: "sim", Token: "t", Simulate: 5, Rate: 400,
			MaxFrameRate: -1, Users: Users{"2001": "zoe"}, Seed: 7, Logger: testLogger(t)})
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	}()
	var fs []frame
	testenv.WaitFor(t, 10*time.Second, func() error {
		if fs = gw.all(); len(fs) < 300 {
			return fmt.Errorf("%d frames", len(fs))
		}
		return nil
	})
	checkSequence(t, fs)
	if fs[0].sync.Type != "ipt.sync" || len(fs[0].sync.Devices) != 5 {
		t.Fatalf("first frame %+v, want a sync of 5 devices", fs[0].sync)
	}
	want := "2001 zoe|1001 u0001|1002 u0002|1003 u0003|1004 u0004"
	got := ""
	state := map[string]*viewDev{}
	for i, d := range fs[0].sync.Devices {
		if i > 0 {
			got += "|"
		}
		got += d.Ext + " " + d.User
		// The simulator runs before the gateway connects, so the sync
		// may already show calls: start from it.
		st := &viewDev{state: d.State}
		if d.Call != nil {
			st.call, st.callState = d.Call.ID, d.Call.State
		}
		state[d.Ext] = st
	}
	if got != want {
		t.Fatalf("devices %q, want %q", got, want)
	}
	seen := map[string]bool{}
	for i, f := range fs[1:] {
		e := f.ev
		st := state[e.Ext]
		if st == nil || e.Bridge != "sim" {
			t.Fatalf("event %d: %+v: unknown ext or wrong bridge", i, e)
		}
		if err := legal(st, e); err != nil {
			t.Fatalf("event %d (%s): %v", i, short(e), err)
		}
		seen[e.Event] = true
	}
	for _, name := range []string{wire.EventRinging, wire.EventAnswered, wire.EventHeld, wire.EventResumed, wire.EventEnded} {
		if !seen[name] {
			t.Errorf("no %s in %d events", name, len(fs)-1)
		}
	}
}

// TestFramesArePaced: the bridge keeps to MaxFrameRate (burst
// MaxFrameBurst) even when its source is faster, so the gateway's rate
// limit is not hit.
func TestFramesArePaced(t *testing.T) {
	gw := newFakeGateway(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- Run(ctx, Config{GatewayURL: gw.url(), BridgeID: "sim", Token: "t", Simulate: 20, Rate: 2000,
			MaxFrameRate: 100, MaxFrameBurst: 10, Logger: testLogger(t)})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	testenv.WaitFor(t, 10*time.Second, func() error {
		if n := len(gw.all()); n < 61 {
			return fmt.Errorf("%d frames", n)
		}
		return nil
	})
	// 61 frames with a burst of 10 need 51 tokens at 100/s: 0.51 s at least.
	if el := time.Since(start); el < 450*time.Millisecond {
		t.Fatalf("61 frames in %v: not paced to 100/s", el)
	}
}
