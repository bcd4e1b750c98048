package loadtest

import (
	"context"
	"time"

	"github.com/pgw/pgw/wire"
)

// runHold ramps every user's windows up at the connect rate, holds them for
// Cfg.Hold (the gateway pings; reading answers the pongs), checks every
// user is online with one session, and closes everything.
func (w *Worker) runHold(ctx context.Context) error {
	jobs := w.userJobs(0)
	w.Rec.Add(CWanted, int64(len(jobs)))
	start, err := w.barrier(ctx, PhaseConnect)
	if err != nil {
		return err
	}
	clients := w.ramp(ctx, start, jobs, w.plainSpec)
	if _, err := w.barrier(ctx, PhaseDrive); err != nil {
		closeAll(clients)
		return err
	}
	_ = sleep(ctx, w.Cfg.Hold)
	if err := w.verifyConnected(ctx, jobs, clients); err != nil {
		return err
	}
	return w.teardown(ctx, clients)
}

// plainSpec is a connection that only counts error replies and closes.
func (w *Worker) plainSpec(j connJob) DialSpec {
	return DialSpec{User: j.User, Slot: j.Slot, Session: j.Session,
		OnFrame: func(c *Client, f *inFrame, at time.Time) { w.countReplyError(f) },
		OnClose: w.onClose}
}

// verifyConnected enters the verify phase and checks that every user whose
// connections are all open is online with exactly one session.
func (w *Worker) verifyConnected(ctx context.Context, jobs []connJob, clients []*Client) error {
	if _, err := w.barrier(ctx, PhaseDrained); err != nil {
		closeAll(clients)
		return err
	}
	if _, err := w.barrier(ctx, PhaseVerify); err != nil {
		closeAll(clients)
		return err
	}
	whole := map[int]bool{}
	for i, j := range jobs {
		ok, seen := whole[j.User]
		whole[j.User] = (ok || !seen) && clients[i] != nil && isOpen(clients[i])
	}
	var expect []expectation
	for u := w.Lo; u < w.Hi; u++ {
		if whole[u] {
			expect = append(expect, expectation{User: u, Status: wire.Online, Sessions: 1})
		}
	}
	w.verifyPresence(ctx, expect, 10*time.Second)
	return nil
}

// teardown closes every client, then waits for the others.
func (w *Worker) teardown(ctx context.Context, clients []*Client) error {
	if _, err := w.barrier(ctx, PhaseTeardown); err != nil {
		closeAll(clients)
		return err
	}
	closeAll(clients)
	_, err := w.barrier(ctx, PhaseDone)
	return err
}

// isOpen reports whether the client's reader still runs.
func isOpen(c *Client) bool {
	select {
	case <-c.Done():
		return false
	default:
		return true
	}
}
