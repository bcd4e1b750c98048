package loadtest

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/pgw/pgw/wire"
)

// Scenario names.
const (
	ScenarioHold   = "hold"
	ScenarioFanout = "fanout"
	ScenarioChurn  = "churn"
	ScenarioStorm  = "storm"
	ScenarioIPT    = "ipt"
)

// Scenarios lists every scenario name, in the order the docs describe them.
var Scenarios = []string{ScenarioHold, ScenarioFanout, ScenarioChurn, ScenarioStorm, ScenarioIPT}

// Config is one run. It is passed as JSON to worker processes, so every
// field a worker needs is exported and plain.
type Config struct {
	Scenario string   `json:"scenario"`
	Label    string   `json:"label,omitempty"` // a name for the run in reports (default: the scenario)
	Targets  []string `json:"targets"`         // gateway base URLs (http://host:port); connections go round-robin
	Secret   string   `json:"-"`               // HS256 secret; sent to workers separately, never written to reports
	Tenant   string   `json:"tenant"`
	// UserPrefix names users UserPrefix0 … UserPrefix(Users-1).
	UserPrefix string `json:"user_prefix"`
	RunID      string `json:"run_id"` // makes session ids unique per run

	Users       int           `json:"users"`
	Windows     int           `json:"windows"`      // each user has a main window and 0..Windows child windows
	ConnectRate float64       `json:"connect_rate"` // connects per second, all workers together
	Hold        time.Duration `json:"hold"`         // hold: how long to keep every connection open
	Duration    time.Duration `json:"duration"`     // fanout, churn, ipt: length of the driven phase
	Rate        float64       `json:"rate"`         // fanout: status changes/s; churn: actions/s; ipt: events/s
	Subs        int           `json:"subs"`         // fanout: users each user subscribes to
	Bridges     int           `json:"bridges"`      // ipt: bridges; users are spread over them as devices
	Logout      float64       `json:"logout"`       // churn: fraction of actions that are logouts
	HumanNotes  bool          `json:"human_notes"`  // fanout: notes people write instead of timing stamps (make demo); no delivery latency then
	Grace       time.Duration `json:"grace"`        // the gateway's session grace (PGW_GRACE)
	NodeTTL     time.Duration `json:"node_ttl"`     // the gateway's PGW_NODE_TTL (how long cleanup may take)
	Jitter      time.Duration `json:"jitter"`       // storm: reconnects spread over [0, Jitter)
	StormLimit  time.Duration `json:"storm_limit"`  // storm: give up on reconnecting after this long
	Drain       time.Duration `json:"drain"`        // fanout, ipt: wait for deliveries after the last send

	Procs       int    `json:"procs"`        // worker processes (1: in-process)
	SourceIPs   int    `json:"source_ips"`   // 127.0.0.2 … per worker; 0: let the kernel pick 127.0.0.1
	RedisURL    string `json:"redis_url"`    // enables the stale-key check
	Prefix      string `json:"prefix"`       // the gateway's PGW_PREFIX
	VerifyUsers int    `json:"verify_users"` // users whose presence is checked over HTTP, per worker
	Seed        int64  `json:"seed"`
}

// MaxConnsPerWorker keeps one worker's sockets under the usual 20 000
// open-file hard limit, with room for its other descriptors.
const MaxConnsPerWorker = 19000

// DefaultConfig returns a small run that finishes in seconds.
func DefaultConfig() Config {
	return Config{
		Scenario:    ScenarioHold,
		Tenant:      "lt",
		UserPrefix:  "u",
		Users:       100,
		Windows:     2,
		ConnectRate: 500,
		Hold:        5 * time.Second,
		Duration:    10 * time.Second,
		Rate:        100,
		Subs:        10,
		Bridges:     2,
		Logout:      0.1,
		Grace:       5 * time.Second,
		NodeTTL:     8 * time.Second,
		Jitter:      2 * time.Second,
		StormLimit:  60 * time.Second,
		Drain:       3 * time.Second,
		Procs:       1,
		SourceIPs:   4,
		Prefix:      "pgw",
		VerifyUsers: 2000,
		Seed:        1,
	}
}

// Validate reports the first field that makes the run impossible, naming it.
func (c *Config) Validate() error {
	bad := func(field, format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, a...))
	}
	known := false
	for _, s := range Scenarios {
		known = known || s == c.Scenario
	}
	switch {
	case !known:
		return bad("scenario", "%q is not one of %s", c.Scenario, strings.Join(Scenarios, ", "))
	case len(c.Targets) == 0:
		return bad("targets", "at least one gateway URL is required")
	case c.Secret == "":
		return bad("secret", "the gateway's HS256 secret is required")
	case !wire.ValidID(c.Tenant):
		return bad("tenant", "%q is not a valid id", c.Tenant)
	case !wire.ValidID(c.UserPrefix + "0"):
		return bad("user-prefix", "%q does not make valid user ids", c.UserPrefix)
	case c.RunID != "" && !wire.ValidID(c.RunID):
		return bad("run-id", "%q is not a valid id", c.RunID)
	case c.Users < 1:
		return bad("users", "must be at least 1, got %d", c.Users)
	case c.Windows < 0 || c.Windows > 30:
		return bad("windows", "must be 0..30 (32 connections per user at most), got %d", c.Windows)
	case c.ConnectRate <= 0:
		return bad("connect-rate", "must be positive, got %v", c.ConnectRate)
	case c.Procs < 1 || c.Procs > 64:
		return bad("procs", "must be 1..64, got %d", c.Procs)
	case c.Procs > c.Users:
		return bad("procs", "%d workers for %d users", c.Procs, c.Users)
	case c.SourceIPs < 0 || 2+c.Procs*c.SourceIPs > 255:
		return bad("source-ips", "%d per worker does not fit in 127.0.0.2-254", c.SourceIPs)
	case c.Grace < 0:
		return bad("grace", "must not be negative")
	}
	if per := c.TotalConnections() / c.Procs; per > MaxConnsPerWorker {
		return bad("procs", "%d connections per worker process is over %d (one file descriptor each); raise --procs", per, MaxConnsPerWorker)
	}
	for i, t := range c.Targets {
		u, err := url.Parse(t)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad(fmt.Sprintf("targets[%d]", i), "%q is not an http(s)://host:port URL", t)
		}
	}
	switch c.Scenario {
	case ScenarioFanout:
		if c.Subs < 1 || c.Subs >= c.Users {
			return bad("subs", "must be 1..users-1, got %d for %d users", c.Subs, c.Users)
		}
		if c.Rate <= 0 || c.Duration <= 0 {
			return bad("rate", "fanout needs a positive rate and duration")
		}
		if perUser := c.Rate / float64(c.Users); perUser > 20 {
			return bad("rate", "%.1f changes/s per user would hit the gateway's frame rate limit; add users", perUser)
		}
	case ScenarioChurn:
		if c.Logout < 0 || c.Logout > 1 {
			return bad("logout", "must be a fraction 0..1, got %v", c.Logout)
		}
		if c.Rate <= 0 || c.Duration <= 0 {
			return bad("rate", "churn needs a positive rate and duration")
		}
	case ScenarioIPT:
		if c.Bridges < 1 || c.Bridges > c.Users {
			return bad("bridges", "must be 1..users, got %d", c.Bridges)
		}
		if c.Bridges < c.Procs {
			return bad("bridges", "need at least one bridge per worker (%d < %d)", c.Bridges, c.Procs)
		}
		if c.Rate <= 0 || c.Duration <= 0 {
			return bad("rate", "ipt needs a positive rate and duration")
		}
		if perBridge := c.Rate / float64(c.Bridges); perBridge > 40 {
			return bad("rate", "%.1f events/s per bridge would hit the gateway's frame rate limit (50/s); add bridges", perBridge)
		}
	case ScenarioStorm:
		if c.Jitter < 0 || c.StormLimit <= 0 {
			return bad("jitter", "storm needs jitter ≥ 0 and a positive storm-limit")
		}
	}
	return nil
}

// Name is the run's label, or its scenario.
func (c *Config) Name() string {
	if c.Label != "" {
		return c.Label
	}
	return c.Scenario
}

// UserID is the id of user i.
func (c *Config) UserID(i int) string { return fmt.Sprintf("%s%d", c.UserPrefix, i) }

// SessionID is the id of user i's session of generation gen (a new session
// after a logout or a restart outside the grace).
func (c *Config) SessionID(i, gen int) string {
	return fmt.Sprintf("%s-%s%d-%d", c.RunID, c.UserPrefix, i, gen)
}

// ChildWindows is how many child windows user i opens: 0..Windows, fixed by
// the seed so every worker and the coordinator agree on the total.
func (c *Config) ChildWindows(i int) int {
	if c.Windows == 0 {
		return 0
	}
	return int(mix(uint64(c.Seed)^uint64(i)*0x9e3779b97f4a7c15) % uint64(c.Windows+1))
}

// TotalConnections is how many user connections the run opens at its peak
// (windows included; ipt bridges and churn observers not counted).
func (c *Config) TotalConnections() int {
	if c.Scenario == ScenarioFanout || c.Scenario == ScenarioIPT {
		return c.Users
	}
	n := 0
	for i := 0; i < c.Users; i++ {
		n += 1 + c.ChildWindows(i)
	}
	return n
}

// Share returns the half-open range of users worker w of procs owns.
func Share(users, w, procs int) (lo, hi int) {
	return users * w / procs, users * (w + 1) / procs
}

// mix is splitmix64's finaliser: a cheap, well-spread hash for deterministic
// per-user choices.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
