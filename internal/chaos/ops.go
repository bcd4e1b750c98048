package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// The operations one user's worker draws from its own seeded generator.

var (
	devices  = []string{"desktop", "web", "mobile"}
	statuses = []string{"online", "away", "busy", "dnd"}
)

// step runs one random operation of u.
func (r *run) step(ctx context.Context, u *mUser) {
	u.prune()
	open := u.openConns()
	live := u.liveSessions()
	k := u.rng.IntN(100)
	switch {
	case len(open) == 0:
		r.openSession(u)
	case k < 10:
		if len(live) < 2 {
			r.openSession(u)
		} else {
			r.closeWindow(u, open[u.rng.IntN(len(open))])
		}
	case k < 18:
		if len(open) < 4 {
			r.openWindow(u, live[u.rng.IntN(len(live))], "child")
		} else {
			r.closeWindow(u, open[u.rng.IntN(len(open))])
		}
	case k < 30:
		r.closeWindow(u, open[u.rng.IntN(len(open))])
	case k < 37:
		r.reconnectWithin(u, open[u.rng.IntN(len(open))])
	case k < 42:
		r.reconnectAfter(ctx, u, live[u.rng.IntN(len(live))])
	case k < 48:
		r.logout(u, live[u.rng.IntN(len(live))])
	case k < 58:
		r.statusWS(u, open[u.rng.IntN(len(open))])
	case k < 65:
		r.statusHTTP(u)
	case k < 74:
		r.idle(u, live[u.rng.IntN(len(live))])
	case k < 88:
		r.subscribe(u, open[u.rng.IntN(len(open))])
	case k < 93:
		r.unsubscribe(u, open[u.rng.IntN(len(open))])
	default:
		// idle: the user does nothing for a while.
		pause(ctx, time.Duration(u.rng.IntN(1500))*time.Millisecond)
	}
}

func (r *run) node(u *mUser) *Node { return r.env.Nodes[u.rng.IntN(len(r.env.Nodes))] }

// dial opens one window of session s and records the connection.
func (r *run) dial(u *mUser, s *mSession, window string, n *Node) (*Conn, error) {
	label := fmt.Sprintf("c%d", r.nextLabel.Add(1))
	c, err := DialTracked(n, label, u.token, u.name, s.id, window, s.device)
	if c != nil {
		r.track(c)
	}
	if err != nil {
		return nil, err
	}
	// An app watches its contacts as soon as it connects.
	r.subscribe(u, c)
	return c, nil
}

func (r *run) openSession(u *mUser) {
	u.nextSession++
	s := &mSession{id: fmt.Sprintf("%s-s%d", u.name, u.nextSession), device: devices[u.rng.IntN(len(devices))]}
	// Sometimes reuse an ended session id, as an app restarting would.
	for _, old := range u.sortedSessions() {
		if len(old.conns) == 0 && u.rng.IntN(2) == 0 {
			s = old
			break
		}
	}
	n := r.node(u)
	u.reopening(r.opt.Grace)
	c, err := r.dial(u, s, "main", n)
	if err != nil {
		r.logOp(u, "open session %s (%s) on %s: %v", s.id, s.device, n.ID, err)
		u.dirty = true // a hello that failed must leave nothing behind; its user is re-asserted
		u.noteZero()
		return
	}
	u.sessions[s.id] = s
	s.conns = append(s.conns, c)
	r.logOp(u, "open session %s (%s) main on %s: %s conn %s", s.id, s.device, n.ID, c.Label, c.ConnID)
}

func (r *run) openWindow(u *mUser, s *mSession, window string) {
	n := r.node(u)
	c, err := r.dial(u, s, window, n)
	if err != nil {
		r.logOp(u, "open %s window of %s on %s: %v", window, s.id, n.ID, err)
		u.dirty = true
		return
	}
	s.conns = append(s.conns, c)
	r.logOp(u, "open %s window of %s on %s: %s conn %s", window, s.id, n.ID, c.Label, c.ConnID)
}

func (u *mUser) remove(c *Conn) *mSession {
	for _, s := range u.sessions {
		for i, x := range s.conns {
			if x == c {
				s.conns = append(s.conns[:i], s.conns[i+1:]...)
				return s
			}
		}
	}
	return nil
}

func (r *run) closeWindow(u *mUser, c *Conn) {
	c.Close()
	u.remove(c)
	u.noteZero()
	r.logOp(u, "close %s (%s of %s on %s)", c.Label, c.Window, c.Session, c.Node.ID)
}

// reconnectWithin closes a window and opens it again at once, on any node,
// with the same session: the session continues when that is within the
// grace.
func (r *run) reconnectWithin(u *mUser, c *Conn) {
	s := u.remove(c)
	c.Close()
	if len(s.conns) == 0 {
		// The session had only this window: whether the reconnect beat the
		// grace depends on timing.
		u.dirty = true
	}
	n := r.node(u)
	nc, err := r.dial(u, s, c.Window, n)
	if err != nil {
		r.logOp(u, "reconnect %s within grace on %s: %v", c.Label, n.ID, err)
		u.dirty = true
		u.noteZero()
		return
	}
	s.conns = append(s.conns, nc)
	u.zeroAt = time.Time{}
	r.logOp(u, "reconnect %s within grace on %s: %s conn %s", c.Label, n.ID, nc.Label, nc.ConnID)
}

// reconnectAfter closes every window of s, waits (polling GET) until the
// session has ended, and opens its main window again.
func (r *run) reconnectAfter(ctx context.Context, u *mUser, s *mSession) {
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
	u.noteZero()
	want := len(u.liveSessions())
	deadline := time.Now().Add(10*r.opt.Grace + 10*time.Second)
	ended := false
	for time.Now().Before(deadline) && ctx.Err() == nil {
		p, err := r.get(r.node(u), u.name)
		if err == nil && int(p["sessions"].(float64)) == want {
			ended = true
			if want == 0 {
				u.offlineSeen = true
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !ended {
		u.dirty = true
	}
	s.idle = false
	u.reopening(r.opt.Grace)
	n := r.node(u)
	c, err := r.dial(u, s, "main", n)
	if err != nil {
		r.logOp(u, "reconnect %s after grace (ended seen: %v) on %s: %v", s.id, ended, n.ID, err)
		u.dirty = true
		u.noteZero()
		return
	}
	s.conns = append(s.conns, c)
	r.logOp(u, "reconnect %s after grace (ended seen: %v) on %s: %s conn %s", s.id, ended, n.ID, c.Label, c.ConnID)
}

// logout ends session s from one of its windows: every window, on every
// node, is closed 1000 logged_out.
func (r *run) logout(u *mUser, s *mSession) {
	c := s.conns[u.rng.IntN(len(s.conns))]
	res, err := c.Request(map[string]any{"type": "logout"})
	ok := err == nil && res["type"] == "ok"
	// Every window must close; give the gateway the op timeout, then close
	// what is left ourselves.
	for _, x := range s.conns {
		select {
		case <-x.Done():
		case <-time.After(opTimeout):
			ok = false
			x.Close()
		}
	}
	s.conns, s.idle = nil, false
	if !ok {
		u.dirty = true
	}
	u.noteZero()
	if ok && len(u.liveSessions()) == 0 {
		// Logout recomputes at once: the user is offline now.
		u.offlineSeen = true
	}
	r.logOp(u, "logout %s from %s on %s: %s", s.id, c.Label, c.Node.ID, result(res, err))
}

func (r *run) statusWS(u *mUser, c *Conn) {
	st := statuses[u.rng.IntN(len(statuses))]
	note := ""
	if st != "online" && u.rng.IntN(2) == 0 {
		note = fmt.Sprintf("note %d", u.rng.IntN(100))
	}
	res, err := c.Request(map[string]any{"type": "status", "status": st, "note": note})
	if err == nil && res["type"] == "ok" {
		u.setManual(st, note)
	} else {
		u.dirty = true
	}
	r.logOp(u, "status %s %q via %s on %s: %s", st, note, c.Label, c.Node.ID, result(res, err))
}

func (u *mUser) setManual(st, note string) {
	if st == "online" {
		u.manual, u.note = "", ""
	} else {
		u.manual, u.note = st, note
	}
}

// statusHTTP sets the manual status over HTTP on any node, often one that
// holds none of the user's connections.
func (r *run) statusHTTP(u *mUser) {
	st := statuses[u.rng.IntN(len(statuses))]
	note := ""
	if st != "online" {
		note = fmt.Sprintf("http %d", u.rng.IntN(100))
	}
	n := r.node(u)
	body, _ := json.Marshal(map[string]any{"status": st, "note": note})
	code, resp, err := r.http(http.MethodPut, n.Base()+"/v1/presence/"+u.name+"/status", u.token, body)
	if err == nil && code == http.StatusOK {
		u.setManual(st, note)
	} else {
		u.dirty = true
	}
	r.logOp(u, "PUT status %s %q on %s: %d %s %v", st, note, n.ID, code, resp, err)
}

func (r *run) idle(u *mUser, s *mSession) {
	c := s.conns[u.rng.IntN(len(s.conns))]
	v := !s.idle
	res, err := c.Request(map[string]any{"type": "idle", "idle": v})
	if err == nil && res["type"] == "ok" {
		s.idle = v
	} else {
		u.dirty = true
	}
	r.logOp(u, "idle %v for %s via %s on %s: %s", v, s.id, c.Label, c.Node.ID, result(res, err))
}

func (r *run) subscribe(u *mUser, c *Conn) {
	var us []string
	for range 1 + u.rng.IntN(4) {
		us = append(us, r.users[u.rng.IntN(len(r.users))].name)
	}
	res, err := c.Request(map[string]any{"type": "subscribe", "users": us})
	r.logOp(u, "subscribe %v via %s on %s: %s", us, c.Label, c.Node.ID, result(res, err))
}

func (r *run) unsubscribe(u *mUser, c *Conn) {
	subs := c.Subscribed()
	if len(subs) == 0 {
		return
	}
	us := []string{subs[u.rng.IntN(len(subs))]}
	res, err := c.Request(map[string]any{"type": "unsubscribe", "users": us})
	r.logOp(u, "unsubscribe %v via %s on %s: %s", us, c.Label, c.Node.ID, result(res, err))
}

func result(res map[string]any, err error) string {
	if err != nil {
		return err.Error()
	}
	if res["type"] == "error" {
		if p, ok := res["error"].(map[string]any); ok {
			return fmt.Sprintf("error %v %v", p["code"], p["detail"])
		}
	}
	return fmt.Sprint(res["type"])
}

var hc = &http.Client{Timeout: opTimeout}

func (r *run) http(method, url, token string, body []byte) (int, string, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b), nil
}

// get is GET /v1/presence/{user} on n.
func (r *run) get(n *Node, user string) (map[string]any, error) {
	code, body, err := r.http(http.MethodGet, n.Base()+"/v1/presence/"+user, r.readTokens[user], nil)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET %s on %s: %d %s", user, n.ID, code, body)
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return nil, err
	}
	if _, ok := p["sessions"].(float64); !ok {
		return nil, errors.New("no sessions in " + body)
	}
	return p, nil
}
