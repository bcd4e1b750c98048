package loadtest

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pgw/pgw/wire"
)

// notePrefix tags the status changes the fanout driver makes; the note
// carries the intended send time, so any process on this host can measure
// the delivery latency from it (no shared map across workers needed).
const notePrefix = "lt "

// fanoutNote is the note of change seq of a run, intended at due.
func fanoutNote(due time.Time, seq int) string {
	return notePrefix + strconv.FormatInt(due.UnixNano(), 10) + " " + strconv.Itoa(seq)
}

// humanNotes are the notes of a --human-notes run (make demo): what people
// write, so a board watching the run reads like an office.
var humanNotes = []string{"in a meeting", "on a customer call", "lunch, back at 1", "focus time",
	"with a visitor", "back in 10 min", "working from home", "", "training until 3", "at the front desk"}

// note is the note of change seq intended at due: a timing stamp the
// receivers measure delivery latency from, or a human note.
func (w *Worker) note(due time.Time, seq int) string {
	if w.Cfg.HumanNotes {
		return humanNotes[seq%len(humanNotes)]
	}
	return fanoutNote(due, seq)
}

// parseFanoutNote returns the intended send time a note carries.
func parseFanoutNote(note string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(note, notePrefix)
	if !ok {
		return time.Time{}, false
	}
	ns, _, _ := strings.Cut(rest, " ")
	v, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, v), true
}

// driveStatuses are the manual statuses the driver cycles through; online
// is left out because it clears the manual status (and the note).
var driveStatuses = []wire.Status{wire.Away, wire.Busy, wire.DND}

// subscriptions returns the users user i watches: the next subs users.
func subscriptions(i, users, subs int) []int {
	out := make([]int, subs)
	for k := range out {
		out[k] = (i + 1 + k) % users
	}
	return out
}

// fanoutConn is one user's connection: as a subscriber, the last version
// seen per watched user; as the user whose status the driver changes, the
// status frames awaiting their reply and the last status the gateway
// accepted. A change the gateway refused (an error reply: an overloaded
// node answers 503 unavailable when its store times out) is counted as an
// error and neither expected at the subscribers nor at the verify.
type fanoutConn struct {
	mu       sync.Mutex
	last     map[string]int64
	sent     []sentStatus // in send order; replies come in the same order
	accepted wire.Status
}

// sentStatus is a status frame awaiting its reply.
type sentStatus struct {
	id     int64
	status wire.Status
}

// reply settles the status frame id answered by f (ok or error); false
// when f answers no status frame of this connection.
func (v *fanoutConn) reply(f *inFrame) (refused, ok bool) {
	if (f.Type != wire.TypeOK && f.Type != wire.TypeError) || len(f.ID) == 0 {
		return false, false
	}
	id, err := strconv.ParseInt(string(f.ID), 10, 64)
	if err != nil {
		return false, false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for i, s := range v.sent {
		if s.id != id {
			continue
		}
		if f.Type == wire.TypeOK {
			v.accepted = s.status
		}
		v.sent = append(v.sent[:i], v.sent[i+1:]...)
		return f.Type == wire.TypeError, true
	}
	return false, false
}

// expected is the status the user should end with: the last one sent when
// some are still unanswered (the gateway applies them in order), else the
// last one accepted.
func (v *fanoutConn) expected() wire.Status {
	v.mu.Lock()
	defer v.mu.Unlock()
	if n := len(v.sent); n > 0 {
		return v.sent[n-1].status
	}
	return v.accepted
}

// runFanout connects one window per user, subscribes each user to the next
// Subs users, then changes the statuses of this worker's users at its share
// of Cfg.Rate for Cfg.Duration on an open-loop schedule and measures the
// delivery latency of each change at every subscriber.
func (w *Worker) runFanout(ctx context.Context) error {
	n := w.Hi - w.Lo
	views := make([]*fanoutConn, n)
	jobs := make([]connJob, n)
	for k := range jobs {
		jobs[k] = connJob{User: w.Lo + k, Session: w.Cfg.SessionID(w.Lo+k, 0)}
		views[k] = &fanoutConn{last: make(map[string]int64, w.Cfg.Subs)}
	}
	w.Rec.Add(CWanted, int64(n))
	start, err := w.barrier(ctx, PhaseConnect)
	if err != nil {
		return err
	}
	clients := w.ramp(ctx, start, jobs, func(j connJob) DialSpec {
		return DialSpec{User: j.User, Session: j.Session, OnClose: w.onClose,
			OnFrame: func(c *Client, f *inFrame, at time.Time) { w.onFanoutFrame(views[j.User-w.Lo], f, at) }}
	})
	w.subscribeAll(ctx, clients, views)

	driveAt, err := w.barrier(ctx, PhaseDrive)
	if err != nil {
		closeAll(clients)
		return err
	}
	w.driveStatuses(ctx, driveAt, clients, views)
	_ = sleep(ctx, w.Cfg.Drain)

	if err := w.verifyFanout(ctx, jobs, clients, views); err != nil {
		return err
	}
	return w.teardown(ctx, clients)
}

// subscribeAll subscribes every connected user to its watched users and
// sets each view's starting versions from the reply.
func (w *Worker) subscribeAll(ctx context.Context, clients []*Client, views []*fanoutConn) {
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for k, c := range clients {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(k int, c *Client) {
			defer wg.Done()
			defer func() { <-sem }()
			var users []string
			for _, u := range subscriptions(w.Lo+k, w.Cfg.Users, w.Cfg.Subs) {
				users = append(users, w.Cfg.UserID(u))
			}
			id := c.NextID()
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if _, err := c.Request(rctx, id, wire.SubscribeFrame{Type: wire.TypeSubscribe, ID: id, Users: users}); err != nil {
				w.Rec.Error("subscribe " + ErrorKey(err))
			}
		}(k, c)
	}
	wg.Wait()
}

// onFanoutFrame measures a tagged presence frame and checks versions only
// go up per watched user.
func (w *Worker) onFanoutFrame(v *fanoutConn, f *inFrame, at time.Time) {
	if refused, ok := v.reply(f); ok && refused {
		w.Rec.Add(CExpected, -int64(w.Cfg.Subs))
		w.Rec.Add(CRefused, 1)
	}
	if w.countReplyError(f) || f.Type != wire.TypePresence {
		return
	}
	v.mu.Lock()
	prev, seen := v.last[f.User]
	if seen && f.Version <= prev {
		v.mu.Unlock()
		w.Rec.Add(CDuplicate, 1)
		w.Rec.Error("version_not_increasing")
		return
	}
	v.last[f.User] = f.Version
	v.mu.Unlock()
	if due, ok := parseFanoutNote(f.Note); ok {
		w.Rec.Latency(LDelivery, at.Sub(due))
		w.Rec.Add(CDelivered, 1)
	}
}

// driveStatuses sends the status changes of this worker's users from start
// for Cfg.Duration (index k = user Lo+k), each noted in views[k] until its
// reply.
func (w *Worker) driveStatuses(ctx context.Context, start time.Time, clients []*Client, views []*fanoutConn) {
	n := len(clients)
	locks := make([]sync.Mutex, n)
	type job struct {
		k, seq int
		due    time.Time
	}
	jobs := make(chan job, 4096)
	var wg sync.WaitGroup
	for s := 0; s < 32; s++ { // senders: a slow write delays one sender, not the schedule
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				c := clients[j.k]
				if c == nil {
					w.Rec.Add(CSkipped, 1)
					continue
				}
				st := driveStatuses[(j.seq/n)%len(driveStatuses)]
				locks[j.k].Lock()
				id, v := c.NextID(), views[j.k]
				v.mu.Lock()
				v.sent = append(v.sent, sentStatus{id: id, status: st})
				v.mu.Unlock()
				err := c.Send(statusFrame{Type: wire.TypeStatus, ID: id, Status: string(st), Note: w.note(j.due, j.seq)})
				if err != nil {
					v.mu.Lock()
					v.sent = v.sent[:len(v.sent)-1] // the last one is ours: sends of k are serialised
					v.mu.Unlock()
				}
				locks[j.k].Unlock()
				if err != nil {
					w.Rec.Error("send " + ErrorKey(err))
					continue
				}
				w.Rec.Latency(LSendLag, time.Since(j.due))
				w.Rec.Add(CSent, 1)
				w.Rec.Add(CExpected, int64(w.Cfg.Subs))
			}
		}()
	}
	rate := w.Cfg.Rate / float64(w.Procs)
	pace(ctx, start, rate, -1, start.Add(w.Cfg.Duration), func(i int, due time.Time) {
		select {
		case jobs <- job{k: i % n, seq: i, due: due}:
		case <-ctx.Done():
		}
	})
	close(jobs)
	wg.Wait()
}

// verifyFanout checks each user shows the last status it was given.
func (w *Worker) verifyFanout(ctx context.Context, jobs []connJob, clients []*Client, views []*fanoutConn) error {
	if _, err := w.barrier(ctx, PhaseDrained); err != nil {
		closeAll(clients)
		return err
	}
	if _, err := w.barrier(ctx, PhaseVerify); err != nil {
		closeAll(clients)
		return err
	}
	var expect []expectation
	for k, c := range clients {
		if c == nil || !isOpen(c) {
			continue
		}
		st := views[k].expected()
		if st == "" {
			st = wire.Online
		}
		expect = append(expect, expectation{User: jobs[k].User, Status: st, Sessions: 1})
	}
	w.verifyPresence(ctx, expect, 10*time.Second)
	return nil
}
