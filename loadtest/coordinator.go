package loadtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Options are the coordinator's own settings (not passed to workers).
type Options struct {
	// WorkerCommand starts one worker process (default: this executable
	// with the argument "worker").
	WorkerCommand []string
	// OnProgress, when set, is called twice a second with the sum of the
	// workers' progress.
	OnProgress func(Progress)
	// Log receives the coordinator's logs (default: discarded).
	Log *slog.Logger
	// ScrapePeriod is how often each node's /metrics is read (default 1s).
	ScrapePeriod time.Duration
}

// Run executes one load test: it starts the workers (in-process when
// cfg.Procs is 1), keeps their phases in step, samples the nodes'
// /metrics, checks the end state and returns the merged, judged result.
func Run(ctx context.Context, cfg Config, opts Options) (*Result, error) {
	if cfg.RunID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		cfg.RunID = "r" + hex.EncodeToString(b[:])
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.ScrapePeriod <= 0 {
		opts.ScrapePeriod = time.Second
	}
	if _, err := RaiseNoFile(); err != nil {
		opts.Log.Warn("cannot raise the open-file limit", "err", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	t0 := time.Now()
	load0 := loadAverage()
	smp := newSampler(t0, cfg.Targets)
	smp.scrapeAll(ctx) // the baseline, before any connection
	sctx, stopSampling := context.WithCancel(ctx)
	var swg sync.WaitGroup
	swg.Add(1)
	go func() {
		defer swg.Done()
		smp.run(sctx, opts.ScrapePeriod)
	}()

	v := newVerifier(cfg, smp, opts.Log)
	defer v.Close()
	h := newHub(cfg.Procs, v.atPhase)

	var results []Result
	var err error
	if cfg.Procs == 1 {
		results, err = runLocal(ctx, cfg, t0, h, opts)
	} else {
		results, err = runProcs(ctx, cfg, t0, h, opts)
	}
	stopSampling()
	swg.Wait()
	smp.scrapeAll(context.Background())

	res := &Result{Config: cfg, Start: t0, End: time.Now(), Phases: h.Phases()}
	for _, r := range results {
		res.Merge(r)
	}
	if res.Counters == nil {
		res.Merge(Result{})
	}
	res.Nodes = smp.series()
	from, to := window(res)
	res.Server = Summarize(res.Nodes, from, to, res.Counters[CDelivered]+res.Counters[CCalls])
	res.Server.AtVerify = v.AtVerify()
	res.Checks = append(v.Checks(), Evaluate(res)...)
	res.Notes = append(res.Notes, fmt.Sprintf("host load average (1 min) %s at the start, %s at the end; the harness used %.1f CPU s",
		load0, loadAverage(), float64(res.Counters[CClientCPUms])/1000))
	if err != nil {
		res.Notes = append(res.Notes, "run ended early: "+err.Error())
	}
	return res, err
}

// loadAverage is the host's 1-minute load average, as /proc/loadavg says.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}

// runLocal runs the only worker in this process.
func runLocal(ctx context.Context, cfg Config, t0 time.Time, h *hub, opts Options) ([]Result, error) {
	w := NewWorker(cfg, 0, 1, t0, nil, opts.Log)
	w.Sync = localSync{h: h, rec: w.Rec}
	stop := func() {}
	if opts.OnProgress != nil {
		stop = every(500*time.Millisecond, func() {
			p := w.Rec.Progress()
			p.Phase = w.Phase()
			opts.OnProgress(p)
		})
	}
	res, err := w.Run(ctx)
	stop()
	return []Result{res}, err
}

// runProcs starts cfg.Procs worker processes and relays their barriers.
func runProcs(ctx context.Context, cfg Config, t0 time.Time, h *hub, opts Options) ([]Result, error) {
	argv := opts.WorkerCommand
	if len(argv) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find own executable for workers: %w", err)
		}
		argv = []string{exe, "worker"}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		progress = make([]Progress, cfg.Procs)
		results  = make([]*Result, cfg.Procs)
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	var wg sync.WaitGroup
	for i := 0; i < cfg.Procs; i++ {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("%w: start %v: %w", ErrWorker, argv, err)
		}
		in := &lineWriter{enc: json.NewEncoder(stdin)}
		if err := in.write(workerInit{Config: cfg, Secret: cfg.Secret, Index: i, Procs: cfg.Procs, T0: t0}); err != nil {
			return nil, fmt.Errorf("%w: init worker %d: %w", ErrWorker, i, err)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer stdin.Close()
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 64*1024), 256<<20)
			for sc.Scan() {
				var m workerMsg
				if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
					fail(fmt.Errorf("%w: worker %d wrote %q", ErrWorker, i, sc.Text()))
					continue
				}
				switch {
				case m.Barrier != "":
					// Wait in a goroutine so progress lines keep flowing.
					wg.Add(1)
					go func(phase string, open int64) {
						defer wg.Done()
						at, err := h.arrive(ctx, phase, open)
						if err == nil {
							err = in.write(workerGo{At: at})
						}
						if err != nil {
							fail(err)
						}
					}(m.Barrier, m.Open)
				case m.Progress != nil:
					mu.Lock()
					progress[i] = *m.Progress
					mu.Unlock()
				case m.Result != nil:
					mu.Lock()
					results[i] = m.Result
					mu.Unlock()
					if m.Error != "" {
						fail(fmt.Errorf("%w: worker %d: %s", ErrWorker, i, m.Error))
					}
				}
			}
			if err := cmd.Wait(); err != nil && ctx.Err() == nil {
				fail(fmt.Errorf("%w: worker %d: %w", ErrWorker, i, err))
			}
		}(i)
	}
	stopProgress := func() {}
	if opts.OnProgress != nil {
		stopProgress = every(500*time.Millisecond, func() {
			mu.Lock()
			opts.OnProgress(sumProgress(progress))
			mu.Unlock()
		})
	}
	wg.Wait()
	stopProgress()
	var out []Result
	for i, r := range results {
		if r == nil {
			fail(fmt.Errorf("%w: worker %d sent no result", ErrWorker, i))
			continue
		}
		out = append(out, *r)
	}
	return out, firstErr
}

// sumProgress adds up the workers' progress; p99 is the worst worker's.
func sumProgress(ps []Progress) Progress {
	var s Progress
	for _, p := range ps {
		s.Open += p.Open
		s.Connects += p.Connects
		s.Sent += p.Sent
		s.Delivered += p.Delivered
		s.Errors += p.Errors
		s.P99ms = max(s.P99ms, p.P99ms)
		if s.Phase == "" {
			s.Phase = p.Phase // worker 0's
		}
	}
	return s
}
