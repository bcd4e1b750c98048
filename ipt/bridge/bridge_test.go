package bridge

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pgw/pgw/internal/testenv"
	"github.com/pgw/pgw/ipt/ami"
	"github.com/pgw/pgw/ipt/ami/amitest"
	"github.com/pgw/pgw/wire"
)

var testUsers = Users{"1001": "alice", "1002": "bob", "1003": "carol", "1004": "dave"}

// phone returns a channel of ext's phone.
func phone(ext, n, uid, linked, state, callerNum, connected, exten string) amitest.Channel {
	return amitest.Channel{Channel: "PJSIP/" + ext + "-0000000" + n, Uniqueid: uid, Linkedid: linked, State: state,
		CallerIDNum: callerNum, ConnectedLineNum: connected, Exten: exten}
}

// lastSync returns the last ipt.sync and the events after it.
func lastSync(fs []frame) (frame, []frame) {
	s := syncs(fs)
	if len(s) == 0 {
		return frame{}, nil
	}
	i := s[len(s)-1]
	return fs[i], fs[i+1:]
}

func TestInitialSnapshotIsSynced(t *testing.T) {
	h := startBridge(t, testUsers, func(s *amitest.Server) {
		s.SetDevice("PJSIP/1001", "NOT_INUSE")
		s.SetDevice("PJSIP/1002", "UNAVAILABLE")
		s.SetDevice("PJSIP/1003", "INUSE")
		s.SetDevice("PJSIP/1005", "NOT_INUSE") // not in the users map
		s.SetDevice("Queue:support", "INUSE")
		s.SetChannel(phone("trunk", "1", "7.1", "7.1", "Up", "+4930111", "1003", "1003"))
		s.SetChannel(phone("1003", "2", "7.2", "7.1", "Up", "1003", "+4930111", "s"))
		s.SetContact(amitest.Contact{Endpoint: "1004", URI: "sip:1004@10.0.0.4:5060", Status: "Reachable"})
	}, nil)
	fs := h.waitFrames("an ipt.sync", func(fs []frame) bool { return len(syncs(fs)) > 0 })
	s := fs[syncs(fs)[0]].sync
	if s.Bridge != "b1" || s.ID == 0 {
		t.Fatalf("sync bridge %q id %d", s.Bridge, s.ID)
	}
	var got []string
	for _, d := range s.Devices {
		line := d.Ext + " " + d.User + " " + d.State
		if d.Call != nil {
			line += fmt.Sprintf(" call=%s/%s/%s/%s", d.Call.ID, d.Call.State, d.Call.Direction, d.Call.Peer)
			if _, err := time.Parse(time.RFC3339, d.Call.Since); err != nil {
				t.Errorf("call since %q: %v", d.Call.Since, err)
			}
		}
		got = append(got, line)
	}
	want := []string{
		"1001 alice registered",
		"1002 bob unregistered",
		"1003 carol registered call=7.1/in_call/inbound/+4930111",
		"1004 dave registered",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("sync devices\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestLiveEventsAreSequenced(t *testing.T) {
	h := startBridge(t, testUsers, func(s *amitest.Server) {
		s.SetDevice("PJSIP/1001", "NOT_INUSE")
		s.SetDevice("PJSIP/1002", "NOT_INUSE")
	}, nil)
	h.waitFrames("an ipt.sync", func(fs []frame) bool { return len(syncs(fs)) > 0 })

	caller := phone("1001", "1", "1.1", "1.1", "Ring", "1001", "", "1002")
	callee := phone("1002", "2", "1.2", "1.1", "Down", "1002", "1001", "s")
	h.ami.DialBegin(caller, callee)
	callee.State = "Ringing"
	h.ami.Newstate(callee)
	callee.State = "Up"
	h.ami.Newstate(callee)
	caller.State, caller.ConnectedLineNum = "Up", "1002"
	h.ami.Newstate(caller)
	h.ami.Hold("1.2")
	h.ami.Unhold("1.2")
	h.ami.Hangup("1.2")
	h.ami.Hangup("1.1")
	h.ami.DeviceStateChange("PJSIP/1002", "UNAVAILABLE")
	want := []string{
		"1001 ringing 1.1 outbound 1002", "1002 ringing 1.1 inbound 1001",
		"1002 answered 1.1 inbound 1001", "1001 answered 1.1 outbound 1002",
		"1002 held 1.1 inbound 1001", "1002 resumed 1.1 inbound 1001",
		"1002 ended 1.1 inbound 1001", "1001 ended 1.1 outbound 1002",
		"1002 unregistered",
	}
	fs := h.waitView("call cycle seen", view{"1001": regDev("alice"), "1002": unregDev("bob")})
	checkSequence(t, fs)
	_, events := lastSync(fs)
	// A second sync may race the first events at start (a gateway
	// connect and an AMI login at once); what follows the last sync
	// must then be the tail of the expected events.
	if len(events) > len(want) || len(events) == 0 {
		t.Fatalf("%d events after the last sync, want 1..%d", len(events), len(want))
	}
	for i, f := range events {
		if got, w := short(f.ev), want[len(want)-len(events)+i]; got != w || f.ev.User != testUsers[f.ev.Ext] || f.ev.ID == 0 {
			t.Fatalf("event %d = %q (user %q, id %d), want %q", i, got, f.ev.User, f.ev.ID, w)
		}
	}
}

// TestAMIDropMidCall: the PBX changes while the bridge is cut off from it
// (the call ends, the phone unregisters, another registers); after the AMI
// reconnect the gateway gets a new ipt.sync with the truth, and the events
// after it count from 1 again, on the same gateway connection.
func TestAMIDropMidCall(t *testing.T) {
	h := startBridge(t, testUsers, func(s *amitest.Server) {
		s.SetDevice("PJSIP/1001", "INUSE")
		s.SetDevice("PJSIP/1002", "UNAVAILABLE")
		s.SetDevice("PJSIP/1003", "NOT_INUSE")
		s.SetChannel(phone("1001", "1", "4.1", "4.1", "Up", "1001", "+4930999", "+4930999"))
	}, nil)
	h.waitView("call in progress", view{
		"1001": {user: "alice", state: wire.SyncRegistered, call: "4.1", callState: "in_call", direction: wire.Outbound, peer: "+4930999"},
		"1002": unregDev("bob"),
	})
	h.ami.DeviceStateChange("PJSIP/1004", "NOT_INUSE") // an event, so seq has moved
	h.waitView("dave registered", view{"1004": regDev("dave")})
	before := len(syncs(h.gw.all()))

	h.ami.RemoveChannel("4.1")
	h.ami.SetDevice("PJSIP/1001", "UNAVAILABLE")
	h.ami.SetDevice("PJSIP/1002", "NOT_INUSE")
	h.ami.DropConnections()

	h.waitFrames("a new ipt.sync after the AMI reconnect", func(fs []frame) bool {
		s, _ := lastSync(fs)
		v := fold([]frame{s})
		return len(syncs(fs)) > before && v["1001"] == unregDev("alice") && v["1002"] == regDev("bob") && v["1004"] == regDev("dave")
	})
	if h.ami.Logins() < 2 {
		t.Fatalf("logins = %d, want a reconnect", h.ami.Logins())
	}
	h.ami.DeviceStateChange("PJSIP/1003", "UNAVAILABLE")
	fs := h.waitView("event after the resync", view{"1003": unregDev("carol")})
	checkSequence(t, fs)
	s, events := lastSync(fs)
	if len(events) != 1 || events[0].ev.Seq != 1 || short(events[0].ev) != "1003 unregistered" {
		t.Fatalf("after the resync: %d events %+v, want one with seq 1", len(events), events)
	}
	if s.conn != 0 || h.gw.connCount() != 1 {
		t.Fatalf("gateway connection changed (sync on conn %d, %d conns): an AMI drop must not touch it", s.conn, h.gw.connCount())
	}
}

// TestEventsDuringSnapshotAreKept: an event written while the bridge takes
// a snapshot (after the device list, inside the channel list) is not in
// the snapshot; the bridge must apply it after the sync, not drop it.
func TestEventsDuringSnapshotAreKept(t *testing.T) {
	h := startBridge(t, testUsers, func(s *amitest.Server) {
		s.SetDevice("PJSIP/1001", "NOT_INUSE")
		s.SetDevice("PJSIP/1002", "UNAVAILABLE")
	}, nil)
	h.waitView("first sync", view{"1002": unregDev("bob")})
	checkSequence(t, h.gw.all())

	fired := make(chan struct{})
	h.ami.SetListHook(func(action string) {
		if action != "CoreShowChannels" {
			return
		}
		select {
		case <-fired:
			return
		default:
			close(fired)
		}
		h.ami.DeviceStateChange("PJSIP/1002", "NOT_INUSE")
		h.ami.Newstate(phone("1001", "3", "8.3", "8.1", "Ringing", "1001", "+4930555", "s"))
	})
	before := len(syncs(h.gw.all()))
	h.ami.FullyBooted() // Asterisk restarted: the bridge snapshots again
	fs := h.waitFrames("sync after FullyBooted, then the events from inside it", func(fs []frame) bool {
		if len(syncs(fs)) <= before {
			return false
		}
		v := fold(fs)
		return v["1002"] == regDev("bob") && v["1001"].callState == "ringing"
	})
	checkSequence(t, fs)
	s, events := lastSync(fs)
	if v := fold([]frame{s}); v["1002"].state != wire.SyncUnregistered || v["1001"].call != "" {
		t.Fatalf("the sync already holds the events (%v): the hook did not test the buffering", v)
	}
	var got []string
	for _, e := range events {
		got = append(got, short(e.ev))
	}
	want := "1002 registered | 1001 ringing 8.1 inbound +4930555"
	if strings.Join(got, " | ") != want {
		t.Fatalf("events after the sync: %q, want %q", strings.Join(got, " | "), want)
	}
}

func TestGatewayClose(t *testing.T) {
	tests := []struct {
		name      string
		code      int
		reason    string
		reconnect bool
	}{
		{"drain 1001 reconnects at once", 1001, "shutdown", true},
		{"internal 4500 reconnects", 4500, "internal", true},
		{"slow consumer 1008 reconnects", 1008, "slow_consumer", true},
		{"network cut reconnects", 0, "", true},
		{"forbidden 4403 stops", 4403, "forbidden", false},
		{"token 4401 stops", 4401, "token_signature", false},
		{"normal 1000 stops", 1000, "logged_out", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := startBridge(t, testUsers, func(s *amitest.Server) {
				s.SetDevice("PJSIP/1001", "NOT_INUSE")
			}, nil)
			h.waitView("first sync", view{"1001": regDev("alice")})
			h.ami.DeviceStateChange("PJSIP/1002", "NOT_INUSE") // an event, so seq has moved
			h.waitView("bob registered", view{"1002": regDev("bob")})
			h.gw.closeLast(tc.code, tc.reason)
			if !tc.reconnect {
				err := h.result()
				if !errors.Is(err, ErrGatewayRefused) {
					t.Fatalf("Run = %v, want ErrGatewayRefused", err)
				}
				if n := h.gw.connCount(); n != 1 {
					t.Fatalf("%d connections, want no reconnect", n)
				}
				return
			}
			h.waitFrames("sync on a new connection", func(fs []frame) bool {
				s, _ := lastSync(fs)
				return s.conn == 1
			})
			h.ami.DeviceStateChange("PJSIP/1001", "UNAVAILABLE")
			fs := h.waitView("event on the new connection", view{"1001": unregDev("alice")})
			checkSequence(t, fs)
			if _, events := lastSync(fs); len(events) != 1 || events[0].ev.Seq != 1 || events[0].conn != 1 {
				t.Fatalf("events after the new sync: %+v, want one with seq 1 on conn 1", events)
			}
		})
	}
}

func TestGatewayRefusesUpgrade(t *testing.T) {
	h := startBridge(t, testUsers, nil, func(c *Config) { c.Token = "refused" })
	if err := h.result(); !errors.Is(err, ErrGatewayRefused) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Run = %v, want ErrGatewayRefused with HTTP 401", err)
	}
}

func TestMintedTokenIsSent(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	h := startBridge(t, testUsers, nil, func(c *Config) { c.Token, c.JWTSecret, c.Tenant = "", secret, "acme" })
	h.waitFrames("a sync", func(fs []frame) bool { return len(syncs(fs)) > 0 })
	h.gw.mu.Lock()
	token := h.gw.tokens[0]
	h.gw.mu.Unlock()
	claims := verify(t, token, secret)
	if claims["sub"] != "b1" || claims["tenant"] != "acme" || fmt.Sprint(claims["roles"]) != "[bridge]" {
		t.Fatalf("claims %v", claims)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	good := Config{GatewayURL: "ws://127.0.0.1:1/v1/ws", BridgeID: "b1", Token: "t", AMI: ami.Config{Addr: "127.0.0.1:1"}}
	tests := []struct {
		name   string
		mutate func(*Config)
		field  string
	}{
		{"no gateway", func(c *Config) { c.GatewayURL = "" }, "gateway"},
		{"http gateway", func(c *Config) { c.GatewayURL = "http://x/v1/ws" }, "gateway"},
		{"bad bridge id", func(c *Config) { c.BridgeID = "b.1" }, "bridge-id"},
		{"no token", func(c *Config) { c.Token = "" }, "token"},
		{"mint without tenant", func(c *Config) { c.Token, c.JWTSecret = "", []byte("s") }, "tenant"},
		{"no ami, no simulator", func(c *Config) { c.AMI.Addr = "" }, "ami-addr"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.mutate(&c)
			err := Run(t.Context(), c)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.field+":") {
				t.Fatalf("Run = %v, want ErrConfig naming %s", err, tc.field)
			}
		})
	}
}

// TestPBXUnreachableLeavesGateway: a PBX that stays away longer than
// StaleAfter makes the bridge leave the gateway (close 1000), so the
// gateway turns its devices unknown instead of keeping them stuck; the
// bridge comes back only once the PBX is back and synchronised.
func TestPBXUnreachableLeavesGateway(t *testing.T) {
	h := startBridge(t, testUsers, func(s *amitest.Server) {
		s.SetDevice("PJSIP/1001", "NOT_INUSE")
	}, func(c *Config) { c.StaleAfter = 100 * time.Millisecond })
	h.waitView("first sync", view{"1001": regDev("alice")})
	h.ami.SetRefuseLogins(true)
	h.ami.DropConnections()
	testenv.WaitFor(t, 10*time.Second, func() error {
		h.gw.mu.Lock()
		defer h.gw.mu.Unlock()
		if code, ok := h.gw.closes[0]; !ok || code != 1000 {
			return fmt.Errorf("conn 0 close code %d (closed: %v), want 1000 from the bridge", code, ok)
		}
		return nil
	})
	h.ami.SetDevice("PJSIP/1001", "UNAVAILABLE")
	back := time.Now()
	if n := h.gw.connCount(); n != 1 {
		t.Fatalf("%d gateway connections while the PBX was away, want 1", n)
	}
	h.ami.SetRefuseLogins(false)
	fs := h.waitFrames("a sync on a new connection", func(fs []frame) bool {
		s, _ := lastSync(fs)
		return s.conn == 1
	})
	h.gw.mu.Lock()
	opened := h.gw.openedAt[1]
	h.gw.mu.Unlock()
	if opened.Before(back) {
		t.Fatalf("reconnected at %v, before the PBX was back at %v", opened, back)
	}
	if s, _ := lastSync(fs); fold([]frame{s})["1001"] != unregDev("alice") {
		t.Fatalf("sync %+v, want 1001 unregistered", s.sync)
	}
}

// TestExpiringIsRefreshedAndPingsAnswered: a minting bridge answers
// expiring with refresh and a new valid token; pings get pongs.
func TestExpiringIsRefreshedAndPingsAnswered(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	h := startBridge(t, testUsers, nil, func(c *Config) { c.Token, c.JWTSecret, c.Tenant = "", secret, "acme" })
	h.waitFrames("a sync", func(fs []frame) bool { return len(syncs(fs)) > 0 })
	if err := h.gw.sendLast(nil); err != nil {
		t.Fatal(err)
	}
	if err := h.gw.sendLast(map[string]any{"type": "expiring", "expires": time.Now().Add(time.Minute).Unix()}); err != nil {
		t.Fatal(err)
	}
	fs := h.waitFrames("a refresh", func(fs []frame) bool {
		for _, f := range fs {
			if f.raw["type"] == "refresh" {
				return true
			}
		}
		return false
	})
	for _, f := range fs {
		if f.raw["type"] == "refresh" {
			tok, _ := f.raw["token"].(string)
			if c := verify(t, tok, secret); c["sub"] != "b1" || f.raw["id"] == nil {
				t.Fatalf("refresh %v: claims %v", f.raw, c)
			}
		}
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		h.gw.mu.Lock()
		defer h.gw.mu.Unlock()
		if h.gw.pongs == 0 {
			return errors.New("no pong")
		}
		return nil
	})
}

// TestRefusedEventLeadsToResync: an ipt.event the gateway refuses for now
// (429) is not lost for good: a fresh ipt.sync follows on the same
// connection and carries its effect.
func TestRefusedEventLeadsToResync(t *testing.T) {
	h := startBridge(t, testUsers, func(s *amitest.Server) {
		s.SetDevice("PJSIP/1001", "NOT_INUSE")
	}, func(c *Config) { c.ResyncDelay = 10 * time.Millisecond })
	h.waitView("first sync", view{"1001": regDev("alice")})
	before := len(syncs(h.gw.all()))
	h.gw.mu.Lock()
	h.gw.refuse = 1
	h.gw.mu.Unlock()
	h.ami.DeviceStateChange("PJSIP/1001", "UNAVAILABLE")
	fs := h.waitFrames("a resync after the refused event", func(fs []frame) bool {
		s, _ := lastSync(fs)
		return len(syncs(fs)) > before && fold([]frame{s})["1001"] == unregDev("alice")
	})
	checkSequence(t, fs)
	if s, _ := lastSync(fs); s.conn != 0 {
		t.Fatalf("resync on conn %d, want the same connection", s.conn)
	}
}
