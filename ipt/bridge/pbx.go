package bridge

import (
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/pgw/pgw/ipt/ami"
	"github.com/pgw/pgw/wire"
)

// pbx is the bridge's model of the Asterisk PBX, built from a snapshot and
// moved forward by events. Telephony events are derived from transitions of
// the model, not copied from AMI events, so an AMI event that changes
// nothing (a repeat, or one already reflected in the snapshot) yields no
// ipt.event. Owned by one goroutine.
type pbx struct {
	users Users
	now   func() time.Time

	devState map[string]string          // ext → AMI device state (NOT_INUSE, UNAVAILABLE, ...)
	contacts map[string]map[string]bool // ext → URIs of contacts that count as registered
	channels map[string]*channel        // Uniqueid → channel of a phone
	reg      map[string]bool            // ext → registration last reported
}

// channel is one phone's leg of a call.
type channel struct {
	uniqueid  string
	ext       string
	linkedid  string // the call id reported to the gateway
	direction string
	peer      string
	answered  bool
	held      bool
	since     time.Time
}

// phoneTechs are the channel technologies that are phones with an extension;
// Local/, Queue:, Custom: and the like are not.
var phoneTechs = []string{"PJSIP/", "SIP/", "IAX2/"}

// extPattern is what the gateway accepts as an extension (dial-string
// characters, at most 64); a device named otherwise is not reported.
var extPattern = regexp.MustCompile(`^[A-Za-z0-9_+#*.-]{1,64}$`)

// extOfDevice returns the extension of a device: "PJSIP/1001" → "1001".
func extOfDevice(device string) (string, bool) {
	for _, t := range phoneTechs {
		if rest, ok := strings.CutPrefix(device, t); ok && extPattern.MatchString(rest) {
			return rest, true
		}
	}
	return "", false
}

// maxPeer is the gateway's limit on peer; caller ids are cut to it.
const maxPeer = 128

func clampPeer(s string) string {
	if len(s) > maxPeer {
		return s[:maxPeer]
	}
	return s
}

// extOfChannel returns the extension of a channel: "PJSIP/1001-0000002a" → "1001".
func extOfChannel(name string) (string, bool) { return extOfDevice(ami.DeviceOf(name)) }

// deviceRegistered reports whether an AMI device state means the phone is
// reachable. UNKNOWN and INVALID say nothing is registered there.
func deviceRegistered(state string) bool {
	switch state {
	case "", "UNAVAILABLE", "INVALID", "UNKNOWN":
		return false
	}
	return true
}

// contactCounts reports whether a contact status means a live registration.
func contactCounts(status string) bool {
	switch status {
	case "Removed", "Unreachable":
		return false
	}
	return true
}

// meaningful reports whether a caller-id field holds a number.
func meaningful(s string) bool { return s != "" && s != "<unknown>" && s != "s" }

func newPBX(users Users, now func() time.Time) *pbx {
	return &pbx{
		users: users, now: now,
		devState: map[string]string{},
		contacts: map[string]map[string]bool{},
		channels: map[string]*channel{},
		reg:      map[string]bool{},
	}
}

// loadSnapshot replaces the model with the lists' items: DeviceStateList's
// DeviceStateChange items, CoreShowChannels' CoreShowChannel items and
// PJSIPShowContacts' ContactList items.
func (p *pbx) loadSnapshot(devices, channels, contacts []ami.Message) {
	*p = *newPBX(p.users, p.now)
	for _, m := range devices {
		if ext, ok := extOfDevice(m.Get("Device")); ok {
			p.devState[ext] = m.Get("State")
		}
	}
	for _, m := range contacts {
		ext := m.Get("Endpoint")
		if ext == "" {
			ext = m.Get("Aor")
		}
		if ext != "" && contactCounts(m.Get("Status")) {
			p.addContact(ext, m.Get("Uri"))
		}
	}
	now := p.now()
	for _, m := range channels {
		ci := channelInfo(m, "")
		ext, ok := extOfChannel(ci.name)
		if !ok || !ringingOrUp(ci.state) {
			continue
		}
		ch := p.newChannel(ci, ext)
		ch.answered = ci.state == "Up"
		ch.held = ch.answered && p.devState[ext] == "ONHOLD"
		if d, ok := parseDuration(m.Get("Duration")); ok {
			ch.since = now.Add(-d)
		}
	}
	for ext := range p.knownExts() {
		p.reg[ext] = p.registered(ext)
	}
}

func ringingOrUp(state string) bool { return state == "Ring" || state == "Ringing" || state == "Up" }

// parseDuration reads CoreShowChannel's "HH:MM:SS".
func parseDuration(s string) (time.Duration, bool) {
	var h, m, sec int
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, false
	}
	for i, dst := range []*int{&h, &m, &sec} {
		n := 0
		for _, r := range parts[i] {
			if r < '0' || r > '9' {
				return 0, false
			}
			n = n*10 + int(r-'0')
		}
		*dst = n
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second, true
}

func (p *pbx) addContact(ext, uri string) {
	if p.contacts[ext] == nil {
		p.contacts[ext] = map[string]bool{}
	}
	p.contacts[ext][uri] = true
}

// registered: the device state says reachable, a contact is registered, or
// the phone is on a call (which it cannot be while unregistered).
func (p *pbx) registered(ext string) bool {
	if deviceRegistered(p.devState[ext]) || len(p.contacts[ext]) > 0 {
		return true
	}
	for _, ch := range p.channels {
		if ch.ext == ext {
			return true
		}
	}
	return false
}

// knownExts is every extension the sync must list: the mapped ones, and
// without a map every extension the PBX reported.
func (p *pbx) knownExts() map[string]bool {
	exts := map[string]bool{}
	for _, e := range p.users.Exts() {
		exts[e] = true
	}
	if p.users == nil {
		for e := range p.devState {
			exts[e] = true
		}
		for e := range p.contacts {
			exts[e] = true
		}
		for _, ch := range p.channels {
			exts[ch.ext] = true
		}
	}
	return exts
}

// devices renders the model as ipt.sync devices, sorted by extension.
func (p *pbx) devices() []wire.Device {
	out := []wire.Device{}
	for ext := range p.knownExts() {
		user, ok := p.users.User(ext)
		if !ok {
			continue
		}
		d := wire.Device{Ext: ext, User: user, State: wire.SyncUnregistered}
		if p.registered(ext) {
			d.State = wire.SyncRegistered
		}
		if ch := p.mainCall(ext); ch != nil {
			d.Call = ch.call()
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ext < out[j].Ext })
	return out
}

// mainCall picks the call a device shows when it has several (call
// waiting): a talking call first, then a ringing one, then a held one;
// among equals the oldest.
func (p *pbx) mainCall(ext string) *channel {
	rank := func(ch *channel) int {
		switch {
		case ch.answered && !ch.held:
			return 0
		case !ch.answered:
			return 1
		}
		return 2
	}
	var best *channel
	for _, ch := range p.channels {
		if ch.ext != ext {
			continue
		}
		if best == nil || rank(ch) < rank(best) ||
			rank(ch) == rank(best) && (ch.since.Before(best.since) || ch.since.Equal(best.since) && ch.uniqueid < best.uniqueid) {
			best = ch
		}
	}
	return best
}

func (ch *channel) call() *wire.SyncCall {
	state := wire.PhoneRinging
	switch {
	case ch.held:
		state = wire.PhoneHeld
	case ch.answered:
		state = wire.PhoneInCall
	}
	return &wire.SyncCall{
		ID: ch.linkedid, State: state, Direction: ch.direction, Peer: clampPeer(ch.peer),
		Since: ch.since.UTC().Format(time.RFC3339),
	}
}

// chanInfo is the channel snapshot carried by channel events, read with a
// key prefix ("" or "Dest").
type chanInfo struct {
	name, uniqueid, linkedid, state, callerNum, connectedNum, exten string
}

func channelInfo(m ami.Message, prefix string) chanInfo {
	return chanInfo{
		name:         m.Get(prefix + "Channel"),
		uniqueid:     m.Get(prefix + "Uniqueid"),
		linkedid:     m.Get(prefix + "Linkedid"),
		state:        m.Get(prefix + "ChannelStateDesc"),
		callerNum:    m.Get(prefix + "CallerIDNum"),
		connectedNum: m.Get(prefix + "ConnectedLineNum"),
		exten:        m.Get(prefix + "Exten"),
	}
}

// newChannel adds a channel first seen in ci. The originating channel of a
// call is the one whose Uniqueid is the Linkedid: for a phone that means it
// dialled out. The peer is the connected line, or the dialled extension.
func (p *pbx) newChannel(ci chanInfo, ext string) *channel {
	ch := &channel{uniqueid: ci.uniqueid, ext: ext, linkedid: ci.linkedid, direction: wire.Inbound, since: p.now()}
	if ch.linkedid == "" {
		ch.linkedid = ci.uniqueid
	}
	if ci.uniqueid == ch.linkedid {
		ch.direction = wire.Outbound
	}
	switch {
	case meaningful(ci.connectedNum):
		ch.peer = ci.connectedNum
	case ch.direction == wire.Outbound && meaningful(ci.exten):
		ch.peer = ci.exten
	}
	p.channels[ci.uniqueid] = ch
	return ch
}

// apply moves the model by one AMI event and returns the telephony events
// the change amounts to (none for events that change nothing).
func (p *pbx) apply(m ami.Message) []wire.EventFrame {
	switch m.Event() {
	case "DeviceStateChange":
		ext, ok := extOfDevice(m.Get("Device"))
		if !ok {
			return nil
		}
		p.devState[ext] = m.Get("State")
		return p.regChange(ext)
	case "ContactStatus":
		ext := m.Get("EndpointName")
		if ext == "" {
			ext = m.Get("AOR")
		}
		if ext == "" {
			return nil
		}
		uri := m.Get("URI")
		if contactCounts(m.Get("ContactStatus")) {
			p.addContact(ext, uri)
		} else if p.contacts[ext] != nil {
			delete(p.contacts[ext], uri)
			if len(p.contacts[ext]) == 0 {
				delete(p.contacts, ext)
			}
		}
		return p.regChange(ext)
	case "Newchannel", "Newstate":
		// A phone that dials out gets its channel in state Ring at once
		// (Newchannel, no Newstate); a called phone's starts Down and rings
		// with Newstate. Both are handled by state.
		return p.newstate(channelInfo(m, ""))
	case "DialBegin":
		return p.dialBegin(channelInfo(m, ""), channelInfo(m, "Dest"), m.Get("DialString"))
	case "DialEnd":
		if m.Get("DialStatus") != "ANSWER" {
			return nil
		}
		evs := p.answer(m.Get("Uniqueid"))
		return append(evs, p.answer(m.Get("DestUniqueid"))...)
	case "Hold":
		return p.hold(channelInfo(m, ""), true)
	case "Unhold":
		return p.hold(channelInfo(m, ""), false)
	case "Hangup":
		ch := p.channels[m.Get("Uniqueid")]
		if ch == nil {
			return nil
		}
		delete(p.channels, ch.uniqueid)
		evs := p.event(ch, wire.EventEnded)
		return append(evs, p.regChange(ch.ext)...)
	}
	return nil
}

// newstate: Ring/Ringing of an unknown channel starts a ringing call; Up
// answers it (or starts an answered one). A channel never goes back from
// Up to ringing, so a late Ringing cannot regress a call.
func (p *pbx) newstate(ci chanInfo) []wire.EventFrame {
	ext, ok := extOfChannel(ci.name)
	if !ok || !ringingOrUp(ci.state) {
		return nil
	}
	ch := p.channels[ci.uniqueid]
	if ch == nil {
		ch = p.newChannel(ci, ext)
		evs := p.regChange(ext)
		if ci.state == "Up" {
			ch.answered = true
			return append(evs, p.event(ch, wire.EventAnswered)...)
		}
		return append(evs, p.event(ch, wire.EventRinging)...)
	}
	if ch.peer == "" && meaningful(ci.connectedNum) {
		ch.peer = ci.connectedNum
	}
	if ci.state == "Up" {
		return p.answer(ci.uniqueid)
	}
	return nil
}

func (p *pbx) answer(uniqueid string) []wire.EventFrame {
	ch := p.channels[uniqueid]
	if ch == nil || ch.answered {
		return nil
	}
	ch.answered = true
	return p.event(ch, wire.EventAnswered)
}

// dialBegin: the callee's phone rings (inbound, peer = caller); the
// caller's phone is ringing out (outbound, peer = callee). A leg already
// known only gets its direction and peer corrected.
func (p *pbx) dialBegin(caller, callee chanInfo, dialString string) []wire.EventFrame {
	var evs []wire.EventFrame
	callerNum := caller.callerNum
	calleeNum := callee.callerNum
	if !meaningful(calleeNum) {
		calleeNum = dialString
		if i := strings.LastIndexByte(calleeNum, '/'); i >= 0 {
			calleeNum = calleeNum[i+1:]
		}
	}
	leg := func(ci chanInfo, dir, peer string) {
		ext, ok := extOfChannel(ci.name)
		if !ok || ci.uniqueid == "" {
			return
		}
		ch := p.channels[ci.uniqueid]
		if ch == nil {
			ch = p.newChannel(ci, ext)
			ch.direction = dir
			if meaningful(peer) {
				ch.peer = peer
			}
			evs = append(evs, p.regChange(ext)...)
			evs = append(evs, p.event(ch, wire.EventRinging)...)
			return
		}
		ch.direction = dir
		if meaningful(peer) {
			ch.peer = peer
		}
	}
	leg(caller, wire.Outbound, calleeNum)
	leg(callee, wire.Inbound, callerNum)
	return evs
}

func (p *pbx) hold(ci chanInfo, held bool) []wire.EventFrame {
	ch := p.channels[ci.uniqueid]
	if ch == nil {
		ext, ok := extOfChannel(ci.name)
		if !ok || !held {
			return nil
		}
		// A hold of a call we never saw (events lost before a resync):
		// the call exists and is answered.
		ch = p.newChannel(ci, ext)
		ch.answered = true
	}
	if ch.held == held {
		return nil
	}
	ch.held = held
	if held {
		return p.event(ch, wire.EventHeld)
	}
	return p.event(ch, wire.EventResumed)
}

// regChange reports a registration change of ext, if any.
func (p *pbx) regChange(ext string) []wire.EventFrame {
	now := p.registered(ext)
	if was, ok := p.reg[ext]; ok && was == now || !ok && !now {
		p.reg[ext] = now
		return nil
	}
	p.reg[ext] = now
	name := wire.EventUnregistered
	if now {
		name = wire.EventRegistered
	}
	return p.emit(ext, wire.EventFrame{EventBody: wire.EventBody{Event: name}})
}

// event renders a call event of ch.
func (p *pbx) event(ch *channel, name string) []wire.EventFrame {
	return p.emit(ch.ext, wire.EventFrame{EventBody: wire.EventBody{Event: name, Call: ch.linkedid, Direction: ch.direction, Peer: clampPeer(ch.peer)}})
}

// emit fills ext, user and time; unmapped extensions report nothing.
func (p *pbx) emit(ext string, e wire.EventFrame) []wire.EventFrame {
	user, ok := p.users.User(ext)
	if !ok {
		return nil
	}
	e.Type, e.Ext, e.User = wire.TypeIPTEvent, ext, user
	e.At = p.now().UTC().Format(time.RFC3339Nano)
	return []wire.EventFrame{e}
}
