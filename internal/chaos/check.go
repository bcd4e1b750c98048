package chaos

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pgw/pgw/problem"
)

// converge settles what the round left unknowable, then polls every
// invariant until all hold or the deadline passes; it returns the diff.
func (r *run) converge(round int) []string {
	deadline := time.Now().Add(r.opt.Converge)
	if err := r.settleBridge(deadline); err != nil {
		return []string{err.Error()}
	}
	for _, u := range r.users {
		if err := r.settle(u, deadline); err != nil {
			return []string{err.Error()}
		}
	}
	var diff []string
	for {
		if b := r.bridge.conn; b == nil || b.Closed() {
			// A real bridge reconnects and syncs whenever its connection
			// closes (a node re-asserting after the heal closes it): so
			// does this one while the checker waits, or its session's
			// grace runs out and its phones turn unknown for good.
			r.log("bridge: connection closed while converging: reconnecting")
			if err := r.settleBridge(deadline); err != nil {
				return []string{err.Error()}
			}
		}
		diff = r.converged()
		if len(diff) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	diff = append(r.broken(), diff...)
	if len(diff) == 0 {
		// Users left with no connection are offline now: whatever manual
		// status they had is gone.
		for _, u := range r.users {
			if len(u.openConns()) == 0 {
				u.manual, u.note, u.offlineSeen = "", "", true
				for _, s := range u.sessions {
					s.idle = false
				}
			}
		}
		r.log("round %d: converged: %s", round, r.summary())
	}
	return diff
}

// settle re-sends a dirty user's manual status and each live session's
// idle flag, so the model is the truth again.
func (r *run) settle(u *mUser, deadline time.Time) error {
	u.prune()
	// A user with a connection on a node that may have been declared dead
	// may have gone offline meanwhile (losing the manual status) without
	// any client seeing it: the manual status is re-sent; the rest (the
	// connections, sessions and idle flags the node re-asserts) is checked.
	manualOnly := !u.dirty && r.touchedBySuspect(u.name)
	if !u.dirty && !manualOnly {
		return nil
	}
	try := func(what string, c *Conn, f map[string]any) error {
		for {
			res, err := c.Request(f)
			if err == nil && res["type"] == "ok" {
				r.logOp(u, "settle: %s via %s on %s: ok", what, c.Label, c.Node.ID)
				return nil
			}
			if c.Closed() || time.Now().After(deadline) {
				return fmt.Errorf("settle %s: %s via %s on %s: %s", u.name, what, c.Label, c.Node.ID, result(res, err))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	open := u.openConns()
	if len(open) == 0 {
		u.dirty = false
		return nil
	}
	st := u.manual
	if st == "" {
		st = "online"
	}
	if err := try("status "+st, open[0], map[string]any{"type": "status", "status": st, "note": u.note}); err != nil {
		return err
	}
	if manualOnly {
		return nil
	}
	for _, s := range u.liveSessions() {
		if err := try(fmt.Sprintf("idle %v for %s", s.idle, s.id), s.conns[0], map[string]any{"type": "idle", "idle": s.idle}); err != nil {
			return err
		}
	}
	u.dirty = false
	return nil
}

// converged checks what must hold once the system has settled: the
// :conn: keys are exactly the open connections; GET on every node answers
// the model; every subscriber's last frame per user equals GET and the
// model.
func (r *run) converged() []string {
	var diff []string
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// :conn: keys.
	want := map[string]string{}
	for _, u := range r.users {
		for _, c := range u.openConns() {
			want[c.ConnID] = c.Label + " (" + u.name + " on " + c.Node.ID + ")"
		}
	}
	if b := r.bridge.conn; b != nil && !b.Closed() {
		want[b.ConnID] = b.Label + " (bridge on " + b.Node.ID + ")"
	}
	got, err := r.env.ConnKeys(ctx)
	if err != nil {
		diff = append(diff, fmt.Sprintf("scan :conn: keys: %v", err))
	} else {
		labels := map[string]string{}
		for _, c := range r.allConns() {
			code, text, byUs, _ := c.CloseInfo()
			labels[c.ConnID] = fmt.Sprintf("%s (%s, %s of %s on %s, closed=%v code=%d %q byUs=%v)", c.Label, c.User, c.Window, c.Session, c.Node.ID, c.Closed(), code, text, byUs)
		}
		for id := range got {
			if _, ok := want[id]; !ok {
				diff = append(diff, fmt.Sprintf(":conn: key of %s without a live connection: %s", id, labels[id]))
			}
		}
		for id, l := range want {
			if !got[id] {
				diff = append(diff, fmt.Sprintf(":conn: key missing for live connection %s %s", id, l))
			}
		}
	}

	// GET on every node, against the model and each other.
	gets := map[string]view{}
	for _, u := range r.users {
		exp := u.expect(r.bridge.phones[u.name])
		var first *view
		for _, n := range r.env.Nodes {
			p, err := r.get(n, u.name)
			if err != nil {
				diff = append(diff, fmt.Sprintf("GET %s on %s: %v", u.name, n.ID, err))
				continue
			}
			v := viewOf(p)
			if first == nil {
				first = &v
				gets[u.name] = v
			} else if v != *first {
				diff = append(diff, fmt.Sprintf("GET %s: %s answers %s, %s answers %s", u.name, r.env.Nodes[0].ID, *first, n.ID, v))
			}
			nv := v
			nv.Version = 0
			if nv != exp {
				diff = append(diff, fmt.Sprintf("GET %s on %s: got %s, model %s", u.name, n.ID, v, exp))
			}
			if strings.HasPrefix(v.Phone, "ringing") && !strings.HasPrefix(exp.Phone, "ringing") {
				diff = append(diff, fmt.Sprintf("call stuck ringing: %s on %s shows %s, the bridge says %s", u.name, n.ID, v.Phone, exp.Phone))
			}
		}
	}

	// Every subscriber's last frame per user.
	for _, u := range r.users {
		for _, c := range u.openConns() {
			for su, f := range c.Last() {
				g, ok := gets[su]
				if !ok {
					continue
				}
				// The same object; the version may lag GET's only when the
				// store's newer version changed nothing a push would carry
				// (contract §3.2: a push is a real change).
				v := viewOf(f)
				same := v
				same.Version = g.Version
				if same != g || v.Version > g.Version {
					diff = append(diff, fmt.Sprintf("subscriber %s (%s on %s) holds %s: %s; GET: %s", c.Label, u.name, c.Node.ID, su, v, g))
				}
			}
		}
	}
	sort.Strings(diff)
	return diff
}

// closeCodes are the close codes of the contract's table.
var closeCodes = func() map[int]bool {
	m := map[int]bool{problem.CloseNormal: true}
	for _, in := range problem.Table() {
		if in.Close != 0 {
			m[in.Close] = true
		}
	}
	return m
}()

// broken lists what waiting cannot repair: versions that went back within
// a connection, and connections closed with a code outside the table (a
// cut socket is allowed only when its node was killed).
func (r *run) broken() []string {
	var out []string
	for _, c := range r.allConns() {
		out = append(out, c.Violations()...)
		if !c.Closed() {
			continue
		}
		code, text, byUs, killed := c.CloseInfo()
		if byUs {
			continue
		}
		if code == websocket.CloseAbnormalClosure && killed {
			continue
		}
		known := text == "" || problem.Lookup(problem.Code(text)).Code == problem.Code(text)
		if !closeCodes[code] || !known {
			out = append(out, fmt.Sprintf("%s (%s, %s of %s on %s) closed with %d %q: not in the close-code table", c.Label, c.User, c.Window, c.Session, c.Node.ID, code, text))
		}
	}
	return out
}

// summary is one line on the state the round converged to.
func (r *run) summary() string {
	var parts []string
	subs, offline := 0, 0
	for _, u := range r.users {
		v := u.expect(r.bridge.phones[u.name])
		parts = append(parts, fmt.Sprintf("%s %s/%d", u.name, v.Status, v.Sessions))
		for _, c := range u.openConns() {
			for su, f := range c.Last() {
				subs++
				if f["status"] == "offline" && su != "" {
					offline++
				}
			}
		}
	}
	return fmt.Sprintf("%s; %d subscriptions checked (%d of them offline)", strings.Join(parts, " "), subs, offline)
}
