package gateway

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// setting binds one Config field to its flag and environment variable: the
// flag is the variable's name without PGW_, lower case, '_' → '-'
// (PGW_REDIS_URL = --redis-url).
type setting struct {
	env   string
	usage string
	val   flag.Value
}

func (s setting) flagName() string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(s.env, "PGW_")), "_", "-")
}

func (c *Config) settings() []setting {
	return []setting{
		{"PGW_ADDR", "listen address (WebSocket, HTTP API, health, metrics)", (*strVal)(&c.Addr)},
		{"PGW_REDIS_URL", "redis://host:port/db, or comma-separated host:port for Redis Cluster; empty: in-process store", (*strVal)(&c.RedisURL)},
		{"PGW_NATS_URL", "nats://host:port, comma-separated for a cluster; empty: embedded NATS server", (*strVal)(&c.NATSURL)},
		{"PGW_JWT_SECRET", "HS256 secret; empty: a random one, and a dev token is logged", (*strVal)(&c.JWTSecret)},
		{"PGW_JWT_KEYS", "PEM or JWKS file of public keys (RS256/ES256/EdDSA) chosen by kid", (*strVal)(&c.JWTKeys)},
		{"PGW_JWT_AUDIENCE", "required token audience; empty: not checked", (*strVal)(&c.JWTAudience)},
		{"PGW_JWT_ISSUER", "required token issuer; empty: not checked", (*strVal)(&c.JWTIssuer)},
		{"PGW_JWT_ALGORITHMS", "comma-separated accepted algorithms (HS256, RS256, ES256, EdDSA); empty: those of the configured keys", (*listVal)(&c.JWTAlgorithms)},
		{"PGW_JWT_LEEWAY", "clock skew allowed on exp, nbf and iat", (*durVal)(&c.JWTLeeway)},
		{"PGW_NODE_ID", "node id; empty: host name + random suffix", (*strVal)(&c.NodeID)},
		{"PGW_GRACE", "session grace after its last connection closed", (*durVal)(&c.Grace)},
		{"PGW_NODE_TTL", "a node missing its heartbeat this long is dead", (*durVal)(&c.NodeTTL)},
		{"PGW_ALLOWED_ORIGINS", "comma-separated browser origins allowed (file://, app://x, https://h, null); * allows any but null", (*listVal)(&c.AllowedOrigins)},
		{"PGW_PUBLIC_URL", "the URL browsers reach the gateway at: its origin is the gateway's own; empty: http:// + PGW_ADDR", (*strVal)(&c.PublicURL)},
		{"PGW_PREFIX", "Redis key and NATS subject prefix", (*strVal)(&c.Prefix)},
		{"PGW_LOG_FORMAT", "text or json", (*strVal)(&c.LogFormat)},
		{"PGW_LOG_LEVEL", "debug, info, warn or error", (*strVal)(&c.LogLevel)},
		{"PGW_DRAIN", "how long a shutdown spreads its 1001 closes", (*durVal)(&c.Drain)},
		{"PGW_BRIDGE_TTL", "an HTTP-only bridge is connected while it posts this often", (*durVal)(&c.BridgeTTL)},
		{"PGW_VERSION_TTL", "an offline user keeps the version of its offline change this long", (*durVal)(&c.VersionTTL)},
		{"PGW_HEARTBEAT", "WebSocket ping period", (*durVal)(&c.Heartbeat)},
		{"PGW_PONG_WAIT", "close a connection silent this long", (*durVal)(&c.PongWait)},
		{"PGW_HELLO_WAIT", "time a new connection has to send hello", (*durVal)(&c.HelloWait)},
		{"PGW_MAX_FRAME", "inbound frame limit in bytes", (*int64Val)(&c.MaxFrame)},
		{"PGW_RATE_LIMIT", "frames per second per connection", (*floatVal)(&c.RateLimit)},
		{"PGW_RATE_BURST", "frame burst per connection", (*intVal)(&c.RateBurst)},
		{"PGW_RATE_SUSTAIN", "close a connection 4429 whose frames are dropped this long without a quiet second", (*durVal)(&c.RateSustain)},
		{"PGW_OUTBOUND_QUEUE", "frames queued for a slow client before 1008 slow_consumer", (*intVal)(&c.OutboundQueue)},
		{"PGW_MAX_SUBSCRIPTIONS", "users one connection may watch", (*intVal)(&c.MaxSubscriptions)},
		{"PGW_MAX_CONNS_PER_USER", "connections per user over all nodes", (*intVal)(&c.MaxConnsPerUser)},
		{"PGW_MAX_BATCH", "users in one subscribe or query", (*intVal)(&c.MaxBatch)},
		{"PGW_MAX_BODY", "HTTP request body limit in bytes", (*int64Val)(&c.MaxBody)},
		{"PGW_EXPIRING_NOTICE", "how long before exp the expiring frame is sent", (*durVal)(&c.ExpiringNotice)},
	}
}

// LoadConfig builds a Config from the defaults, then the PGW_* variables
// (getenv), then the flags in args (flags win), and validates it. It returns
// the arguments left after the flags. Errors name the flag or variable.
func LoadConfig(name string, args []string, getenv func(string) string, usage io.Writer) (Config, []string, error) {
	c := DefaultConfig()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(usage)
	for _, s := range c.settings() {
		if v := getenv(s.env); v != "" {
			if err := s.val.Set(v); err != nil {
				return c, nil, fmt.Errorf("%s=%q: %v", s.env, v, err)
			}
		}
		fs.Var(s.val, s.flagName(), s.usage+" ("+s.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return c, nil, err
	}
	if err := c.Validate(); err != nil {
		return c, nil, err
	}
	return c, fs.Args(), nil
}

type strVal string

func (v *strVal) String() string     { return string(*v) }
func (v *strVal) Set(s string) error { *v = strVal(s); return nil }

type durVal time.Duration

func (v *durVal) String() string { return time.Duration(*v).String() }
func (v *durVal) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("not a duration such as 5s or 250ms")
	}
	*v = durVal(d)
	return nil
}

type intVal int

func (v *intVal) String() string { return strconv.Itoa(int(*v)) }
func (v *intVal) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("not a whole number")
	}
	*v = intVal(n)
	return nil
}

type int64Val int64

func (v *int64Val) String() string { return strconv.FormatInt(int64(*v), 10) }
func (v *int64Val) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not a whole number")
	}
	*v = int64Val(n)
	return nil
}

type floatVal float64

func (v *floatVal) String() string { return strconv.FormatFloat(float64(*v), 'g', -1, 64) }
func (v *floatVal) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number")
	}
	*v = floatVal(f)
	return nil
}

type listVal []string

func (v *listVal) String() string { return strings.Join(*v, ",") }
func (v *listVal) Set(s string) error {
	*v = nil
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*v = append(*v, p)
		}
	}
	return nil
}
