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

// settings lists every setting. It is the one place a setting is declared:
// LoadConfig reads the flags and variables from it, `gateway serve -h` prints
// its usage, and the settings table of docs/operations.md is generated from
// it (internal/docgen; after adding one run `go generate ./internal/docgen`).
// A usage is plain text (no backquotes: package flag would take the first
// quoted word for the value's name); one whose default is empty says what
// empty means, as "empty: ...".
func (c *Config) settings() []setting {
	return []setting{
		{"PGW_ADDR", "listen address: WebSocket /v1/ws, HTTP API, /livez, /readyz, and /metrics unless PGW_ADMIN_ADDR is set", (*strVal)(&c.Addr)},
		{"PGW_ADMIN_ADDR", "admin listen address (e.g. 127.0.0.1:9090): /metrics and /debug/pprof/ are served there and no longer on PGW_ADDR (404); keep it off the public network; empty: none, /metrics on PGW_ADDR and no pprof", (*strVal)(&c.AdminAddr)},
		{"PGW_REDIS_URL", "redis://host:port/db (also rediss://), or several comma-separated host:port for Redis Cluster; required for more than one node; empty: in-process store (one node only)", (*strVal)(&c.RedisURL)},
		{"PGW_NATS_URL", "nats://host:port (or tls://, with user:password@ or token@ when the server wants them), comma-separated for a cluster; required for more than one node; empty: embedded NATS server, in-process only, no listener (one node only)", (*strVal)(&c.NATSURL)},
		{"PGW_NATS_USER", "user name for an external NATS; empty: none (or in PGW_NATS_URL)", (*strVal)(&c.NATSUser)},
		{"PGW_NATS_PASSWORD", "password of PGW_NATS_USER; empty: none", (*strVal)(&c.NATSPassword)},
		{"PGW_NATS_NKEY", "file holding the nkey seed (SU...) to authenticate to an external NATS with; empty: none", (*strVal)(&c.NATSNKey)},
		{"PGW_NATS_CREDS", "NATS credentials file (user JWT and seed, decentralised auth); empty: none", (*strVal)(&c.NATSCreds)},
		{"PGW_NATS_TLS_CA", "PEM file of the CA that signed the NATS server's certificate; empty: the system's roots (with tls://)", (*strVal)(&c.NATSTLSCA)},
		{"PGW_NATS_TLS_CERT", "PEM client certificate for mutual TLS with NATS (with PGW_NATS_TLS_KEY); empty: none", (*strVal)(&c.NATSTLSCert)},
		{"PGW_NATS_TLS_KEY", "PEM key of PGW_NATS_TLS_CERT; empty: none", (*strVal)(&c.NATSTLSKey)},
		{"PGW_CLUSTER_SECRET", "the secret every node signs its NATS messages with (HMAC-SHA256); messages not signed with it are dropped; the same on every node; empty: derived from PGW_JWT_SECRET, else random with the embedded NATS (an external NATS then refuses to start)", (*strVal)(&c.ClusterSecret)},
		{"PGW_JWT_SECRET", "HS256 secret (use 32+ random bytes); empty: a random one, and a dev token is logged", (*strVal)(&c.JWTSecret)},
		{"PGW_JWT_KEYS", "PEM or JWKS file of public keys (RS256/ES256/EdDSA) chosen by kid; empty: none", (*strVal)(&c.JWTKeys)},
		{"PGW_JWT_AUDIENCE", "required token audience (aud); empty: not checked", (*strVal)(&c.JWTAudience)},
		{"PGW_JWT_ISSUER", "required token issuer (iss); empty: not checked", (*strVal)(&c.JWTIssuer)},
		{"PGW_JWT_ALGORITHMS", "comma-separated pinned algorithms (HS256, RS256, ES256, EdDSA); empty: HS256 with a secret, plus the algorithms of the configured keys", (*listVal)(&c.JWTAlgorithms)},
		{"PGW_JWT_LEEWAY", "clock skew allowed on exp, nbf and iat", (*durVal)(&c.JWTLeeway)},
		{"PGW_NODE_ID", "the node's id (in welcome, Redis, NATS); keep it stable per host; empty: host name + random suffix", (*strVal)(&c.NodeID)},
		{"PGW_GRACE", "a session outlives its last connection this long (reload, window switch, network blip)", (*durVal)(&c.Grace)},
		{"PGW_NODE_TTL", "a node that missed heartbeats (every TTL/4) this long is dead; its connections are removed by the reaper, which every node runs every TTL/8 (at most 1s)", (*durVal)(&c.NodeTTL)},
		{"PGW_ALLOWED_ORIGINS", "comma-separated browser origins allowed (file://, app://name, https://host, null); * allows any but null (which must be listed itself); requests without an Origin header pass unless a login cookie authenticates them; an empty Origin header is refused; empty: only the gateway's own origin", (*listVal)(&c.AllowedOrigins)},
		{"PGW_PUBLIC_URL", "the URL browsers reach the gateway at (e.g. https://pgw.example.com behind nginx): its origin is the gateway's own, always allowed, never taken from the request's Host; set it whenever browsers do not use PGW_ADDR itself; empty: http:// + PGW_ADDR", (*strVal)(&c.PublicURL)},
		{"PGW_PREFIX", "Redis key and NATS subject prefix (one deployment per prefix)", (*strVal)(&c.Prefix)},
		{"PGW_LOG_FORMAT", "text or json", (*strVal)(&c.LogFormat)},
		{"PGW_LOG_LEVEL", "debug, info, warn or error", (*strVal)(&c.LogLevel)},
		{"PGW_DRAIN", "a shutdown spreads its 1001 closes over this long", (*durVal)(&c.Drain)},
		{"PGW_BRIDGE_TTL", "an HTTP-only bridge counts as connected while it posts this often", (*durVal)(&c.BridgeTTL)},
		{"PGW_VERSION_TTL", "an offline user keeps the version of its offline change this long (GET, query, subscribe answer offline with it), then is forgotten (version 0)", (*durVal)(&c.VersionTTL)},
		{"PGW_HEARTBEAT", "WebSocket ping period", (*durVal)(&c.Heartbeat)},
		{"PGW_PONG_WAIT", "a connection silent this long is closed (must be above PGW_HEARTBEAT; keep the load balancer's read timeout above it)", (*durVal)(&c.PongWait)},
		{"PGW_HELLO_WAIT", "time a new connection has to send hello (else 4408)", (*durVal)(&c.HelloWait)},
		{"PGW_READER", "how idle connections wait for their next frame: epoll (one poller per node, no goroutine per idle connection; Linux, plain TCP, else goroutine) or goroutine (one parked reader goroutine per connection, more memory)", (*strVal)(&c.Reader)},
		{"PGW_MAX_FRAME", "inbound frame limit in bytes (else 1009)", (*int64Val)(&c.MaxFrame)},
		{"PGW_RATE_LIMIT", "frames per second per connection; the same budget bounds one user's writes (frames and HTTP requests that reach the store) over all its connections on one node, and HTTP requests per principal", (*floatVal)(&c.RateLimit)},
		{"PGW_RATE_BURST", "frame burst per connection (and of the budgets of PGW_RATE_LIMIT)", (*intVal)(&c.RateBurst)},
		{"PGW_RATE_SUSTAIN", "a connection whose frames keep being dropped this long, with no quiet second in between, is closed 4429", (*durVal)(&c.RateSustain)},
		{"PGW_RESYNC_EVERY", "anti-entropy: every user this node's connections watch is re-read from the store this often and a change older than a quarter of it that the node has not shown is delivered, so a lost NATS message or a lost store reply never leaves a subscriber stuck longer than 1¼ times this (a younger change is left to its bus message, which may still be queued; its age is read from its version, the changing node's clock, so a change found unshown and unchanged two rounds in a row is delivered whatever it says: at most 2 times this when clocks disagree); 0: off (only NATS reconnects resync)", (*durVal)(&c.ResyncEvery)},
		{"PGW_OUTBOUND_QUEUE", "frames queued for a slow client before 1008 slow_consumer", (*intVal)(&c.OutboundQueue)},
		{"PGW_MAX_SUBSCRIPTIONS", "users one connection may watch", (*intVal)(&c.MaxSubscriptions)},
		{"PGW_MAX_CONNS_PER_USER", "connections per user over all nodes", (*intVal)(&c.MaxConnsPerUser)},
		{"PGW_MAX_BATCH", "users in one subscribe or query", (*intVal)(&c.MaxBatch)},
		{"PGW_MAX_BODY", "HTTP request body limit in bytes", (*int64Val)(&c.MaxBody)},
		{"PGW_REQUEST_TIMEOUT", "one HTTP request's headers (at most 10s of it) and body must arrive within this, else the connection is closed (408 request_timeout when an answer can still be written); upgraded WebSockets are not affected", (*durVal)(&c.RequestTimeout)},
		{"PGW_MAX_HTTP_CONNS_PER_IP", "open HTTP connections per client address; more are answered 429 too_many_requests and closed; WebSockets leave the count once upgraded; behind nginx every client has nginx's address: raise it and cap per client in nginx (limit_conn)", (*intVal)(&c.MaxHTTPConnsPerIP)},
		{"PGW_EXPIRING_NOTICE", "how long before exp the expiring frame is sent", (*durVal)(&c.ExpiringNotice)},
		{"PGW_TENANTS", "per-tenant policy file (YAML or JSON, docs/tenants.md) loaded at start for tenants with no stored policy; empty: none", (*strVal)(&c.TenantsFile)},
		{"PGW_LOGIN_KEY", "web-app login sessions kept in Redis (docs/login-sessions.md): the session hash key with {id} where the id goes, e.g. spring:session:sessions:{id}; empty: login sessions off", (*strVal)(&c.LoginKey)},
		{"PGW_LOGIN_REDIS_URL", "the app's session Redis, in the format of PGW_REDIS_URL (its own client when it differs); empty: PGW_REDIS_URL", (*strVal)(&c.LoginRedisURL)},
		{"PGW_LOGIN_COOKIE", "the cookie holding the login session id (upgrade and HTTP API)", (*strVal)(&c.LoginCookie)},
		{"PGW_LOGIN_COOKIE_BASE64", "the login cookie's value is base64 of the session id, as Spring Session writes it", (*boolVal)(&c.LoginCookieBase64)},
		{"PGW_LOGIN_USER_FIELD", "the session hash field holding the user id", (*strVal)(&c.LoginUserField)},
		{"PGW_LOGIN_TENANT_FIELD", "the session hash field holding the tenant id", (*strVal)(&c.LoginTenantField)},
		{"PGW_LOGIN_ROLES_FIELD", "the session hash field holding the roles (absent: user)", (*strVal)(&c.LoginRolesField)},
		{"PGW_LOGIN_CHECK", "live login sessions are re-read this often (one HMGET per session); a logout in the app closes their connections within it", (*durVal)(&c.LoginCheck)},
	}
}

// SettingDoc is one setting as documented: its variable, flag, default as
// the flag prints it ("" when empty) and usage.
type SettingDoc struct {
	Env, Flag, Default, Usage string
}

// Settings lists every setting with DefaultConfig's values, in declaration
// order, for generated documentation (internal/docgen).
func Settings() []SettingDoc {
	c := DefaultConfig()
	var out []SettingDoc
	for _, s := range c.settings() {
		out = append(out, SettingDoc{Env: s.env, Flag: s.flagName(), Default: s.val.String(), Usage: s.usage})
	}
	return out
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

// String drops the zero units Duration.String adds ("1m0s" is "1m",
// "168h0m0s" is "168h"), so -h and the docs print what one would write.
func (v *durVal) String() string {
	out := time.Duration(*v).String()
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}
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

type boolVal bool

func (v *boolVal) String() string { return strconv.FormatBool(bool(*v)) }
func (v *boolVal) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("not true or false")
	}
	*v = boolVal(b)
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
