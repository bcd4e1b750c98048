package chaos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"
)

// The model: what must be true once the faults are healed and the graces
// have run out. Each user is owned by one worker goroutine, so its part of
// the model is only touched by that worker (and by the checker while every
// worker is paused).

// mSession is one app instance of a user: its windows (connections) and
// its idle flag.
type mSession struct {
	id, device string
	idle       bool
	conns      []*Conn
}

// mUser is one user's part of the model.
type mUser struct {
	name     string
	token    string
	rng      *rand.Rand
	sessions map[string]*mSession
	// manual and note are the manual status ("" = none).
	manual, note string
	// dirty: an operation whose outcome cannot be known (an error or no
	// reply under a fault, a reconnect whose timing against the grace is
	// unknown) touched this user; the settle step makes the model true
	// again by re-sending the model's manual status and idle flags.
	dirty bool
	// zeroAt is when the user's last connection closed (zero: some open);
	// offlineSeen: we saw the user offline since then.
	zeroAt      time.Time
	offlineSeen bool
	nextSession int
}

func (u *mUser) openConns() []*Conn {
	var cs []*Conn
	for _, s := range u.sortedSessions() {
		cs = append(cs, s.conns...)
	}
	return cs
}

func (u *mUser) sortedSessions() []*mSession {
	ids := make([]string, 0, len(u.sessions))
	for id := range u.sessions {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]*mSession, 0, len(ids))
	for _, id := range ids {
		out = append(out, u.sessions[id])
	}
	return out
}

// liveSessions are the sessions with an open connection (after the grace,
// the only live ones).
func (u *mUser) liveSessions() []*mSession {
	var out []*mSession
	for _, s := range u.sortedSessions() {
		if len(s.conns) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// prune drops connections that ended without us closing them (a killed
// node, a server close). A session that lost its last connection that
// way may or may not have ended, depending on timing: the user is dirty.
func (u *mUser) prune() {
	for _, s := range u.sessions {
		kept := s.conns[:0]
		for _, c := range s.conns {
			if !c.Closed() {
				kept = append(kept, c)
			}
		}
		if len(kept) < len(s.conns) && len(kept) == 0 {
			u.dirty = true
		}
		s.conns = kept
	}
	u.noteZero()
}

// noteZero records when the user went to no open connection.
func (u *mUser) noteZero() {
	if len(u.openConns()) == 0 {
		if u.zeroAt.IsZero() {
			u.zeroAt, u.offlineSeen = time.Now(), false
		}
	} else {
		u.zeroAt = time.Time{}
	}
}

// reopening is called before a connection opens while the user has none:
// when the user surely went offline meanwhile, the manual status and the
// idle flags are gone; when that is not sure, the user is dirty and the
// model takes the likelier outcome.
func (u *mUser) reopening(grace time.Duration) {
	if u.zeroAt.IsZero() {
		return
	}
	gone := u.offlineSeen || time.Since(u.zeroAt) > 2*grace
	if !u.offlineSeen {
		u.dirty = true
	}
	if gone {
		u.manual, u.note = "", ""
		for _, s := range u.sessions {
			s.idle = false
		}
	}
	u.zeroAt = time.Time{}
}

// mPhone is one extension's truth as its bridge knows it.
type mPhone struct {
	user, ext  string
	registered bool
	callID     string
	callState  string // ringing, in_call, held; "" with no call
}

// view is the part of a PRESENCE object the checker compares.
type view struct {
	Status   string
	Manual   bool
	Note     string
	Sessions int
	Devices  string
	Phone    string
	Version  float64
}

func (v view) String() string {
	s := fmt.Sprintf("%s manual=%v note=%q sessions=%d devices=[%s] phone=%s", v.Status, v.Manual, v.Note, v.Sessions, v.Devices, v.Phone)
	if v.Version != 0 {
		s += fmt.Sprintf(" v%v", v.Version)
	}
	return s
}

// viewOf reads a PRESENCE object.
func viewOf(p map[string]any) view {
	v := view{}
	v.Status, _ = p["status"].(string)
	v.Manual, _ = p["manual"].(bool)
	v.Note, _ = p["note"].(string)
	n, _ := p["sessions"].(float64)
	v.Sessions = int(n)
	var ds []string
	if l, ok := p["devices"].([]any); ok {
		for _, d := range l {
			ds = append(ds, fmt.Sprint(d))
		}
	}
	v.Devices = strings.Join(ds, ",")
	if ph, ok := p["phone"].(map[string]any); ok {
		v.Phone = fmt.Sprintf("%v/%v", ph["state"], ph["ext"])
		if c, ok := ph["call"].(map[string]any); ok {
			v.Phone += fmt.Sprintf("/%v:%v", c["id"], c["state"])
		}
	}
	v.Version, _ = p["version"].(float64)
	return v
}

// expect is the model's PRESENCE of u (version left zero), with ph its
// extension's truth (nil: no extension).
func (u *mUser) expect(ph *mPhone) view {
	v := view{Status: "offline"}
	live := u.liveSessions()
	if len(live) > 0 {
		allIdle := true
		var ds []string
		for _, s := range live {
			if !s.idle {
				allIdle = false
			}
			if !slices.Contains(ds, s.device) {
				ds = append(ds, s.device)
			}
		}
		sort.Strings(ds)
		v.Sessions, v.Devices = len(live), strings.Join(ds, ",")
		switch {
		case u.manual != "":
			v.Status, v.Manual, v.Note = u.manual, true, u.note
		case allIdle:
			v.Status = "away"
		default:
			v.Status = "online"
		}
	}
	if ph != nil {
		st := "unregistered"
		if ph.registered {
			st = "idle"
			if ph.callID != "" {
				st = ph.callState
			}
		}
		v.Phone = st + "/" + ph.ext
		if ph.registered && ph.callID != "" {
			v.Phone += "/" + ph.callID + ":" + ph.callState
		}
	}
	return v
}
