package loadtest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pgw/pgw/wire"
)

// Phases of a run; each begins at a barrier every worker reaches.
const (
	PhaseConnect  = "connect"  // ramp: open the connections
	PhaseDrive    = "drive"    // the measured phase (hold, drive, churn, drop)
	PhaseDrained  = "drained"  // the driven phase is over and deliveries are in
	PhaseVerify   = "verify"   // presence checked while still connected
	PhaseTeardown = "teardown" // close everything
	PhaseDone     = "done"     // every worker closed its connections
)

// Syncer is the barrier between the workers of a run: Barrier returns once
// every worker has reached the phase, with the coordinator's release time.
type Syncer interface {
	Barrier(ctx context.Context, phase string) (time.Time, error)
}

// Worker runs its share of one scenario.
type Worker struct {
	Cfg          Config
	Index, Procs int
	Lo, Hi       int // users [Lo, Hi) are this worker's
	Rec          *Recorder
	Sync         Syncer
	Log          *slog.Logger

	conn  *connector
	phase atomic.Value

	// tokens caches the token of each subject and roles: a user's windows
	// and reconnects present the same token, as a real client's do, and
	// the harness does not spend its CPU re-signing it (a storm redials
	// every connection at once).
	tokensMu sync.Mutex
	tokens   map[string]string
}

// NewWorker prepares worker index of procs; t0 is the run's start, shared
// by every worker so their seconds line up.
func NewWorker(cfg Config, index, procs int, t0 time.Time, sync Syncer, log *slog.Logger) *Worker {
	lo, hi := Share(cfg.Users, index, procs)
	w := &Worker{Cfg: cfg, Index: index, Procs: procs, Lo: lo, Hi: hi, Sync: sync, Log: log,
		Rec:  NewRecorder(t0, primaryLatency(cfg.Scenario)),
		conn: newConnector(newSourcePool(index, cfg.SourceIPs)),
	}
	w.phase.Store(PhaseConnect)
	return w
}

func primaryLatency(scenario string) string {
	switch scenario {
	case ScenarioFanout:
		return LDelivery
	case ScenarioStorm:
		return LReconnect
	case ScenarioIPT:
		return LCall
	}
	return LConnect
}

// Phase is the phase the worker is in.
func (w *Worker) Phase() string { return w.phase.Load().(string) }

// barrier waits for every worker at phase and enters it.
func (w *Worker) barrier(ctx context.Context, phase string) (time.Time, error) {
	t, err := w.Sync.Barrier(ctx, phase)
	if err != nil {
		return t, fmt.Errorf("barrier %s: %w", phase, err)
	}
	w.phase.Store(phase)
	return t, nil
}

// Run runs the scenario to the end and returns the worker's result.
func (w *Worker) Run(ctx context.Context) (Result, error) {
	cpu0 := processCPU()
	stop := every(250*time.Millisecond, w.Rec.Tick) // the per-second open-connection sample
	var err error
	switch w.Cfg.Scenario {
	case ScenarioHold:
		err = w.runHold(ctx)
	case ScenarioFanout:
		err = w.runFanout(ctx)
	case ScenarioChurn:
		err = w.runChurn(ctx)
	case ScenarioStorm:
		err = w.runStorm(ctx)
	case ScenarioIPT:
		err = w.runIPT(ctx)
	default:
		err = fmt.Errorf("%w: scenario %q", ErrConfig, w.Cfg.Scenario)
	}
	stop()
	w.Rec.Tick()
	w.Rec.Add(CClientCPUms, (processCPU() - cpu0).Milliseconds())
	return w.Rec.Result(), err
}

// processCPU is the CPU time (user + system) this process has used: the
// report shows it so a saturated client is not mistaken for a slow server.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// target picks the node of user i's connection slot: round-robin over the
// targets, so a user's windows land on different nodes (any node may serve
// any connection).
func (w *Worker) target(user, slot int) string {
	t := w.Cfg.Targets
	return t[(user+slot)%len(t)]
}

// token returns the (cached) token of sub with roles.
func (w *Worker) token(sub string, roles []string) (string, error) {
	key := sub + "\x00" + strings.Join(roles, ",")
	w.tokensMu.Lock()
	tok, ok := w.tokens[key]
	w.tokensMu.Unlock()
	if ok {
		return tok, nil
	}
	tok, err := Token(w.Cfg.Secret, w.Cfg.Tenant, sub, roles, "", tokenTTL)
	if err != nil {
		return "", err
	}
	w.tokensMu.Lock()
	if w.tokens == nil {
		w.tokens = map[string]string{}
	}
	w.tokens[key] = tok
	w.tokensMu.Unlock()
	return tok, nil
}

// dial opens one connection: as user spec.User, or as spec.Sub with
// spec.Roles when set (observers, bridges).
func (w *Worker) dial(ctx context.Context, spec DialSpec) (*Client, error) {
	sub := spec.Sub
	if sub == "" {
		sub = w.Cfg.UserID(spec.User)
	}
	tok, err := w.token(sub, spec.Roles)
	if err != nil {
		return nil, &DialError{Key: "token", Err: err}
	}
	spec.Token = tok
	if spec.Target == "" {
		spec.Target = w.target(spec.User, spec.Slot)
	}
	if spec.Device == "" {
		spec.Device = wire.DeviceDesktop
	}
	if spec.Window == "" {
		spec.Window = "main"
		if spec.Slot > 0 {
			spec.Window = "child"
		}
	}
	inner := spec.OnFrame
	spec.OnFrame = func(c *Client, f *inFrame, at time.Time) {
		switch f.Type {
		case wire.TypePresence:
			w.Rec.Add(CPresenceIn, 1)
		case wire.TypeCall:
			w.Rec.Add(CCallIn, 1)
		}
		if inner != nil {
			inner(c, f, at)
		}
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return w.conn.Dial(dctx, spec)
}

// connectTimed dials with latency measured from due (the intended time) and
// counts the outcome; it never returns an error, only nil on failure.
func (w *Worker) connectTimed(ctx context.Context, spec DialSpec, due time.Time, lat string) *Client {
	c, err := w.dial(ctx, spec)
	if err != nil {
		if ctx.Err() == nil {
			w.Rec.Add(CConnectFailed, 1)
			w.Rec.Error(ErrorKey(err))
		}
		return nil
	}
	w.Rec.Latency(lat, c.Welcomed.Sub(due))
	w.Rec.Add(CConnects, 1)
	w.Rec.Opened()
	return c
}

// onClose is the common close handler: it keeps the open count and counts a
// close the harness did not ask for as an error.
func (w *Worker) onClose(c *Client, code int, reason string, deliberate bool) {
	w.Rec.ClosedConn()
	if deliberate {
		w.Rec.Add(CClosedByUs, 1)
		return
	}
	w.Rec.Add(CUnexpected, 1)
	if code == 0 {
		w.Rec.Error("dropped")
		return
	}
	w.Rec.Error(closeKey(code, reason))
}

// countReplyError counts an error reply that no one waited for.
func (w *Worker) countReplyError(f *inFrame) bool {
	if f.Type != wire.TypeError {
		return false
	}
	code := "unknown"
	if f.Error != nil {
		code = f.Error.Code
	}
	w.Rec.Error("problem " + code)
	return true
}

// pace calls emit for i = 0, 1, … at start + i/rate until n calls (n < 0:
// no limit) or until end (zero: no end) or ctx. It is open-loop: a late
// wake-up emits every overdue tick at once, each with its own intended time,
// so a stall shows up as latency instead of hiding as fewer sends.
func pace(ctx context.Context, start time.Time, rate float64, n int, end time.Time, emit func(i int, due time.Time)) {
	interval := time.Duration(float64(time.Second) / rate)
	timer := time.NewTimer(time.Until(start))
	defer timer.Stop()
	for i := 0; n < 0 || i < n; {
		due := start.Add(time.Duration(i) * interval)
		if !end.IsZero() && !due.Before(end) {
			return
		}
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		now := time.Now()
		for ; (n < 0 || i < n) && !start.Add(time.Duration(i)*interval).After(now); i++ {
			d := start.Add(time.Duration(i) * interval)
			if !end.IsZero() && !d.Before(end) {
				return
			}
			emit(i, d)
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// expectation is what one user's presence must be once the run settles.
type expectation struct {
	User     int
	Status   wire.Status
	Sessions int    // -1: not checked
	Phone    string // "": not checked
}

// verifyPresence reads the expected users' presence (through subscribe
// replies on a checker connection) until it matches or within passes, and
// counts the outcome. Users beyond Cfg.VerifyUsers are not checked.
func (w *Worker) verifyPresence(ctx context.Context, expect []expectation, within time.Duration) {
	if len(expect) > w.Cfg.VerifyUsers {
		expect = expect[:w.Cfg.VerifyUsers]
	}
	if len(expect) == 0 {
		return
	}
	byID := make(map[string]expectation, len(expect))
	ids := make([]string, 0, len(expect))
	for _, e := range expect {
		id := w.Cfg.UserID(e.User)
		byID[id] = e
		ids = append(ids, id)
	}
	pr, err := openPresenceReader(ctx, w.conn, w.Cfg, w.target(w.Lo, 0), fmt.Sprintf("%schk%d", w.Cfg.UserPrefix, w.Index))
	if err != nil {
		w.Rec.Error("checker " + ErrorKey(err))
		w.Rec.Add(CPresenceWrong, int64(len(expect)))
		return
	}
	defer pr.Close()
	wrong := pr.converge(ctx, ids, within, func(user string, p wire.Presence, ok bool) string {
		if !ok {
			return "missing from the subscribe reply"
		}
		return mismatch(byID[user], p)
	})
	w.Rec.Add(CPresenceOK, int64(len(ids)-len(wrong)))
	w.Rec.Add(CPresenceWrong, int64(len(wrong)))
	shown := 0
	for _, id := range ids {
		if why, bad := wrong[id]; bad && shown < 5 {
			w.Rec.Note(fmt.Sprintf("presence of %s wrong: %s", id, why))
			shown++
		}
	}
}

func mismatch(e expectation, p wire.Presence) string {
	var bad []string
	if p.Status != e.Status {
		bad = append(bad, fmt.Sprintf("status %s, want %s", p.Status, e.Status))
	}
	if e.Sessions >= 0 && p.Sessions != e.Sessions {
		bad = append(bad, fmt.Sprintf("sessions %d, want %d", p.Sessions, e.Sessions))
	}
	if e.Phone != "" {
		got := "none"
		if p.Phone != nil {
			got = p.Phone.State
		}
		if got != e.Phone {
			bad = append(bad, fmt.Sprintf("phone %s, want %s", got, e.Phone))
		}
	}
	return strings.Join(bad, "; ")
}

// closeAll closes clients in parallel (bounded), politely.
func closeAll(cs []*Client) {
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	for _, c := range cs {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(c *Client) {
			defer wg.Done()
			defer func() { <-sem }()
			c.Close()
		}(c)
	}
	wg.Wait()
}
