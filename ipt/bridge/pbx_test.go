package bridge

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pgw/pgw/ipt/ami"
	"github.com/pgw/pgw/wire"
)

// ev builds an AMI event from "Key: value" pairs.
func ev(name string, kv ...string) ami.Message {
	f := map[string]string{"Event": name}
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i]] = kv[i+1]
	}
	return ami.Message{Fields: f}
}

// chanEv is a channel event of channel name with state desc.
func chanEv(name, channel, uid, linked, state, callerNum, connected, exten string) ami.Message {
	return ev(name, "Channel", channel, "Uniqueid", uid, "Linkedid", linked, "ChannelStateDesc", state,
		"CallerIDNum", callerNum, "ConnectedLineNum", connected, "Exten", exten)
}

func dialBegin(caller, callee ami.Message, dialString string) ami.Message {
	m := ev("DialBegin", "DialString", dialString)
	for k, v := range caller.Fields {
		if k != "Event" {
			m.Fields[k] = v
		}
	}
	for k, v := range callee.Fields {
		if k != "Event" {
			m.Fields["Dest"+k] = v
		}
	}
	return m
}

// short renders an ipt.event as "ext event call direction peer".
func short(e wire.EventFrame) string {
	return strings.TrimSpace(fmt.Sprintf("%s %s %s %s %s", e.Ext, e.Event, e.Call, e.Direction, e.Peer))
}

func TestMapping(t *testing.T) {
	users := Users{"1001": "alice", "1002": "bob"}
	caller := func(state, connected string) ami.Message {
		return chanEv("Newstate", "PJSIP/1001-00000001", "1.1", "1.1", state, "1001", connected, "1002")
	}
	callee := func(state string) ami.Message {
		return chanEv("Newstate", "PJSIP/1002-00000002", "1.2", "1.1", state, "1002", "1001", "s")
	}
	trunk := chanEv("Newstate", "PJSIP/trunk-00000009", "2.1", "2.1", "Up", "+4930123", "<unknown>", "1001")
	tests := []struct {
		name   string
		start  map[string]string // device → state before
		events []ami.Message
		want   []string
	}{
		{"internal call, full cycle", map[string]string{"PJSIP/1001": "NOT_INUSE", "PJSIP/1002": "NOT_INUSE"},
			[]ami.Message{
				dialBegin(caller("Ring", ""), callee("Down"), "PJSIP/1002"),
				callee("Ringing"),
				callee("Up"),
				caller("Up", "1002"),
				chanEv("Hold", "PJSIP/1002-00000002", "1.2", "1.1", "Up", "1002", "1001", ""),
				ev("DeviceStateChange", "Device", "PJSIP/1002", "State", "ONHOLD"),
				chanEv("Unhold", "PJSIP/1002-00000002", "1.2", "1.1", "Up", "1002", "1001", ""),
				ev("Hangup", "Uniqueid", "1.2", "Channel", "PJSIP/1002-00000002"),
				ev("Hangup", "Uniqueid", "1.1", "Channel", "PJSIP/1001-00000001"),
			},
			[]string{
				"1001 ringing 1.1 outbound 1002", "1002 ringing 1.1 inbound 1001",
				"1002 answered 1.1 inbound 1001", "1001 answered 1.1 outbound 1002",
				"1002 held 1.1 inbound 1001", "1002 resumed 1.1 inbound 1001",
				"1002 ended 1.1 inbound 1001", "1001 ended 1.1 outbound 1002",
			}},
		{"inbound from an unmapped trunk", map[string]string{"PJSIP/1001": "NOT_INUSE"},
			[]ami.Message{
				dialBegin(trunk, chanEv("", "PJSIP/1001-0000000a", "2.2", "2.1", "Down", "1001", "+4930123", "s"), "1001"),
				chanEv("Newstate", "PJSIP/1001-0000000a", "2.2", "2.1", "Up", "1001", "+4930123", "s"),
				ev("Hangup", "Uniqueid", "2.1", "Channel", "PJSIP/trunk-00000009"),
				ev("Hangup", "Uniqueid", "2.2", "Channel", "PJSIP/1001-0000000a"),
			},
			[]string{"1001 ringing 2.1 inbound +4930123", "1001 answered 2.1 inbound +4930123", "1001 ended 2.1 inbound +4930123"}},
		{"Newstate alone: direction from Linkedid, late Ringing ignored", map[string]string{"PJSIP/1002": "NOT_INUSE"},
			[]ami.Message{callee("Ringing"), callee("Up"), callee("Ringing"), callee("Up")},
			[]string{"1002 ringing 1.1 inbound 1001", "1002 answered 1.1 inbound 1001"}},
		{"Newchannel of a dialling phone, no Dial (voicemail)", map[string]string{"PJSIP/1001": "NOT_INUSE"},
			[]ami.Message{
				chanEv("Newchannel", "PJSIP/1001-00000005", "4.1", "4.1", "Ring", "1001", "<unknown>", "*97"),
				chanEv("Newstate", "PJSIP/1001-00000005", "4.1", "4.1", "Up", "1001", "<unknown>", "*97"),
				ev("Hangup", "Uniqueid", "4.1", "Channel", "PJSIP/1001-00000005"),
			},
			[]string{"1001 ringing 4.1 outbound *97", "1001 answered 4.1 outbound *97", "1001 ended 4.1 outbound *97"}},
		{"registration by device state, repeats silent", map[string]string{"PJSIP/1001": "UNAVAILABLE"},
			[]ami.Message{
				ev("DeviceStateChange", "Device", "PJSIP/1001", "State", "NOT_INUSE"),
				ev("DeviceStateChange", "Device", "PJSIP/1001", "State", "INUSE"),
				ev("DeviceStateChange", "Device", "PJSIP/1001", "State", "UNAVAILABLE"),
				ev("DeviceStateChange", "Device", "PJSIP/1001", "State", "UNAVAILABLE"),
			},
			[]string{"1001 registered", "1001 unregistered"}},
		{"registration by contact", map[string]string{"PJSIP/1002": "UNAVAILABLE"},
			[]ami.Message{
				ev("ContactStatus", "URI", "sip:1002@10.0.0.2", "ContactStatus", "Created", "EndpointName", "1002"),
				ev("ContactStatus", "URI", "sip:1002@10.0.0.2", "ContactStatus", "Reachable", "EndpointName", "1002"),
				ev("ContactStatus", "URI", "sip:1002@10.0.0.2", "ContactStatus", "Removed", "EndpointName", "1002"),
			},
			[]string{"1002 registered", "1002 unregistered"}},
		{"unmapped, Local and unknown channels say nothing", map[string]string{"PJSIP/1001": "NOT_INUSE"},
			[]ami.Message{
				ev("DeviceStateChange", "Device", "PJSIP/1009", "State", "UNAVAILABLE"),
				ev("DeviceStateChange", "Device", "Queue:support", "State", "INUSE"),
				chanEv("Newstate", "Local/1001@from-internal-00000001;1", "3.1", "3.1", "Ringing", "", "", ""),
				ev("Hangup", "Uniqueid", "9.9", "Channel", "PJSIP/1001-000000ff"),
				chanEv("Unhold", "PJSIP/1001-000000ff", "9.9", "9.9", "Up", "", "", ""),
			},
			nil},
		{"IVR caller: answered only at DialEnd ANSWER", map[string]string{"PJSIP/1001": "NOT_INUSE", "PJSIP/1002": "NOT_INUSE"},
			[]ami.Message{
				dialBegin(caller("Up", ""), callee("Down"), "PJSIP/1002"),
				callee("Up"),
				ev("DialEnd", "Uniqueid", "1.1", "DestUniqueid", "1.2", "DialStatus", "ANSWER"),
			},
			[]string{"1001 ringing 1.1 outbound 1002", "1002 ringing 1.1 inbound 1001",
				"1002 answered 1.1 inbound 1001", "1001 answered 1.1 outbound 1002"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPBX(users, time.Now)
			var devs []ami.Message
			for d, s := range tc.start {
				devs = append(devs, ev("DeviceStateChange", "Device", d, "State", s))
			}
			p.loadSnapshot(devs, nil, nil)
			var got []string
			for _, m := range tc.events {
				for _, e := range p.apply(m) {
					if e.User != users[e.Ext] || e.Type != "ipt.event" || e.At == "" {
						t.Fatalf("event %+v: user, type or at wrong", e)
					}
					got = append(got, short(e))
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

func TestSnapshotDevices(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	users := Users{"1001": "alice", "1002": "bob", "1003": "carol", "1004": "dave"}
	devs := []ami.Message{
		ev("DeviceStateChange", "Device", "PJSIP/1001", "State", "NOT_INUSE"),
		ev("DeviceStateChange", "Device", "PJSIP/1002", "State", "UNAVAILABLE"),
		ev("DeviceStateChange", "Device", "PJSIP/1003", "State", "ONHOLD"),
		ev("DeviceStateChange", "Device", "Queue:support", "State", "INUSE"),
	}
	chans := []ami.Message{
		ev("CoreShowChannel", "Channel", "PJSIP/1003-00000002", "Uniqueid", "5.2", "Linkedid", "5.1",
			"ChannelStateDesc", "Up", "ConnectedLineNum", "+4930111", "Duration", "00:01:05"),
		ev("CoreShowChannel", "Channel", "PJSIP/1001-00000004", "Uniqueid", "6.1", "Linkedid", "6.1",
			"ChannelStateDesc", "Ring", "ConnectedLineNum", "<unknown>", "Exten", "1002", "Duration", "00:00:02"),
		ev("CoreShowChannel", "Channel", "Local/1002@from-internal-00000001;1", "Uniqueid", "6.2", "Linkedid", "6.1",
			"ChannelStateDesc", "Ring", "Duration", "00:00:02"),
	}
	contacts := []ami.Message{ev("ContactList", "Endpoint", "1004", "Uri", "sip:1004@h", "Status", "NonQualified")}
	p := newPBX(users, func() time.Time { return now })
	p.loadSnapshot(devs, chans, contacts)
	got := p.devices()
	want := []string{
		"1001 alice registered &{6.1 ringing outbound 1002 2026-11-26T08:59:58Z}",
		"1002 bob unregistered <nil>",
		"1003 carol registered &{5.1 held inbound +4930111 2026-11-26T08:58:55Z}",
		"1004 dave registered <nil>",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d devices %+v, want %d", len(got), got, len(want))
	}
	for i, d := range got {
		if s := fmt.Sprintf("%s %s %s %v", d.Ext, d.User, d.State, d.Call); s != want[i] {
			t.Errorf("device %d = %q, want %q", i, s, want[i])
		}
	}
}

func TestExtOf(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"PJSIP/1001", "1001", true},
		{"SIP/alice", "alice", true},
		{"IAX2/200", "200", true},
		{"Local/1001@from-internal", "", false},
		{"Queue:support", "", false},
		{"PJSIP/", "", false},
		{"PJSIP/a b", "", false},
		{"PJSIP/+4930123", "+4930123", true},
	}
	for _, tc := range tests {
		if got, ok := extOfDevice(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("extOfDevice(%q) = %q %v, want %q %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if got, ok := extOfChannel("PJSIP/1001-0000002a"); got != "1001" || !ok {
		t.Errorf("extOfChannel = %q %v", got, ok)
	}
}
