package amitest

import (
	"bufio"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pgw/pgw/ipt/ami"
)

// Channel is one channel of the fake PBX, as CoreShowChannels lists it.
type Channel struct {
	Channel          string // e.g. "PJSIP/1001-00000001"
	Uniqueid         string
	Linkedid         string // the call's first channel's Uniqueid
	State            string // ChannelStateDesc: "Down", "Ring", "Ringing", "Up", ...
	CallerIDNum      string
	ConnectedLineNum string
	Exten            string
	// Held is the fake's own bookkeeping: AMI lists no hold flag per
	// channel (a held phone shows as device state ONHOLD).
	Held  bool
	Since time.Time // start, for CoreShowChannel's Duration
}

// Contact is one registered contact (PJSIPShowContacts).
type Contact struct {
	Endpoint string // e.g. "1001"
	URI      string // e.g. "sip:1001@10.0.0.5:5060"
	Status   string // Reachable, Unreachable, NonQualified, Unknown
}

// channelStates maps ChannelStateDesc to Asterisk's numeric ChannelState.
var channelStates = map[string]string{
	"Down": "0", "Rsrvd": "1", "OffHook": "2", "Dialing": "3",
	"Ring": "4", "Ringing": "5", "Up": "6", "Busy": "7",
}

// Server is an in-process AMI server speaking the real wire format:
// banner, Login, Events, Ping, Logoff, and the lists DeviceStateList,
// CoreShowChannels and PJSIPShowContacts (EventList start … Complete with
// the ActionID). It holds a mutable PBX state: the Set*/Remove* methods
// change it silently (as if it changed while a client was away), the
// event-named methods change it and push the matching event to every
// logged-in connection. Safe for concurrent use.
type Server struct {
	ln             net.Listener
	username, pass string

	mu       sync.Mutex
	devices  map[string]string // device → state
	channels map[string]Channel
	contacts map[string]Contact // by URI
	conns    map[*conn]struct{}
	logins   int
	listHook func(action string)
	refuse   bool
	closed   bool

	wg sync.WaitGroup
}

type conn struct {
	nc     net.Conn
	wmu    sync.Mutex
	mu     sync.Mutex // guards the fields below (read by Emit)
	authed bool
	events bool
}

// NewServer listens on a free 127.0.0.1 port and accepts the given
// credentials. Close it when done.
func NewServer(username, secret string) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("amitest: listen: %w", err)
	}
	s := &Server{
		ln: ln, username: username, pass: secret,
		devices:  map[string]string{},
		channels: map[string]Channel{},
		contacts: map[string]Contact{},
		conns:    map[*conn]struct{}{},
	}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the host:port to dial.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops listening, drops every connection and waits for its goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	err := s.ln.Close()
	s.DropConnections()
	s.wg.Wait()
	return err
}

// openConns is a copy of the open connections, to write to or close
// without holding s.mu.
func (s *Server) openConns() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

// DropConnections closes every open client connection at once, as a crash
// or network cut would; the server keeps listening.
func (s *Server) DropConnections() {
	for _, c := range s.openConns() {
		_ = c.nc.Close()
	}
}

// Logins counts successful logins since the server started.
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// SetListHook installs f, called during every list action after the list's
// items were taken from the state and its start response written, but before
// the items are written. An event the hook emits therefore lands inside the
// list in the stream and is not reflected in the items: the case a client
// must handle to lose nothing while it snapshots. nil removes the hook.
func (s *Server) SetListHook(f func(action string)) {
	s.mu.Lock()
	s.listHook = f
	s.mu.Unlock()
}

// SetRefuseLogins makes every Login fail (as a PBX that is up but refuses
// the bridge), or accept again: a way to keep a client out for a while.
func (s *Server) SetRefuseLogins(refuse bool) {
	s.mu.Lock()
	s.refuse = refuse
	s.mu.Unlock()
}

// SetDevice sets a device's state (e.g. "PJSIP/1001", "NOT_INUSE") silently.
func (s *Server) SetDevice(device, state string) {
	s.mu.Lock()
	s.devices[device] = state
	s.mu.Unlock()
}

// SetChannel adds or replaces a channel silently.
func (s *Server) SetChannel(ch Channel) {
	if ch.Since.IsZero() {
		ch.Since = time.Now()
	}
	s.mu.Lock()
	s.channels[ch.Uniqueid] = ch
	s.mu.Unlock()
}

// RemoveChannel removes a channel silently.
func (s *Server) RemoveChannel(uniqueid string) {
	s.mu.Lock()
	delete(s.channels, uniqueid)
	s.mu.Unlock()
}

// SetContact adds or replaces a contact silently.
func (s *Server) SetContact(c Contact) {
	s.mu.Lock()
	s.contacts[c.URI] = c
	s.mu.Unlock()
}

// DeviceStateChange sets a device's state and emits DeviceStateChange.
func (s *Server) DeviceStateChange(device, state string) {
	s.SetDevice(device, state)
	s.Emit(map[string]string{"Event": "DeviceStateChange", "Device": device, "State": state})
}

// Newstate stores ch (new or changed state) and emits Newstate.
func (s *Server) Newstate(ch Channel) {
	s.SetChannel(ch)
	s.Emit(channelFields("Newstate", "", ch))
}

// DialBegin stores both channels and emits DialBegin from caller to callee.
func (s *Server) DialBegin(caller, callee Channel) {
	s.SetChannel(caller)
	s.SetChannel(callee)
	ev := channelFields("DialBegin", "", caller)
	for k, v := range channelFields("", "Dest", callee) {
		ev[k] = v
	}
	ev["DialString"] = strings.TrimPrefix(ami.DeviceOf(callee.Channel), "PJSIP/")
	s.Emit(ev)
}

// Hold marks a channel held, emits Hold, and sets its device ONHOLD with a
// DeviceStateChange, as Asterisk does.
func (s *Server) Hold(uniqueid string) { s.hold(uniqueid, true) }

// Unhold clears the hold, emits Unhold and sets the device back to INUSE.
func (s *Server) Unhold(uniqueid string) { s.hold(uniqueid, false) }

func (s *Server) hold(uniqueid string, held bool) {
	s.mu.Lock()
	ch, ok := s.channels[uniqueid]
	if ok {
		ch.Held = held
		s.channels[uniqueid] = ch
	}
	s.mu.Unlock()
	if !ok {
		return
	}
	name, state := "Unhold", "INUSE"
	if held {
		name, state = "Hold", "ONHOLD"
	}
	s.Emit(channelFields(name, "", ch))
	s.DeviceStateChange(ami.DeviceOf(ch.Channel), state)
}

// Hangup removes a channel and emits Hangup (cause 16, normal clearing).
func (s *Server) Hangup(uniqueid string) {
	s.mu.Lock()
	ch, ok := s.channels[uniqueid]
	delete(s.channels, uniqueid)
	s.mu.Unlock()
	if !ok {
		return
	}
	ev := channelFields("Hangup", "", ch)
	ev["Cause"], ev["Cause-txt"] = "16", "Normal Clearing"
	s.Emit(ev)
}

// FullyBooted emits FullyBooted (Asterisk sends it after start and reload).
func (s *Server) FullyBooted() {
	s.Emit(map[string]string{"Event": "FullyBooted", "Privilege": "system,all", "Status": "Fully Booted"})
}

// Emit writes one event to every logged-in connection that has events on.
func (s *Server) Emit(fields map[string]string) {
	for _, c := range s.openConns() {
		c.mu.Lock()
		on := c.authed && c.events
		c.mu.Unlock()
		if on {
			_ = c.write(fields)
		}
	}
}

// channelFields renders a channel as Asterisk's channel snapshot fields,
// each key prefixed (DialBegin's callee uses "Dest").
func channelFields(event, prefix string, ch Channel) map[string]string {
	f := map[string]string{}
	if event != "" {
		f["Event"] = event
	}
	f[prefix+"Channel"] = ch.Channel
	f[prefix+"ChannelState"] = channelStates[ch.State]
	f[prefix+"ChannelStateDesc"] = ch.State
	f[prefix+"CallerIDNum"] = orUnknown(ch.CallerIDNum)
	f[prefix+"CallerIDName"] = "<unknown>"
	f[prefix+"ConnectedLineNum"] = orUnknown(ch.ConnectedLineNum)
	f[prefix+"ConnectedLineName"] = "<unknown>"
	f[prefix+"Context"] = "from-internal"
	f[prefix+"Exten"] = ch.Exten
	f[prefix+"Priority"] = "1"
	f[prefix+"Uniqueid"] = ch.Uniqueid
	f[prefix+"Linkedid"] = ch.Linkedid
	return f
}

func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		c := &conn{nc: nc}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(c)
	}
}

func (c *conn) write(fields map[string]string) error {
	block := ami.Message{Fields: fields}.String()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.nc.Write([]byte(block))
	return err
}

func (s *Server) serve(c *conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.nc.Close()
	}()
	c.wmu.Lock()
	_, err := c.nc.Write([]byte("Asterisk Call Manager/5.0.1\r\n"))
	c.wmu.Unlock()
	if err != nil {
		return
	}
	br := bufio.NewReader(c.nc)
	for {
		req, err := ami.ReadFields(br)
		if err != nil {
			return
		}
		if !s.handle(c, ami.Message{Fields: req}) {
			return
		}
	}
}

// handle answers one action; false ends the connection.
func (s *Server) handle(c *conn, req ami.Message) bool {
	id := req.ActionID()
	reply := func(f map[string]string) bool {
		if id != "" {
			f["ActionID"] = id
		}
		return c.write(f) == nil
	}
	action := strings.ToLower(req.Get("Action"))
	c.mu.Lock()
	authed := c.authed
	c.mu.Unlock()
	if !authed && action != "login" {
		return reply(map[string]string{"Response": "Error", "Message": "Missing action in request"})
	}
	switch action {
	case "login":
		s.mu.Lock()
		refuse := s.refuse
		s.mu.Unlock()
		if refuse || req.Get("Username") != s.username || req.Get("Secret") != s.pass {
			return reply(map[string]string{"Response": "Error", "Message": "Authentication failed"})
		}
		c.mu.Lock()
		c.authed = true
		c.events = !strings.EqualFold(req.Get("Events"), "off")
		events := c.events
		c.mu.Unlock()
		s.mu.Lock()
		s.logins++
		s.mu.Unlock()
		if !reply(map[string]string{"Response": "Success", "Message": "Authentication accepted"}) {
			return false
		}
		if events {
			// Asterisk greets every new session that has events on with
			// FullyBooted once it is up.
			return c.write(map[string]string{"Event": "FullyBooted", "Privilege": "system,all", "Status": "Fully Booted"}) == nil
		}
		return true
	case "events":
		mask := req.Get("EventMask")
		c.mu.Lock()
		c.events = !strings.EqualFold(mask, "off")
		c.mu.Unlock()
		return reply(map[string]string{"Response": "Success", "Events": mask})
	case "ping":
		return reply(map[string]string{"Response": "Success", "Ping": "Pong",
			"Timestamp": strconv.FormatInt(time.Now().Unix(), 10) + ".000000"})
	case "logoff":
		reply(map[string]string{"Response": "Goodbye", "Message": "Thanks for all the fish."})
		return false
	case "devicestatelist", "coreshowchannels", "pjsipshowcontacts":
		return s.list(c, action, id, reply)
	}
	return reply(map[string]string{"Response": "Error", "Message": "Invalid/unknown command"})
}

func (s *Server) list(c *conn, action, id string, reply func(map[string]string) bool) bool {
	items, complete := s.listItems(action)
	if !reply(map[string]string{"Response": "Success", "EventList": "start", "Message": "Events will follow"}) {
		return false
	}
	s.mu.Lock()
	hook := s.listHook
	s.mu.Unlock()
	if hook != nil {
		hook(listName(action))
	}
	for _, it := range items {
		it["ActionID"] = id
		if c.write(it) != nil {
			return false
		}
	}
	return reply(map[string]string{"Event": complete, "EventList": "Complete", "ListItems": strconv.Itoa(len(items))})
}

// listName returns the canonical spelling of a list action for hooks.
func listName(action string) string {
	switch action {
	case "devicestatelist":
		return "DeviceStateList"
	case "coreshowchannels":
		return "CoreShowChannels"
	}
	return "PJSIPShowContacts"
}

// listItems takes the list's items from the current state, sorted so
// output is deterministic, and names its closing event.
func (s *Server) listItems(action string) ([]map[string]string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []map[string]string
	switch action {
	case "devicestatelist":
		for d, st := range s.devices {
			items = append(items, map[string]string{"Event": "DeviceStateChange", "Device": d, "State": st})
		}
		sortBy(items, "Device")
		return items, "DeviceStateListComplete"
	case "coreshowchannels":
		for _, ch := range s.channels {
			f := channelFields("CoreShowChannel", "", ch)
			d := time.Since(ch.Since).Round(time.Second)
			f["Duration"] = fmt.Sprintf("%02d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
			f["Application"], f["ApplicationData"], f["BridgeId"] = "Dial", "", ""
			items = append(items, f)
		}
		sortBy(items, "Uniqueid")
		return items, "CoreShowChannelsComplete"
	default:
		for _, ct := range s.contacts {
			items = append(items, map[string]string{
				"Event": "ContactList", "ObjectType": "contact",
				"ObjectName": ct.Endpoint + ";@" + strconv.Itoa(len(ct.URI)),
				"Endpoint":   ct.Endpoint, "Aor": ct.Endpoint, "Uri": ct.URI,
				"Status": ct.Status, "RoundtripUsec": "0",
			})
		}
		sortBy(items, "Uri")
		return items, "ContactListComplete"
	}
}

func sortBy(items []map[string]string, key string) {
	sort.Slice(items, func(i, j int) bool { return items[i][key] < items[j][key] })
}
