package loadtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pgw/pgw/wire"
)

// Churn actions.
const (
	actChildReopen  = "child_reopen"  // close a child window, reopen it inside the grace
	actMainReopen   = "main_reopen"   // close the main window, reopen it inside the grace
	actAppRestart   = "app_restart"   // the app dies (sockets cut) and restarts inside the grace
	actOutsideGrace = "outside_grace" // the app quits and starts again after the grace: a new session
	actLogout       = "logout"        // logout, then log in again: a new session
)

// churnUser is one user's app: its windows and whether going offline is
// allowed right now (only outside-grace restarts and logouts may publish
// offline; anything else is a flap).
type churnUser struct {
	mu         sync.Mutex // held for the whole of an action
	i, gen     int
	conns      []*Client
	allowing   atomic.Bool
	allowUntil atomic.Int64 // unix nanos: late offline frames accepted until then
}

func (u *churnUser) offlineAllowed(at time.Time) bool {
	return u.allowing.Load() || at.UnixNano() < u.allowUntil.Load()
}

// runChurn connects every user's app, watches them with observer
// connections, and performs Cfg.Rate random actions per second for
// Cfg.Duration: windows closing and reopening inside and outside the grace,
// whole apps restarting, a fraction logging out. An offline published while
// a session should have stayed live counts as a flap.
func (w *Worker) runChurn(ctx context.Context) error {
	users := make([]*churnUser, w.Hi-w.Lo)
	byID := make(map[string]*churnUser, len(users))
	for k := range users {
		i := w.Lo + k
		users[k] = &churnUser{i: i, conns: make([]*Client, 1+w.Cfg.ChildWindows(i))}
		byID[w.Cfg.UserID(i)] = users[k]
	}
	jobs := w.userJobs(0)
	w.Rec.Add(CWanted, int64(len(jobs)))
	start, err := w.barrier(ctx, PhaseConnect)
	if err != nil {
		return err
	}
	for k, c := range w.ramp(ctx, start, jobs, w.plainSpec) {
		users[jobs[k].User-w.Lo].conns[jobs[k].Slot] = c
	}
	observers := w.observe(ctx, users, func(f *inFrame, at time.Time) {
		if f.Type != wire.TypePresence || f.Status != wire.Offline {
			return
		}
		if u := byID[f.User]; u != nil && !u.offlineAllowed(at) {
			w.Rec.Add(CFlaps, 1)
			w.Rec.Error("flap offline")
			w.Rec.Note(fmt.Sprintf("flap: %s published offline at %s while its session was live", f.User, at.Format(time.RFC3339Nano)))
		}
	})

	driveAt, err := w.barrier(ctx, PhaseDrive)
	if err != nil {
		closeAll(append(allConns(users), observers...))
		return err
	}
	rng := rand.New(rand.NewPCG(uint64(w.Cfg.Seed), uint64(w.Index)+1))
	var wg sync.WaitGroup
	pace(ctx, driveAt, w.Cfg.Rate/float64(w.Procs), -1, driveAt.Add(w.Cfg.Duration), func(_ int, _ time.Time) {
		u := users[rng.IntN(len(users))]
		if !u.mu.TryLock() {
			w.Rec.Add(CSkipped, 1)
			return
		}
		kind := pickAction(rng, w.Cfg.Logout, len(u.conns) > 1)
		delay := time.Duration(0)
		if g := w.Cfg.Grace / 3; g > 0 {
			delay = time.Duration(rng.Int64N(int64(g)))
		}
		slot := 0
		if len(u.conns) > 1 {
			slot = 1 + rng.IntN(len(u.conns)-1)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer u.mu.Unlock()
			w.act(ctx, u, kind, slot, delay)
		}()
	})
	wg.Wait()

	if _, err := w.barrier(ctx, PhaseDrained); err != nil {
		closeAll(append(allConns(users), observers...))
		return err
	}
	if _, err := w.barrier(ctx, PhaseVerify); err != nil {
		closeAll(append(allConns(users), observers...))
		return err
	}
	var expect []expectation
	for _, u := range users {
		whole := true
		for _, c := range u.conns {
			whole = whole && c != nil && isOpen(c)
		}
		if whole {
			expect = append(expect, expectation{User: u.i, Status: wire.Online, Sessions: 1})
		}
	}
	w.verifyPresence(ctx, expect, 10*time.Second+w.Cfg.Grace)
	for _, u := range users { // no offline is a flap once the users leave
		u.allowing.Store(true)
	}
	return w.teardown(ctx, append(allConns(users), observers...))
}

// pickAction draws an action: a logout with probability logout, else one of
// the other four (a main-window reopen when there is no child window).
func pickAction(rng *rand.Rand, logout float64, hasChild bool) string {
	if rng.Float64() < logout {
		return actLogout
	}
	kinds := []string{actChildReopen, actMainReopen, actAppRestart, actOutsideGrace}
	k := kinds[rng.IntN(len(kinds))]
	if k == actChildReopen && !hasChild {
		k = actMainReopen
	}
	return k
}

// act performs one action on u (u.mu held).
func (w *Worker) act(ctx context.Context, u *churnUser, kind string, slot int, delay time.Duration) {
	w.Rec.Add(CActions, 1)
	w.Rec.Add("action_"+kind, 1)
	settle := func() { u.allowUntil.Store(time.Now().Add(2 * time.Second).UnixNano()) }
	switch kind {
	case actChildReopen, actMainReopen:
		if kind == actMainReopen {
			slot = 0
		}
		if c := u.conns[slot]; c != nil {
			c.Close()
		}
		_ = sleep(ctx, delay)
		u.conns[slot] = w.connectTimed(ctx, w.plainSpec(connJob{User: u.i, Slot: slot, Session: w.Cfg.SessionID(u.i, u.gen)}), time.Now(), LConnect)
	case actAppRestart:
		for _, c := range u.conns {
			if c != nil {
				c.Drop()
			}
		}
		_ = sleep(ctx, delay)
		w.reopenAll(ctx, u)
	case actOutsideGrace:
		u.allowing.Store(true)
		for _, c := range u.conns {
			if c != nil {
				c.Close()
			}
		}
		_ = sleep(ctx, w.Cfg.Grace+time.Second)
		u.gen++
		w.reopenAll(ctx, u)
		settle()
		u.allowing.Store(false)
	case actLogout:
		u.allowing.Store(true)
		w.logout(ctx, u)
		u.gen++
		w.reopenAll(ctx, u)
		settle()
		u.allowing.Store(false)
	}
}

// logout sends logout on the first open window and checks every window of
// the session is closed 1000 logged_out.
func (w *Worker) logout(ctx context.Context, u *churnUser) {
	var first *Client
	for _, c := range u.conns {
		if c != nil {
			c.MarkDeliberate()
			if first == nil {
				first = c
			}
		}
	}
	if first == nil {
		return
	}
	if err := first.Send(simpleFrame{Type: wire.TypeLogout, ID: first.NextID()}); err != nil {
		w.Rec.Error("logout " + ErrorKey(err))
	}
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for s, c := range u.conns {
		if c == nil {
			continue
		}
		select {
		case <-c.Done():
			if c.CloseCode != 1000 || c.CloseReason != "logged_out" {
				w.Rec.Error("logout ended with " + closeKey(c.CloseCode, c.CloseReason))
			}
		case <-deadline.C:
			w.Rec.Error("logout_not_closed")
			c.Close()
		case <-ctx.Done():
			c.Close()
		}
		u.conns[s] = nil
	}
}

// reopenAll opens every window of u's current session.
func (w *Worker) reopenAll(ctx context.Context, u *churnUser) {
	for s := range u.conns {
		u.conns[s] = w.connectTimed(ctx, w.plainSpec(connJob{User: u.i, Slot: s, Session: w.Cfg.SessionID(u.i, u.gen)}), time.Now(), LConnect)
	}
}

// observe opens one observer connection per 1000 users (an extra user of
// the tenant) subscribed to them; see gets every frame they receive.
func (w *Worker) observe(ctx context.Context, users []*churnUser, see func(f *inFrame, at time.Time)) []*Client {
	var out []*Client
	for k := 0; k < len(users); k += 1000 {
		end := min(k+1000, len(users))
		spec := DialSpec{User: k, Sub: fmt.Sprintf("%sobs%dx%d", w.Cfg.UserPrefix, w.Index, k/1000), OnClose: w.onClose,
			OnFrame: func(c *Client, f *inFrame, at time.Time) {
				if !w.countReplyError(f) {
					see(f, at)
				}
			}}
		c, err := w.dial(ctx, spec)
		if err != nil {
			w.Rec.Error("observer " + ErrorKey(err))
			continue
		}
		w.Rec.Opened()
		w.Rec.Add(CConnects, 1)
		var ids []string
		for _, u := range users[k:end] {
			ids = append(ids, w.Cfg.UserID(u.i))
		}
		id := c.NextID()
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if _, err := c.Request(rctx, id, wire.SubscribeFrame{Type: wire.TypeSubscribe, ID: id, Users: ids}); err != nil {
			w.Rec.Error("subscribe " + ErrorKey(err))
		}
		cancel()
		out = append(out, c)
	}
	return out
}

// allConns lists every open window of users.
func allConns(users []*churnUser) []*Client {
	var out []*Client
	for _, u := range users {
		out = append(out, u.conns...)
	}
	return out
}
