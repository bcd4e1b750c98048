package loadtest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pgw/pgw/wire"
	"github.com/redis/go-redis/v9"
)

// verifier holds the coordinator's correctness checks, run at barriers:
// before the verify phase, the gateway's `:conn:` keys must match the open
// connections; after the teardown, none may remain and users must be offline.
type verifier struct {
	cfg Config
	log *slog.Logger
	rdb *redis.Client // nil without Cfg.RedisURL
	smp *sampler

	// atVerify is the growth of the nodes' counters from the run's start to
	// the verify barrier: the harness's own checker connections come after
	// it, so it compares exactly with the clients' counts.
	atVerify map[string]float64

	mu     sync.Mutex
	checks []Check
}

func newVerifier(cfg Config, smp *sampler, log *slog.Logger) *verifier {
	v := &verifier{cfg: cfg, smp: smp, log: log}
	if cfg.RedisURL != "" {
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			v.add(Check{Name: "redis", Target: "reachable", Actual: err.Error(), Status: Miss})
		} else {
			v.rdb = redis.NewClient(opt)
		}
	}
	return v
}

// Close releases the Redis client.
func (v *verifier) Close() {
	if v.rdb != nil {
		_ = v.rdb.Close()
	}
}

func (v *verifier) add(c Check) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.checks = append(v.checks, c)
}

// AtVerify returns the nodes' counter growth up to the verify barrier.
func (v *verifier) AtVerify() map[string]float64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.atVerify
}

// Checks returns the verdicts so far.
func (v *verifier) Checks() []Check {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]Check(nil), v.checks...)
}

// settle is how long the gateway may take to clean up: the grace, the
// dead-node detection and a margin.
func (v *verifier) settle() time.Duration { return v.cfg.Grace + v.cfg.NodeTTL + 5*time.Second }

// atPhase is the hub's hook: it runs when every worker reached phase.
func (v *verifier) atPhase(ctx context.Context, phase string, open int64) {
	switch phase {
	case PhaseVerify:
		v.checkServerConns(ctx, open)
		v.smp.scrapeAll(ctx)
		var growth map[string]float64
		for _, n := range v.smp.series() {
			if n.First != nil && n.Last != nil {
				growth = addGrowth(growth, n.First, n.Last, MetricConnects, MetricDisconnects, MetricDelivered)
			}
		}
		v.mu.Lock()
		v.atVerify = growth
		v.mu.Unlock()
		if v.rdb == nil {
			return
		}
		n, err := v.pollKeys(ctx, v.settle(), func(n int) bool { return int64(n) == open })
		v.add(keyCheck("conn keys match open connections", fmt.Sprintf("%d keys (one per open connection)", open), n, err, int64(n) == open))
	case PhaseDone:
		if v.rdb != nil {
			n, err := v.pollKeys(ctx, v.settle(), func(n int) bool { return n == 0 })
			v.add(keyCheck("no stale conn keys", "0 keys after the grace", n, err, n == 0))
		}
		v.checkOffline(ctx)
	}
}

// checkServerConns compares the nodes' pgw_connections with the clients'
// open connections at a quiet moment (every worker waits at the barrier).
func (v *verifier) checkServerConns(ctx context.Context, open int64) {
	hc := &http.Client{Timeout: 2 * time.Second}
	c := Check{Name: "gateway counts the open connections", Target: fmt.Sprintf("sum of %s = %d (client side)", MetricConnections, open), Status: Pass}
	deadline := time.Now().Add(5 * time.Second)
	for {
		total, missing := 0.0, ""
		for _, t := range v.cfg.Targets {
			m, err := Scrape(ctx, hc, t)
			if err != nil {
				missing = err.Error()
				break
			}
			n, ok := m.Sum(MetricConnections)
			if !ok {
				missing = t + " exports no " + MetricConnections
				break
			}
			total += n
		}
		if missing != "" {
			c.Status, c.Actual = NA, missing
			break
		}
		c.Actual = fmt.Sprintf("%.0f", total)
		if int64(total) == open {
			break
		}
		if time.Now().After(deadline) || sleep(ctx, 200*time.Millisecond) != nil {
			c.Status = Miss
			break
		}
	}
	v.add(c)
}

func keyCheck(name, target string, n int, err error, ok bool) Check {
	c := Check{Name: name, Target: target, Actual: fmt.Sprintf("%d keys", n), Status: Pass}
	if err != nil {
		c.Actual, c.Status = err.Error(), Miss
	} else if !ok {
		c.Status = Miss
	}
	return c
}

// CountConnKeys counts the connection keys of tenant under prefix.
func CountConnKeys(ctx context.Context, rdb *redis.Client, prefix, tenant string) (int, error) {
	var cursor uint64
	n := 0
	tag := "{" + tenant + ":"
	for {
		keys, next, err := rdb.Scan(ctx, cursor, prefix+":*conn:*", 1000).Result()
		if err != nil {
			return n, fmt.Errorf("scan %s:*conn:*: %w", prefix, err)
		}
		for _, k := range keys {
			if strings.Contains(k, ":conn:") && strings.Contains(k, tag) {
				n++
			}
		}
		if cursor = next; cursor == 0 {
			return n, nil
		}
	}
}

// pollKeys counts until ok says the count is right or within passes.
func (v *verifier) pollKeys(ctx context.Context, within time.Duration, ok func(int) bool) (int, error) {
	deadline := time.Now().Add(within)
	for {
		n, err := CountConnKeys(ctx, v.rdb, v.cfg.Prefix, v.cfg.Tenant)
		if err == nil && ok(n) {
			return n, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return n, err
		}
		if sleep(ctx, 200*time.Millisecond) != nil {
			return n, ctx.Err()
		}
	}
}

// checkOffline reads up to 1000 users' presence (spread over all users)
// until every one is offline or the cleanup window passes. With
// --verify-users 0 no presence is checked, this neither (make demo; a
// reference server such as internal/barefanout keeps no presence).
func (v *verifier) checkOffline(ctx context.Context) {
	if v.cfg.VerifyUsers == 0 {
		return
	}
	step := max(1, v.cfg.Users/1000)
	var users []string
	for i := 0; i < v.cfg.Users; i += step {
		users = append(users, v.cfg.UserID(i))
	}
	c := Check{Name: "users offline after the run", Target: fmt.Sprintf("%d sampled users offline, 0 sessions", len(users)), Status: Pass}
	pr, err := openPresenceReader(ctx, newConnector(newSourcePool(0, 0)), v.cfg, v.cfg.Targets[0], v.cfg.UserPrefix+"chkc")
	if err != nil {
		c.Actual, c.Status = err.Error(), Miss
		v.add(c)
		return
	}
	defer pr.Close()
	wrong := pr.converge(ctx, users, v.settle(), func(_ string, p wire.Presence, ok bool) string {
		switch {
		case !ok:
			return "missing from the subscribe reply"
		case p.Status != wire.Offline || p.Sessions != 0:
			return fmt.Sprintf("%s with %d sessions", p.Status, p.Sessions)
		}
		return ""
	})
	c.Actual = fmt.Sprintf("%d of %d offline", len(users)-len(wrong), len(users))
	if len(wrong) > 0 {
		c.Status = Miss
		for _, u := range users {
			if why, bad := wrong[u]; bad {
				c.Actual += fmt.Sprintf(" (first: %s %s)", u, why)
				break
			}
		}
	}
	v.add(c)
}

// DeletePrefix deletes every key under prefix (SCAN + UNLINK): the bench
// script's cleanup of its own run. It refuses the default prefix and empty
// prefixes, so it can never wipe a shared deployment's keys.
func DeletePrefix(ctx context.Context, redisURL, prefix string) (int, error) {
	if prefix == "" || prefix == "pgw" || strings.ContainsAny(prefix, "*?[]") {
		return 0, fmt.Errorf("%w: refusing to delete keys under prefix %q (use a run-unique prefix)", ErrConfig, prefix)
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return 0, fmt.Errorf("%w: redis-url: %w", ErrConfig, err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	var cursor uint64
	n := 0
	for {
		keys, next, err := rdb.Scan(ctx, cursor, prefix+":*", 1000).Result()
		if err != nil {
			return n, fmt.Errorf("scan %s:*: %w", prefix, err)
		}
		if len(keys) > 0 {
			if err := rdb.Unlink(ctx, keys...).Err(); err != nil {
				return n, fmt.Errorf("unlink: %w", err)
			}
			n += len(keys)
		}
		if cursor = next; cursor == 0 {
			return n, nil
		}
	}
}
