package presence

import (
	"sort"
	"time"

	"github.com/pgw/pgw/wire"
)

// SessionState is what the rules need to know about one live session.
type SessionState struct {
	Device string
	Idle   bool
	Bridge bool
	// Conns counts the session's open connections; 0 means it is in grace.
	Conns int
	// GraceUntil is when a session with no connections ends.
	GraceUntil time.Time
}

// UserState is everything a store keeps about one user; Aggregate turns it
// into the PRESENCE object.
type UserState struct {
	Manual   wire.Status // "" when no manual status is set
	Note     string
	Sessions map[string]*SessionState
	Phone    *wire.Phone
}

// Aggregate applies the status rules of contract §4 to st:
// offline if no (non-bridge) session is live; else the manual status if set;
// else away if every live session is idle; else online. Devices are the
// sorted distinct devices of the live sessions. Version and Since are left to
// the caller.
func Aggregate(tenant, user string, st *UserState) wire.Presence {
	p := wire.OfflinePresence(tenant, user)
	p.Phone = st.Phone
	allIdle := true
	seen := map[string]bool{}
	for _, s := range st.Sessions {
		if s.Bridge {
			continue
		}
		p.Sessions++
		if !s.Idle {
			allIdle = false
		}
		if s.Device != "" && !seen[s.Device] {
			seen[s.Device] = true
			p.Devices = append(p.Devices, s.Device)
		}
	}
	sort.Strings(p.Devices)
	switch {
	case p.Sessions == 0:
		p.Status = wire.Offline
	case st.Manual != "":
		base, custom := SplitCustom(st.Manual)
		p.Status, p.Custom, p.Manual, p.Note = base, custom, true, st.Note
	case allIdle:
		p.Status = wire.Away
	default:
		p.Status = wire.Online
	}
	return p
}
