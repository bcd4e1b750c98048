package login

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Revoker is a live connection authenticated by a login. Revoke ends it
// (the gateway sends bye login_revoked and closes 4401); it must not block.
type Revoker interface{ Revoke() }

// Tracker knows the login sessions of a node's live connections and ends
// those connections when their session is gone (contract §2.1,
// revocation). Its cost per check round grows with the number of distinct
// sessions, not connections: one pipelined HMGET per session.
type Tracker struct {
	v *Verifier

	mu   sync.Mutex
	byID map[string]*tracked
}

// tracked is one login session and the connections that use it.
type tracked struct {
	user, tenant string // raw field values at login
	conns        []Revoker
}

// NewTracker returns an empty tracker reading through v.
func NewTracker(v *Verifier) *Tracker {
	return &Tracker{v: v, byID: map[string]*tracked{}}
}

// Add records that c is authenticated by l.
func (t *Tracker) Add(l Login, c Revoker) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byID[l.ID]
	if e == nil {
		e = &tracked{user: l.user, tenant: l.tenant}
		t.byID[l.ID] = e
	}
	e.conns = append(e.conns, c)
}

// Remove forgets c (it closed); a session without connections is no longer
// checked.
func (t *Tracker) Remove(id string, c Revoker) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byID[id]
	if e == nil {
		return
	}
	if i := slices.Index(e.conns, c); i >= 0 {
		e.conns = slices.Delete(e.conns, i, i+1)
	}
	if len(e.conns) == 0 {
		delete(t.byID, id)
	}
}

// Sessions is the number of distinct login sessions tracked.
func (t *Tracker) Sessions() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byID)
}

// CheckBatch is how many HMGETs one pipeline round trip carries.
const CheckBatch = 1000

// Round is what one check round did.
type Round struct {
	Sessions int // distinct sessions checked (one HMGET each)
	Revoked  int // sessions found gone, expired or changed
	Closed   int // connections revoked
}

// Check reads every tracked session once (pipelined HMGET of the user and
// tenant fields and the two timing fields, CheckBatch per round trip) and
// revokes the connections of each session that is gone, expired, or now
// names another user or tenant. A Redis failure revokes nothing (a store
// outage must not log everyone out) and is returned; sessions read before
// it still count.
func (t *Tracker) Check(ctx context.Context) (Round, error) {
	t.mu.Lock()
	ids := make([]string, 0, len(t.byID))
	want := make([]tracked, 0, len(t.byID))
	for id, e := range t.byID {
		ids = append(ids, id)
		want = append(want, tracked{user: e.user, tenant: e.tenant})
	}
	t.mu.Unlock()

	var r Round
	var gone []string
	now := t.v.cfg.Now()
	fields := []string{t.v.fields[iUser], t.v.fields[iTenant], FieldLastAccessed, FieldMaxInactive}
	for start := 0; start < len(ids); start += CheckBatch {
		end := min(start+CheckBatch, len(ids))
		cmds := make([]*redis.SliceCmd, 0, end-start)
		_, err := t.v.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, id := range ids[start:end] {
				cmds = append(cmds, p.HMGet(ctx, t.v.key(id), fields...))
			}
			return nil
		})
		if err != nil {
			t.revoke(gone, &r)
			return r, err
		}
		for i, cmd := range cmds {
			r.Sessions++
			if t.v.revoked(cmd.Val(), want[start+i], now) {
				gone = append(gone, ids[start+i])
			}
		}
	}
	t.revoke(gone, &r)
	return r, nil
}

// revoked judges one check reply: user, tenant, lastAccessedTime,
// maxInactiveInterval.
func (v *Verifier) revoked(vals []any, want tracked, now time.Time) bool {
	user, ok1 := vals[0].(string)
	tenant, ok2 := vals[1].(string)
	if !ok1 || !ok2 || user != want.user || tenant != want.tenant {
		return true
	}
	exp, err := v.expiry([]any{iLastAccessed: vals[2], iMaxInactive: vals[3]})
	if err != nil {
		return true
	}
	return !exp.IsZero() && !now.Before(exp)
}

// revoke ends the connections of the sessions ids, outside the lock.
func (t *Tracker) revoke(ids []string, r *Round) {
	if len(ids) == 0 {
		return
	}
	var conns []Revoker
	t.mu.Lock()
	for _, id := range ids {
		if e := t.byID[id]; e != nil {
			conns = append(conns, e.conns...)
			delete(t.byID, id)
			r.Revoked++
		}
	}
	t.mu.Unlock()
	for _, c := range conns {
		c.Revoke()
	}
	r.Closed += len(conns)
}
