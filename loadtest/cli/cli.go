package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/pgw/pgw/loadtest"
	"github.com/pgw/pgw/loadtest/report"
	"github.com/schollz/progressbar/v3"
)

// Exit codes.
const (
	ExitPass  = 0 // every check passed (or was n/a)
	ExitFail  = 1 // the run finished and some check missed
	ExitError = 2 // the run could not be made (bad flags, no gateway…)
)

const usage = `usage:
  loadtest [run] --scenario hold|fanout|churn|storm|ipt --targets http://127.0.0.1:8080[,…] --secret S [flags]
  loadtest cleanup --redis-url redis://127.0.0.1:6379/0 --prefix P   (deletes only keys under P:)
  loadtest summarize --out FILE.md [--setup TEXT] result.json…   (benchmark page)
  loadtest report [--text F] [--html F] result.json   (reports of a saved run again)
  loadtest freeport   (prints a free 127.0.0.1 port, for scripts)
  loadtest worker   (internal: a worker process of a --procs run)

Every flag can also be set as LOADTEST_<FLAG> in the environment (dashes as
underscores); --secret also reads PGW_JWT_SECRET. Flags:
`

// harnessGCPercent is the harness's GC target when GOGC is not set. A
// harness process holds thousands of connections, each with a parked
// reader goroutine whose stack every GC cycle scans: at Go's default of 100
// the collector was a tenth of its CPU in a reconnect storm, CPU the nodes
// it measures then lack (the harness shares their cores). Its memory is
// not what it measures; 400 took 7% off its CPU in the same storm.
const harnessGCPercent = 400

// harnessGC sets harnessGCPercent unless the environment sets GOGC.
func harnessGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(harnessGCPercent)
	}
}

// Main runs the command and returns its exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	harnessGC()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if path := os.Getenv("LOADTEST_CPUPROFILE"); path != "" {
		// The harness's own profile (it must not be what a run measures):
		// one file per process, workers included.
		if f, err := os.Create(fmt.Sprintf("%s.%d", path, os.Getpid())); err == nil {
			defer f.Close()
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return run(ctx, args, stdout, stderr, log)
	case "worker":
		if err := loadtest.RunWorkerProcess(ctx, stdin, stdout, log); err != nil {
			log.Error("worker", "err", err)
			return ExitError
		}
		return ExitPass
	case "cleanup":
		return cleanup(ctx, args, stdout, stderr)
	case "report":
		return rerender(args, stdout, stderr)
	case "summarize":
		return summarize(args, stdout, stderr)
	case "freeport":
		return freePort(stdout, stderr)
	}
	fmt.Fprintf(stderr, "unknown command %q\n%s", cmd, usage)
	return ExitError
}

// outputs are where the reports go.
type outputs struct {
	text, json, html string
	progress         bool
}

// newFlags binds every flag to cfg and out.
func newFlags(cfg *loadtest.Config, out *outputs, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	fs.StringVar(&cfg.Scenario, "scenario", cfg.Scenario, "hold, fanout, churn, storm or ipt")
	fs.StringVar(&cfg.Label, "label", cfg.Label, "name of the run in reports (default: the scenario)")
	fs.Func("targets", "comma-separated gateway base URLs (connections round-robin over them)", func(s string) error {
		cfg.Targets = nil
		for _, t := range strings.Split(s, ",") {
			if t = strings.TrimSpace(t); t != "" {
				cfg.Targets = append(cfg.Targets, t)
			}
		}
		return nil
	})
	fs.StringVar(&cfg.Secret, "secret", cfg.Secret, "the gateway's HS256 JWT secret")
	fs.StringVar(&cfg.Tenant, "tenant", cfg.Tenant, "tenant of every user")
	fs.StringVar(&cfg.UserPrefix, "user-prefix", cfg.UserPrefix, "users are named PREFIX0, PREFIX1, …")
	fs.StringVar(&cfg.RunID, "run-id", cfg.RunID, "run id in session ids (default random)")
	fs.IntVar(&cfg.Users, "users", cfg.Users, "users")
	fs.IntVar(&cfg.Windows, "windows", cfg.Windows, "child windows per user: each user gets 0..N besides the main window")
	fs.Float64Var(&cfg.ConnectRate, "connect-rate", cfg.ConnectRate, "connects per second during the ramp")
	fs.DurationVar(&cfg.Hold, "hold", cfg.Hold, "hold: how long connections stay open")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "fanout, churn, ipt: length of the driven phase")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "fanout: status changes/s; churn: actions/s; ipt: events/s")
	fs.IntVar(&cfg.Subs, "subs", cfg.Subs, "fanout: users each user subscribes to")
	fs.IntVar(&cfg.Bridges, "bridges", cfg.Bridges, "ipt: bridges (users are their devices)")
	fs.Float64Var(&cfg.Logout, "logout", cfg.Logout, "churn: fraction of actions that are logouts")
	fs.BoolVar(&cfg.HumanNotes, "human-notes", false, "fanout: notes people write (\"in a meeting\", …) instead of timing stamps; delivery latency is then not measured (make demo)")
	fs.DurationVar(&cfg.Grace, "grace", cfg.Grace, "the gateway's session grace (PGW_GRACE)")
	fs.DurationVar(&cfg.NodeTTL, "node-ttl", cfg.NodeTTL, "the gateway's PGW_NODE_TTL")
	fs.DurationVar(&cfg.Jitter, "jitter", cfg.Jitter, "storm: reconnects spread over this long")
	fs.DurationVar(&cfg.StormLimit, "storm-limit", cfg.StormLimit, "storm: stop reconnecting after this long")
	fs.DurationVar(&cfg.Drain, "drain", cfg.Drain, "fanout, ipt: wait for deliveries after the last send")
	fs.IntVar(&cfg.Procs, "procs", cfg.Procs, "worker processes (each ≤ ~19 000 sockets)")
	fs.IntVar(&cfg.SourceIPs, "source-ips", cfg.SourceIPs, "source addresses 127.0.0.x per worker (0: kernel's choice)")
	fs.StringVar(&cfg.RedisURL, "redis-url", cfg.RedisURL, "the gateways' Redis: enables the stale-key checks")
	fs.StringVar(&cfg.Prefix, "prefix", cfg.Prefix, "the gateways' PGW_PREFIX")
	fs.IntVar(&cfg.VerifyUsers, "verify-users", cfg.VerifyUsers, "users per worker whose presence is checked over HTTP")
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the random choices")
	fs.StringVar(&out.text, "text", "-", "text report file (- for stdout, empty for none)")
	fs.StringVar(&out.json, "json", "", "JSON report file")
	fs.StringVar(&out.html, "html", "", "HTML report file (self-contained)")
	fs.BoolVar(&out.progress, "progress", true, "show the live progress line on stderr")
	return fs
}

// applyEnv sets every flag not given on the command line from LOADTEST_*.
func applyEnv(fs *flag.FlagSet, given map[string]bool) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		env := "LOADTEST_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v, ok := os.LookupEnv(env)
		if !ok && f.Name == "secret" {
			v, ok = os.LookupEnv("PGW_JWT_SECRET")
		}
		if ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", env, e)
			}
		}
	})
	return err
}

// parse turns args into a config and outputs.
func parse(args []string, stderr io.Writer) (loadtest.Config, outputs, error) {
	cfg := loadtest.DefaultConfig()
	var out outputs
	fs := newFlags(&cfg, &out, stderr)
	if err := fs.Parse(args); err != nil {
		return cfg, out, err
	}
	if fs.NArg() > 0 {
		return cfg, out, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if err := applyEnv(fs, given); err != nil {
		return cfg, out, err
	}
	return cfg, out, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) int {
	cfg, out, err := parse(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitPass
		}
		fmt.Fprintln(stderr, err)
		return ExitError
	}
	opts := loadtest.Options{Log: log}
	var bar *progressbar.ProgressBar
	if out.progress {
		bar = progressbar.NewOptions64(-1, progressbar.OptionSetWriter(stderr), progressbar.OptionSpinnerType(14),
			progressbar.OptionSetElapsedTime(true), progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionSetDescription("["+cfg.Scenario+"] starting"))
		opts.OnProgress = func(p loadtest.Progress) {
			bar.Describe(fmt.Sprintf("[%s] %-9s open %6d  connects %6d  sent %7d  delivered %8d  errors %4d  p99 %6.2f ms",
				cfg.Scenario, p.Phase, p.Open, p.Connects, p.Sent, p.Delivered, p.Errors, p.P99ms))
			_ = bar.Set64(p.Connects)
		}
	}
	res, err := loadtest.Run(ctx, cfg, opts)
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(stderr)
	}
	if res == nil {
		fmt.Fprintln(stderr, err)
		return ExitError
	}
	if werr := writeReports(res, out, stdout); werr != nil {
		fmt.Fprintln(stderr, werr)
		return ExitError
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitError
	}
	if !res.Passed() {
		return ExitFail
	}
	return ExitPass
}

// writeReports writes every requested report.
func writeReports(res *loadtest.Result, out outputs, stdout io.Writer) error {
	write := func(path string, f func(io.Writer, *loadtest.Result) error) error {
		switch path {
		case "":
			return nil
		case "-":
			return f(stdout, res)
		}
		fh, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := f(fh, res); err != nil {
			fh.Close()
			return err
		}
		return fh.Close()
	}
	if err := write(out.text, report.WriteText); err != nil {
		return fmt.Errorf("text report: %w", err)
	}
	if err := write(out.json, report.WriteJSON); err != nil {
		return fmt.Errorf("json report: %w", err)
	}
	if err := write(out.html, report.WriteHTML); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	return nil
}

// cleanup deletes a run's keys: only under the given, non-default prefix.
func cleanup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cleanup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("redis-url", "redis://127.0.0.1:6379/0", "Redis URL")
	prefix := fs.String("prefix", "", "the run's unique PGW_PREFIX (never the default pgw)")
	if err := fs.Parse(args); err != nil {
		return ExitError
	}
	n, err := loadtest.DeletePrefix(ctx, *url, *prefix)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitError
	}
	fmt.Fprintf(stdout, "deleted %d keys under %s:\n", n, *prefix)
	return ExitPass
}
