package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgw/pgw/internal/testenv"
	"github.com/pgw/pgw/loadtest"
)

// Options shape one checker run.
type Options struct {
	Seed     uint64
	Duration time.Duration // chaos time in all; at least one round runs
	Round    time.Duration // the chaos phase of one round
	Users    int
	Cluster  bool
	// Converge bounds the wait for every invariant after a round's faults
	// are healed (generous: the machine may be loaded).
	Converge time.Duration
	History  int      // operations printed on a failure
	Faults   []string // enabled faults (default AllFaults, less redis for Cluster)
	// KeepGoing reports a broken round as an error and goes on from a fresh
	// start (every client closed, the bridge resynced) instead of stopping.
	KeepGoing bool
	// RedisLinksOnly limits the proxy faults to the nodes' Redis links (no
	// NATS link faults) and drops the nats fault.
	RedisLinksOnly bool
	// InOrder injects Faults in their order, cycling, instead of drawing
	// each kind (the seed still draws pauses, targets and durations): a
	// short run then injects the kinds it names.
	InOrder bool
	Log     func(format string, args ...any)
}

// AllFaults are the faults the schedule draws from.
var AllFaults = []string{"latency", "timeout", "reset", "stall", "kill", "redis", "nats", "stop"}

const (
	grace   = time.Second
	nodeTTL = 2 * time.Second
)

type run struct {
	t      testing.TB
	opt    runOpts
	env    *Env
	users  []*mUser
	bridge *mBridge
	// readTokens: one reader per watched user, so the checker's polling
	// stays within the HTTP API's per-principal rate limit.
	readTokens map[string]string
	nextLabel  atomic.Int64
	start      time.Time

	mu      sync.Mutex
	conns   []*Conn // every connection dialed, for the close-code check
	history []string
	nHist   int
	faults  []string // faults injected so far
	// suspect are the nodes of this round that may have been declared dead
	// (stopped, killed, or cut from Redis); roundStart is when it began.
	suspect    map[*Node]bool
	roundStart time.Time
}

type runOpts struct {
	Options
	Grace time.Duration
}

func (r *run) track(c *Conn) {
	r.mu.Lock()
	r.conns = append(r.conns, c)
	r.mu.Unlock()
}

// log appends one line to the history ring.
func (r *run) log(format string, args ...any) {
	line := fmt.Sprintf("%8.3fs ", time.Since(r.start).Seconds()) + fmt.Sprintf(format, args...)
	r.mu.Lock()
	if len(r.history) < r.opt.History {
		r.history = append(r.history, line)
	} else {
		r.history[r.nHist%r.opt.History] = line
	}
	r.nHist++
	r.mu.Unlock()
}

func (r *run) logOp(u *mUser, format string, args ...any) {
	r.log(u.name+": "+format, args...)
}

// lastOps returns the history ring oldest first.
func (r *run) lastOps() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.history) < r.opt.History {
		return append([]string(nil), r.history...)
	}
	i := r.nHist % r.opt.History
	return append(append([]string(nil), r.history[i:]...), r.history[:i]...)
}

// Run is one seeded checker run; it fails t with the seed, the last
// operations and the diff when an invariant does not hold.
func Run(t testing.TB, opt Options) {
	r := newRun(t, opt)
	opt = r.opt.Options
	defer r.closeAll()
	if err := r.settleBridge(time.Now().Add(opt.Converge)); err != nil {
		t.Fatalf("seed %d: %v", opt.Seed, err)
	}
	faultRng := rand.New(rand.NewPCG(opt.Seed, 0xfa))
	broken := 0
	for round := 1; ; round++ {
		r.mu.Lock()
		r.faults = nil
		r.mu.Unlock()
		r.log("round %d: chaos for %v", round, opt.Round)
		r.chaos(faultRng)
		r.heal()
		diff := r.converge(round)
		if len(diff) > 0 {
			report := fmt.Sprintf("chaos checker: seed %d, round %d: invariants broken\nreplay: %s\n\nfaults injected this round: %s\n\nlast %d operations:\n%s\n\ndiff:\n%s",
				opt.Seed, round, r.replay(), strings.Join(r.faultList(), ", "), len(r.lastOps()), strings.Join(r.lastOps(), "\n"), strings.Join(diff, "\n"))
			if !opt.KeepGoing {
				t.Fatal(report)
			}
			t.Error(report)
			broken++
			r.freshStart()
			if diff := r.converge(round); len(diff) > 0 {
				t.Fatalf("seed %d: no fresh start after round %d:\n%s", opt.Seed, round, strings.Join(diff, "\n"))
			}
		} else {
			opt.Log("seed %d round %d: every invariant holds (%d connections dialed; %s; faults: %s)", opt.Seed, round, len(r.allConns()), r.summary(), strings.Join(r.faultList(), ", "))
		}
		if time.Duration(round)*opt.Round >= opt.Duration {
			opt.Log("seed %d: %d rounds, %d with broken invariants", opt.Seed, round, broken)
			return
		}
	}
}

func (r *run) faultList() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.faults...)
}

// freshStart closes every client (users go home, the bridge reconnects and
// resyncs) and forgets the connections already judged, so a broken round
// does not break the next ones.
func (r *run) freshStart() {
	r.closeAll()
	for _, u := range r.users {
		u.sessions = map[string]*mSession{}
		u.manual, u.note, u.dirty = "", "", false
		u.zeroAt, u.offlineSeen = time.Time{}, true
	}
	r.bridge.conn, r.bridge.dirty = nil, true
	r.mu.Lock()
	r.conns = nil
	r.mu.Unlock()
	r.log("fresh start: every client closed")
}

// newRun starts the servers and builds the model of opt's users.
func newRun(t testing.TB, opt Options) *run {
	if opt.Users == 0 {
		opt.Users = 8
	}
	if opt.Round == 0 {
		opt.Round = 8 * time.Second
	}
	if opt.Converge == 0 {
		opt.Converge = 60 * time.Second
	}
	if opt.History == 0 {
		opt.History = 80
	}
	if opt.Faults == nil {
		opt.Faults = defaultFaults(opt.Cluster)
	}
	if opt.RedisLinksOnly {
		opt.Faults = slices.DeleteFunc(slices.Clone(opt.Faults), func(f string) bool { return f == "nats" })
	}
	if opt.Log == nil {
		opt.Log = t.Logf
	}
	env := NewEnv(t, EnvOptions{Nodes: 3, Cluster: opt.Cluster, Grace: grace, NodeTTL: nodeTTL, Prefix: "chaos", LogLevel: "info"})
	r := &run{t: t, opt: runOpts{Options: opt, Grace: grace}, env: env, start: time.Now()}
	mint := func(sub string, roles ...string) string {
		tok, err := loadtest.Token(Secret, "chaos", sub, roles, "", 6*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	r.readTokens = map[string]string{}
	r.bridge = &mBridge{rng: rand.New(rand.NewPCG(opt.Seed, 0xb1)), token: mint(bridgeID, "bridge"), phones: map[string]*mPhone{}}
	for i := range opt.Users {
		name := fmt.Sprintf("u%d", i)
		r.readTokens[name] = mint("reader-" + name)
		r.users = append(r.users, &mUser{name: name, token: mint(name), rng: rand.New(rand.NewPCG(opt.Seed, uint64(i+1))), sessions: map[string]*mSession{}})
		r.bridge.phones[name] = &mPhone{user: name, ext: fmt.Sprint(1000 + i), registered: true}
	}
	return r
}

// closeAll closes every connection still open.
func (r *run) closeAll() {
	for _, c := range r.allConns() {
		if !c.Closed() {
			c.Close()
		}
	}
}

func (r *run) allConns() []*Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Conn(nil), r.conns...)
}

// chaos runs every worker and the fault schedule for one round.
func (r *run) chaos(faultRng *rand.Rand) {
	r.mu.Lock()
	r.suspect, r.roundStart = map[*Node]bool{}, time.Now()
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), r.opt.Round)
	defer cancel()
	var wg sync.WaitGroup
	for _, u := range r.users {
		wg.Go(func() {
			for ctx.Err() == nil {
				r.step(ctx, u)
				pause(ctx, time.Duration(20+u.rng.IntN(200))*time.Millisecond)
			}
			// Some users go home at the round's end, so every check sees
			// users going offline too.
			if u.rng.IntN(3) == 0 {
				for _, c := range u.openConns() {
					r.closeWindow(u, c)
				}
			}
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			r.bridgeStep(ctx)
			pause(ctx, time.Duration(50+r.bridge.rng.IntN(250))*time.Millisecond)
		}
	})
	wg.Go(func() { r.faultSchedule(ctx, faultRng) })
	wg.Wait()
}

// pause waits d or until ctx ends: the pacing of the random operations
// (not a synchronisation).
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// heal removes every fault and waits until every node is ready.
func (r *run) heal() {
	r.env.HealProxies()
	for _, n := range r.env.Nodes {
		n.Cont()
		if n.Exited() {
			r.log("node %s had exited (a start while Redis was down fails): restarting it", n.ID)
			n.Kill()
		}
		if n.Pid() == 0 {
			if err := n.Restart(); err != nil {
				r.t.Fatalf("seed %d: restart node %s: %v", r.opt.Seed, n.ID, err)
			}
		}
	}
	for _, n := range r.env.Nodes {
		r.env.WaitReady(n, r.opt.Converge)
	}
	// A node that was stopped or cut off may still be reaped, or be about
	// to re-assert: wait until every heartbeat is in and no mark is left.
	testenv.WaitFor(r.t, r.opt.Converge, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return r.env.NodesSettled(ctx)
	})
	r.log("healed: proxies clean, every node ready and heartbeating")
}

// replay is the command that runs the same schedule again.
func (r *run) replay() string {
	o := r.opt
	cmd := fmt.Sprintf("make chaos SEED=%d DURATION=%v ROUND=%v", o.Seed, o.Duration, o.Round)
	if !slices.Equal(o.Faults, defaultFaults(o.Cluster)) {
		cmd += " FAULTS=" + strings.Join(o.Faults, ",")
	}
	if o.Cluster {
		cmd += " CLUSTER=1"
	}
	if o.RedisLinksOnly {
		cmd += " REDIS_LINKS_ONLY=1"
	}
	if o.InOrder {
		cmd += " IN_ORDER=1"
	}
	return cmd
}

// defaultFaults are every fault, less the Redis restart on a cluster.
func defaultFaults(cluster bool) []string {
	var fs []string
	for _, f := range AllFaults {
		if !(cluster && f == "redis") {
			fs = append(fs, f)
		}
	}
	return fs
}
